//! Instructions to an agent (pull model): issued by an operator, delivered
//! once when the agent polls, reported on, finished, or timed out.
//!
//! The API and the log call them commands (`/commands`, stream `command-<id>`,
//! events `Command*`), names that clients and stored events already carry; in
//! the code "command" means only what an aggregate decides on, so the
//! aggregate is `Instruction`.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::aggregate::Aggregate;
use crate::error::DomainError;
use crate::ids::{AgentId, TenantId};

pub const MAX_TIMEOUT_SECONDS: u32 = 24 * 3600;
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstructionStatus {
    #[default]
    Issued,
    Delivered,
    Succeeded,
    Failed,
    TimedOut,
}

impl InstructionStatus {
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::TimedOut)
    }
}

crate::names::snake_case_names!(InstructionStatus {
    Issued => "issued",
    Delivered => "delivered",
    Succeeded => "succeeded",
    Failed => "failed",
    TimedOut => "timed_out",
});

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputStream {
    Stdout,
    Stderr,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Instruction {
    pub exists: bool,
    pub tenant_id: TenantId,
    pub agent_id: AgentId,
    pub status: InstructionStatus,
    pub deadline: Option<DateTime<Utc>>,
    /// Sequence number the next output chunk gets.
    pub next_chunk: u64,
}

#[derive(Debug, Clone)]
pub enum InstructionCommand {
    Issue {
        tenant_id: TenantId,
        agent_id: AgentId,
        command: String,
        args: Value,
        timeout_seconds: u32,
        template_id: Option<Uuid>,
        at: DateTime<Utc>,
    },
    Deliver,
    AppendOutput {
        agent_id: AgentId,
        stream: OutputStream,
        chunk: String,
    },
    Finish {
        agent_id: AgentId,
        success: bool,
        exit_code: Option<i32>,
        output: Option<String>,
    },
    TimeOut {
        at: DateTime<Utc>,
    },
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames, strum::EnumDiscriminants,
)]
#[strum_discriminants(
    name(InstructionEventType),
    derive(Hash, strum::IntoStaticStr, strum::VariantArray),
    strum(const_into_str)
)]
#[serde(tag = "type", content = "data")]
pub enum InstructionEvent {
    CommandIssued {
        tenant_id: TenantId,
        agent_id: AgentId,
        command: String,
        args: Value,
        timeout_seconds: u32,
        template_id: Option<Uuid>,
        deadline: DateTime<Utc>,
    },
    CommandDelivered,
    CommandOutputAppended {
        stream: OutputStream,
        chunk: String,
        seq: u64,
    },
    CommandFinished {
        success: bool,
        exit_code: Option<i32>,
        output: Option<String>,
    },
    CommandTimedOut,
}

impl Instruction {
    fn require(
        &self,
        action: &'static str,
        allowed: &[InstructionStatus],
    ) -> Result<(), DomainError> {
        if !self.exists {
            return Err(DomainError::NotFound("command"));
        }
        if allowed.contains(&self.status) {
            Ok(())
        } else {
            Err(DomainError::InvalidTransition {
                entity: "command",
                action,
                state: self.status.to_string(),
            })
        }
    }

    fn require_target(&self, agent_id: AgentId) -> Result<(), DomainError> {
        if self.agent_id == agent_id {
            Ok(())
        } else {
            Err(DomainError::NotFound("command"))
        }
    }
}

pub fn validate_command(
    command: &str,
    args: &Value,
    timeout_seconds: u32,
) -> Result<(), DomainError> {
    if command.trim().is_empty() || command.len() > 200 {
        return Err(DomainError::invalid("command must be 1 to 200 characters"));
    }
    if args.to_string().len() > MAX_OUTPUT_BYTES {
        return Err(DomainError::invalid(format!(
            "args exceed {MAX_OUTPUT_BYTES} bytes"
        )));
    }
    if !(1..=MAX_TIMEOUT_SECONDS).contains(&timeout_seconds) {
        return Err(DomainError::invalid(format!(
            "timeout_seconds must be 1 to {MAX_TIMEOUT_SECONDS}"
        )));
    }
    Ok(())
}

impl Aggregate for Instruction {
    type Command = InstructionCommand;
    type Event = InstructionEvent;
    type Id = uuid::Uuid;
    const STREAM_PREFIX: &'static str = "command";
    const ENTITY: &'static str = "command";

    fn owner(&self) -> Option<crate::ids::TenantId> {
        self.exists.then_some(self.tenant_id)
    }

    fn decide(
        state: &Self,
        command: InstructionCommand,
    ) -> Result<Vec<InstructionEvent>, DomainError> {
        use InstructionCommand as C;
        use InstructionEvent as E;
        use InstructionStatus as S;
        match command {
            C::Issue {
                tenant_id,
                agent_id,
                command,
                args,
                timeout_seconds,
                template_id,
                at,
            } => {
                if state.exists {
                    return Err(DomainError::AlreadyExists("command"));
                }
                validate_command(&command, &args, timeout_seconds)?;
                let deadline = at + Duration::seconds(i64::from(timeout_seconds));
                Ok(vec![E::CommandIssued {
                    tenant_id,
                    agent_id,
                    command,
                    args,
                    timeout_seconds,
                    template_id,
                    deadline,
                }])
            }
            C::Deliver => {
                state.require("deliver", &[S::Issued, S::Delivered])?;
                // Delivered once: a second poll finds nothing to deliver.
                Ok(if state.status == S::Issued {
                    vec![E::CommandDelivered]
                } else {
                    vec![]
                })
            }
            C::AppendOutput {
                agent_id,
                stream,
                chunk,
            } => {
                state.require("report output of", &[S::Delivered])?;
                state.require_target(agent_id)?;
                if chunk.len() > MAX_OUTPUT_BYTES {
                    return Err(DomainError::invalid(format!(
                        "chunk exceeds {MAX_OUTPUT_BYTES} bytes"
                    )));
                }
                Ok(vec![E::CommandOutputAppended {
                    stream,
                    chunk,
                    seq: state.next_chunk,
                }])
            }
            C::Finish {
                agent_id,
                success,
                exit_code,
                output,
            } => {
                state.require("finish", &[S::Delivered])?;
                state.require_target(agent_id)?;
                if output.as_ref().is_some_and(|o| o.len() > MAX_OUTPUT_BYTES) {
                    return Err(DomainError::invalid(format!(
                        "output exceeds {MAX_OUTPUT_BYTES} bytes"
                    )));
                }
                Ok(vec![E::CommandFinished {
                    success,
                    exit_code,
                    output,
                }])
            }
            C::TimeOut { at } => {
                if !state.exists || state.status.is_final() {
                    return Ok(vec![]);
                }
                Ok(if state.deadline.is_some_and(|d| d <= at) {
                    vec![E::CommandTimedOut]
                } else {
                    vec![]
                })
            }
        }
    }

    fn evolve(mut state: Self, event: &InstructionEvent) -> Self {
        use InstructionEvent as E;
        match event {
            E::CommandIssued {
                tenant_id,
                agent_id,
                deadline,
                ..
            } => {
                state.exists = true;
                state.tenant_id = *tenant_id;
                state.agent_id = *agent_id;
                state.status = InstructionStatus::Issued;
                state.deadline = Some(*deadline);
            }
            E::CommandDelivered => state.status = InstructionStatus::Delivered,
            E::CommandOutputAppended { seq, .. } => state.next_chunk = seq + 1,
            E::CommandFinished { success, .. } => {
                state.status = if *success {
                    InstructionStatus::Succeeded
                } else {
                    InstructionStatus::Failed
                };
            }
            E::CommandTimedOut => state.status = InstructionStatus::TimedOut,
        }
        state
    }
}

/// A stored command an operator can issue by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CommandTemplate {
    pub exists: bool,
    pub deleted: bool,
    pub tenant_id: TenantId,
    pub name: String,
    pub command: String,
    pub args: Value,
    pub timeout_seconds: u32,
}

#[derive(Debug, Clone)]
pub enum TemplateCommand {
    Create {
        tenant_id: TenantId,
        name: String,
        command: String,
        args: Value,
        timeout_seconds: u32,
    },
    Update {
        name: String,
        command: String,
        args: Value,
        timeout_seconds: u32,
    },
    Delete,
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames, strum::EnumDiscriminants,
)]
#[strum_discriminants(
    name(TemplateEventType),
    derive(Hash, strum::IntoStaticStr, strum::VariantArray),
    strum(const_into_str)
)]
#[serde(tag = "type", content = "data")]
pub enum TemplateEvent {
    CommandTemplateCreated {
        tenant_id: TenantId,
        name: String,
        command: String,
        args: Value,
        timeout_seconds: u32,
    },
    CommandTemplateUpdated {
        name: String,
        command: String,
        args: Value,
        timeout_seconds: u32,
    },
    CommandTemplateDeleted,
}

impl CommandTemplate {
    fn require_live(&self) -> Result<(), DomainError> {
        if self.exists && !self.deleted {
            Ok(())
        } else {
            Err(DomainError::NotFound("command template"))
        }
    }
}

impl Aggregate for CommandTemplate {
    type Command = TemplateCommand;
    type Event = TemplateEvent;
    type Id = uuid::Uuid;
    const STREAM_PREFIX: &'static str = "cmdtemplate";
    const ENTITY: &'static str = "command template";

    fn owner(&self) -> Option<crate::ids::TenantId> {
        self.exists.then_some(self.tenant_id)
    }

    fn decide(state: &Self, command: TemplateCommand) -> Result<Vec<TemplateEvent>, DomainError> {
        let name_ok = |name: &str| {
            if name.trim().is_empty() || name.len() > 100 {
                Err(DomainError::invalid(
                    "template name must be 1 to 100 characters",
                ))
            } else {
                Ok(())
            }
        };
        match command {
            TemplateCommand::Create {
                tenant_id,
                name,
                command,
                args,
                timeout_seconds,
            } => {
                if state.exists {
                    return Err(DomainError::AlreadyExists("command template"));
                }
                name_ok(&name)?;
                validate_command(&command, &args, timeout_seconds)?;
                Ok(vec![TemplateEvent::CommandTemplateCreated {
                    tenant_id,
                    name,
                    command,
                    args,
                    timeout_seconds,
                }])
            }
            TemplateCommand::Update {
                name,
                command,
                args,
                timeout_seconds,
            } => {
                state.require_live()?;
                name_ok(&name)?;
                validate_command(&command, &args, timeout_seconds)?;
                Ok(vec![TemplateEvent::CommandTemplateUpdated {
                    name,
                    command,
                    args,
                    timeout_seconds,
                }])
            }
            TemplateCommand::Delete => {
                state.require_live()?;
                Ok(vec![TemplateEvent::CommandTemplateDeleted])
            }
        }
    }

    fn evolve(mut state: Self, event: &TemplateEvent) -> Self {
        match event {
            TemplateEvent::CommandTemplateCreated {
                tenant_id,
                name,
                command,
                args,
                timeout_seconds,
            } => {
                state.exists = true;
                state.tenant_id = *tenant_id;
                state.name = name.clone();
                state.command = command.clone();
                state.args = args.clone();
                state.timeout_seconds = *timeout_seconds;
            }
            TemplateEvent::CommandTemplateUpdated {
                name,
                command,
                args,
                timeout_seconds,
            } => {
                state.name = name.clone();
                state.command = command.clone();
                state.args = args.clone();
                state.timeout_seconds = *timeout_seconds;
            }
            TemplateEvent::CommandTemplateDeleted => state.deleted = true,
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap_or_default()
    }

    fn issued(agent: AgentId) -> Instruction {
        let events = Instruction::decide(
            &Instruction::default(),
            InstructionCommand::Issue {
                tenant_id: TenantId::new(),
                agent_id: agent,
                command: "restart".into(),
                args: json!({ "service": "web" }),
                timeout_seconds: 30,
                template_id: None,
                at: at(0),
            },
        );
        Instruction::fold(&events.unwrap_or_default())
    }

    fn then(
        state: Instruction,
        command: InstructionCommand,
    ) -> Result<(Instruction, Vec<InstructionEvent>), DomainError> {
        let events = Instruction::decide(&state, command)?;
        Ok((events.iter().fold(state, Instruction::evolve), events))
    }

    #[test]
    fn a_command_is_delivered_once_then_reported_and_finished() {
        let agent = AgentId::new();
        let (state, events) = then(issued(agent), InstructionCommand::Deliver).unwrap_or_default();
        assert_eq!(events, vec![InstructionEvent::CommandDelivered]);
        assert_eq!(
            then(state.clone(), InstructionCommand::Deliver).map(|r| r.1),
            Ok(vec![])
        );
        let out = |chunk: &str| InstructionCommand::AppendOutput {
            agent_id: agent,
            stream: OutputStream::Stdout,
            chunk: chunk.into(),
        };
        let (state, first) = then(state, out("a")).unwrap_or_default();
        let (state, second) = then(state, out("b")).unwrap_or_default();
        assert!(matches!(
            first[..],
            [InstructionEvent::CommandOutputAppended { seq: 0, .. }]
        ));
        assert!(matches!(
            second[..],
            [InstructionEvent::CommandOutputAppended { seq: 1, .. }]
        ));
        let finish = InstructionCommand::Finish {
            agent_id: agent,
            success: false,
            exit_code: Some(2),
            output: None,
        };
        let (state, _) = then(state, finish.clone()).unwrap_or_default();
        assert_eq!(state.status, InstructionStatus::Failed);
        assert!(matches!(
            Instruction::decide(&state, finish),
            Err(DomainError::InvalidTransition { state, .. }) if state == "failed"
        ));
    }

    #[test]
    fn only_delivered_commands_take_output_and_only_from_their_agent() {
        let agent = AgentId::new();
        let out = |a| InstructionCommand::AppendOutput {
            agent_id: a,
            stream: OutputStream::Stderr,
            chunk: "x".into(),
        };
        assert!(matches!(
            Instruction::decide(&issued(agent), out(agent)),
            Err(DomainError::InvalidTransition { .. })
        ));
        let (delivered, _) = then(issued(agent), InstructionCommand::Deliver).unwrap_or_default();
        assert_eq!(
            Instruction::decide(&delivered, out(AgentId::new())),
            Err(DomainError::NotFound("command"))
        );
        assert_eq!(
            Instruction::decide(&Instruction::default(), InstructionCommand::Deliver),
            Err(DomainError::NotFound("command"))
        );
    }

    #[test]
    fn commands_time_out_only_after_their_deadline_and_not_when_finished() {
        let agent = AgentId::new();
        let state = issued(agent);
        assert_eq!(
            Instruction::decide(&state, InstructionCommand::TimeOut { at: at(29) }),
            Ok(vec![])
        );
        let (timed_out, events) =
            then(state, InstructionCommand::TimeOut { at: at(30) }).unwrap_or_default();
        assert_eq!(events, vec![InstructionEvent::CommandTimedOut]);
        assert_eq!(timed_out.status, InstructionStatus::TimedOut);
        assert_eq!(
            Instruction::decide(&timed_out, InstructionCommand::TimeOut { at: at(60) }),
            Ok(vec![])
        );
        assert!(Instruction::decide(&timed_out, InstructionCommand::Deliver).is_err());
    }

    #[test]
    fn issuing_validates_the_command() {
        for (command, timeout) in [("", 10), ("x", 0), ("x", MAX_TIMEOUT_SECONDS + 1)] {
            let issue = InstructionCommand::Issue {
                tenant_id: TenantId::new(),
                agent_id: AgentId::new(),
                command: command.into(),
                args: json!(null),
                timeout_seconds: timeout,
                template_id: None,
                at: at(0),
            };
            assert!(matches!(
                Instruction::decide(&Instruction::default(), issue),
                Err(DomainError::Invalid(_))
            ));
        }
    }

    #[test]
    fn templates_are_created_updated_and_deleted() {
        let create = TemplateCommand::Create {
            tenant_id: TenantId::new(),
            name: "restart web".into(),
            command: "restart".into(),
            args: json!({}),
            timeout_seconds: 60,
        };
        let state = CommandTemplate::fold(
            &CommandTemplate::decide(&CommandTemplate::default(), create).unwrap_or_default(),
        );
        let update = TemplateCommand::Update {
            name: "r".into(),
            command: "restart".into(),
            args: json!({ "x": 1 }),
            timeout_seconds: 5,
        };
        let events = CommandTemplate::decide(&state, update.clone()).unwrap_or_default();
        let state = events.iter().fold(state, CommandTemplate::evolve);
        assert_eq!(
            (state.timeout_seconds, state.args.clone()),
            (5, json!({ "x": 1 }))
        );
        let deleted = CommandTemplate::decide(&state, TemplateCommand::Delete).unwrap_or_default();
        let state = deleted.iter().fold(state, CommandTemplate::evolve);
        assert_eq!(
            CommandTemplate::decide(&state, update),
            Err(DomainError::NotFound("command template"))
        );
        assert_eq!(
            CommandTemplate::decide(&state, TemplateCommand::Delete),
            Err(DomainError::NotFound("command template"))
        );
    }
}
