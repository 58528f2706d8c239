//! Instructions to an agent (pull model): issued by an operator, delivered
//! once when the agent polls, reported on, finished, or timed out.
//!
//! The API and the log call them commands (`/commands`, stream `command-<id>`,
//! events `Command*`), names that clients and stored events already carry; in
//! the code "command" means only what an aggregate decides on, so the
//! aggregate is `Instruction`.
//!
//! Lifecycle commands (`crate::lifecycle`) are instructions too, issued with
//! a typed action; only they take progress reports from their agent.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::aggregate::Aggregate;
use crate::error::DomainError;
use crate::ids::{AgentId, TenantId};
use crate::lifecycle::{LifecycleAction, check_progress};

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
    /// Issued with a lifecycle action: only such a command reports progress.
    pub lifecycle: bool,
    /// The latest progress its agent reported.
    pub progress: Option<Progress>,
}

/// How far an agent got with a lifecycle command, in its own words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub stage: String,
    pub percent: u8,
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
    /// A command whose name and arguments are the action's.
    IssueLifecycle {
        tenant_id: TenantId,
        agent_id: AgentId,
        action: LifecycleAction,
        timeout_seconds: u32,
        at: DateTime<Utc>,
    },
    Deliver,
    AppendOutput {
        agent_id: AgentId,
        stream: OutputStream,
        chunk: String,
    },
    ReportProgress {
        agent_id: AgentId,
        stage: String,
        percent: u8,
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
        /// The lifecycle action, for a lifecycle command; `command` and
        /// `args` are its name and fields, so readers that know only those
        /// read it as any other command. Absent from every other command,
        /// and from commands stored before there were lifecycle commands.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        action: Option<LifecycleAction>,
    },
    CommandDelivered,
    CommandOutputAppended {
        stream: OutputStream,
        chunk: String,
        seq: u64,
    },
    CommandProgressReported {
        stage: String,
        percent: u8,
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
    check_timeout(timeout_seconds)
}

fn check_timeout(timeout_seconds: u32) -> Result<(), DomainError> {
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
                    action: None,
                }])
            }
            C::IssueLifecycle {
                tenant_id,
                agent_id,
                action,
                timeout_seconds,
                at,
            } => {
                if state.exists {
                    return Err(DomainError::AlreadyExists("command"));
                }
                // The action's own rules bound its size (a certificate may
                // be 64 KiB), not the limit on a plain command's args.
                let args = action.args()?;
                check_timeout(timeout_seconds)?;
                let deadline = at + Duration::seconds(i64::from(timeout_seconds));
                Ok(vec![E::CommandIssued {
                    tenant_id,
                    agent_id,
                    command: action.name().to_owned(),
                    args,
                    timeout_seconds,
                    template_id: None,
                    deadline,
                    action: Some(action),
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
            C::ReportProgress {
                agent_id,
                stage,
                percent,
            } => {
                // Another agent is told the command does not exist, whatever
                // its state: it must not learn of others' commands.
                if !state.exists {
                    return Err(DomainError::NotFound("command"));
                }
                state.require_target(agent_id)?;
                // Not before delivery (the agent cannot know of it yet) and
                // not once it is over.
                state.require("report progress on", &[S::Delivered])?;
                if !state.lifecycle {
                    return Err(DomainError::invalid(
                        "progress is reported on lifecycle commands only",
                    ));
                }
                check_progress(&stage, percent)?;
                Ok(vec![E::CommandProgressReported { stage, percent }])
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
                action,
                ..
            } => {
                state.exists = true;
                state.tenant_id = *tenant_id;
                state.agent_id = *agent_id;
                state.status = InstructionStatus::Issued;
                state.deadline = Some(*deadline);
                state.lifecycle = action.is_some();
            }
            E::CommandDelivered => state.status = InstructionStatus::Delivered,
            E::CommandOutputAppended { seq, .. } => state.next_chunk = seq + 1,
            E::CommandProgressReported { stage, percent } => {
                state.progress = Some(Progress {
                    stage: stage.clone(),
                    percent: *percent,
                });
            }
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

/// Lifecycle commands and their progress, given/when/then.
#[cfg(test)]
mod lifecycle_commands {
    use serde_json::json;

    use super::*;
    use crate::codec::{decode, encode};
    use crate::lifecycle::{MAX_STAGE_BYTES, TEST_CERTIFICATE, TEST_FINGERPRINT};
    use crate::testing::{Given, given, given_no_events};

    const PACKAGE: &str = "https://downloads.example.com/agent-2.4.1.tar.gz";

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap_or_default()
    }

    fn checksum() -> String {
        format!("sha256:{}", "e3".repeat(32))
    }

    fn upgrade() -> LifecycleAction {
        LifecycleAction::Upgrade {
            version: "2.4.1".into(),
            package_url: PACKAGE.into(),
            checksum: checksum(),
        }
    }

    fn issue(tenant: TenantId, agent: AgentId, action: LifecycleAction) -> InstructionCommand {
        InstructionCommand::IssueLifecycle {
            tenant_id: tenant,
            agent_id: agent,
            action,
            timeout_seconds: 600,
            at: at(0),
        }
    }

    /// What issuing `upgrade()` to `agent` at 0, with 600 s to run, records.
    fn upgrade_issued(tenant: TenantId, agent: AgentId) -> InstructionEvent {
        InstructionEvent::CommandIssued {
            tenant_id: tenant,
            agent_id: agent,
            command: "upgrade".into(),
            args: json!({ "version": "2.4.1", "package_url": PACKAGE, "checksum": checksum() }),
            timeout_seconds: 600,
            template_id: None,
            deadline: at(600),
            action: Some(upgrade()),
        }
    }

    fn delivered(agent: AgentId) -> Given<Instruction> {
        given::<Instruction>([
            upgrade_issued(TenantId::new(), agent),
            InstructionEvent::CommandDelivered,
        ])
    }

    fn report(agent: AgentId, stage: &str, percent: u8) -> InstructionCommand {
        InstructionCommand::ReportProgress {
            agent_id: agent,
            stage: stage.into(),
            percent,
        }
    }

    fn progressed(stage: &str, percent: u8) -> InstructionEvent {
        InstructionEvent::CommandProgressReported {
            stage: stage.into(),
            percent,
        }
    }

    fn finished(success: bool) -> InstructionEvent {
        InstructionEvent::CommandFinished {
            success,
            exit_code: None,
            output: None,
        }
    }

    #[test]
    fn a_lifecycle_command_is_issued_under_its_name_with_its_fields_and_typed_action() {
        let (tenant, agent) = (TenantId::new(), AgentId::new());
        let state = given_no_events::<Instruction>()
            .when(issue(tenant, agent, upgrade()))
            .then([upgrade_issued(tenant, agent)]);
        assert!(state.lifecycle);
        assert_eq!(
            (state.status, state.deadline, state.progress),
            (InstructionStatus::Issued, Some(at(600)), None)
        );
        given::<Instruction>([upgrade_issued(tenant, agent)])
            .when(issue(tenant, agent, LifecycleAction::Start))
            .then_refused(|e| *e == DomainError::AlreadyExists("command"));
    }

    #[test]
    fn start_stop_and_restart_carry_no_args() {
        for (action, name) in [
            (LifecycleAction::Start, "start"),
            (LifecycleAction::Stop, "stop"),
            (LifecycleAction::Restart, "restart"),
        ] {
            given_no_events::<Instruction>()
                .when(issue(TenantId::new(), AgentId::new(), action))
                .then_events(|events| {
                    assert!(
                        matches!(
                            events,
                            [InstructionEvent::CommandIssued { command, args, action: Some(_), .. }]
                                if command == name && *args == json!({})
                        ),
                        "{events:?}"
                    );
                });
        }
    }

    #[test]
    fn a_certificate_update_records_the_fingerprint_and_never_a_key() {
        let certificate = |pem: &str| LifecycleAction::UpdateCertificate {
            certificate_pem: pem.into(),
        };
        given_no_events::<Instruction>()
            .when(issue(
                TenantId::new(),
                AgentId::new(),
                certificate(TEST_CERTIFICATE),
            ))
            .then_events(|events| {
                assert!(
                    matches!(
                        events,
                        [InstructionEvent::CommandIssued {
                            command,
                            args,
                            action: Some(LifecycleAction::UpdateCertificate { .. }),
                            ..
                        }] if command == "update_certificate"
                            && args["fingerprint"] == json!(TEST_FINGERPRINT)
                            && args["certificates"] == json!(1)
                    ),
                    "{events:?}"
                );
            });
        let with_key = format!(
            "{TEST_CERTIFICATE}-----BEGIN PRIVATE KEY-----\nMAMCAQE=\n-----END PRIVATE KEY-----\n"
        );
        given_no_events::<Instruction>()
            .when(issue(
                TenantId::new(),
                AgentId::new(),
                certificate(&with_key),
            ))
            .then_refused(|e| matches!(e, DomainError::Invalid(m) if m.contains("private key")));
    }

    #[test]
    fn a_lifecycle_command_with_a_bad_action_or_timeout_is_refused() {
        let upgrade_with = |package_url: &str, checksum: &str| LifecycleAction::Upgrade {
            version: "2.4.1".into(),
            package_url: package_url.into(),
            checksum: checksum.into(),
        };
        for action in [
            upgrade_with(PACKAGE, "sha256:abc"),
            upgrade_with("ftp://downloads.example.com/agent.tar.gz", &checksum()),
            upgrade_with(PACKAGE, &format!("sha256:{}", "zz".repeat(32))),
        ] {
            given_no_events::<Instruction>()
                .when(issue(TenantId::new(), AgentId::new(), action))
                .then_refused(|e| matches!(e, DomainError::Invalid(_)));
        }
        for timeout_seconds in [0, MAX_TIMEOUT_SECONDS + 1] {
            given_no_events::<Instruction>()
                .when(InstructionCommand::IssueLifecycle {
                    tenant_id: TenantId::new(),
                    agent_id: AgentId::new(),
                    action: LifecycleAction::Restart,
                    timeout_seconds,
                    at: at(0),
                })
                .then_refused(
                    |e| matches!(e, DomainError::Invalid(m) if m.contains("timeout_seconds")),
                );
        }
    }

    #[test]
    fn the_agent_reports_progress_on_its_delivered_command_and_the_latest_is_kept() {
        let agent = AgentId::new();
        let state = delivered(agent)
            .when(report(agent, "download", 30))
            .then([progressed("download", 30)]);
        assert_eq!(
            state.progress,
            Some(Progress {
                stage: "download".into(),
                percent: 30
            })
        );
        let state = delivered(agent)
            .and(progressed("download", 30))
            .when(report(agent, "install", 80))
            .then([progressed("install", 80)]);
        assert_eq!(
            (state.status, state.progress),
            (
                InstructionStatus::Delivered,
                Some(Progress {
                    stage: "install".into(),
                    percent: 80
                })
            )
        );
        // A percent is the agent's figure for its stage: a new stage may
        // start lower than the last one ended.
        delivered(agent)
            .and(progressed("install", 80))
            .when(report(agent, "verify", 0))
            .then([progressed("verify", 0)]);
        delivered(agent)
            .when(report(agent, "done", 100))
            .then([progressed("done", 100)]);
    }

    #[test]
    fn another_agent_is_told_the_command_does_not_exist_whatever_its_state() {
        let (agent, other) = (AgentId::new(), AgentId::new());
        delivered(agent)
            .when(report(other, "download", 10))
            .then_refused(|e| *e == DomainError::NotFound("command"));
        delivered(agent)
            .and(finished(true))
            .when(report(other, "download", 10))
            .then_refused(|e| *e == DomainError::NotFound("command"));
        given::<Instruction>([upgrade_issued(TenantId::new(), agent)])
            .when(report(other, "download", 10))
            .then_refused(|e| *e == DomainError::NotFound("command"));
        given_no_events::<Instruction>()
            .when(report(agent, "download", 10))
            .then_refused(|e| *e == DomainError::NotFound("command"));
    }

    #[test]
    fn progress_comes_after_delivery_and_before_the_end() {
        let agent = AgentId::new();
        given::<Instruction>([upgrade_issued(TenantId::new(), agent)])
            .when(report(agent, "download", 10))
            .then_refused(
                |e| matches!(e, DomainError::InvalidTransition { state, .. } if state == "issued"),
            );
        for (end, status) in [
            (finished(true), "succeeded"),
            (finished(false), "failed"),
            (InstructionEvent::CommandTimedOut, "timed_out"),
        ] {
            delivered(agent)
                .and(end)
                .when(report(agent, "install", 90))
                .then_refused(|e| {
                    matches!(
                        e,
                        DomainError::InvalidTransition { action: "report progress on", state, .. }
                            if state == status
                    )
                });
        }
    }

    #[test]
    fn progress_is_reported_on_lifecycle_commands_only() {
        let agent = AgentId::new();
        let plain = InstructionEvent::CommandIssued {
            tenant_id: TenantId::new(),
            agent_id: agent,
            command: "restart".into(),
            args: json!({}),
            timeout_seconds: 30,
            template_id: None,
            deadline: at(30),
            action: None,
        };
        given::<Instruction>([plain, InstructionEvent::CommandDelivered])
            .when(report(agent, "download", 10))
            .then_refused(|e| matches!(e, DomainError::Invalid(m) if m.contains("lifecycle")));
    }

    #[test]
    fn a_progress_report_names_its_stage_and_stays_within_100_percent() {
        let agent = AgentId::new();
        let long = "s".repeat(MAX_STAGE_BYTES + 1);
        for (stage, percent) in [
            ("download", 101),
            ("download", 255),
            ("", 10),
            ("   ", 10),
            ("down\u{0}load", 10),
            ("down\nload", 10),
            (long.as_str(), 10),
        ] {
            delivered(agent)
                .when(report(agent, stage, percent))
                .then_refused(|e| matches!(e, DomainError::Invalid(_)));
        }
    }

    #[test]
    fn a_command_stored_before_lifecycle_commands_reads_as_a_plain_one() {
        let payload = json!({
            "tenant_id": TenantId::new(),
            "agent_id": AgentId::new(),
            "command": "restart",
            "args": { "service": "web" },
            "timeout_seconds": 30,
            "template_id": null,
            "deadline": at(30)
        });
        let event = match decode::<InstructionEvent>("CommandIssued", 1, &payload) {
            Ok(event) => event,
            Err(e) => panic!("a stored command no longer decodes: {e}"),
        };
        assert!(matches!(
            &event,
            InstructionEvent::CommandIssued { action: None, .. }
        ));
        assert!(!Instruction::fold([&event]).lifecycle);
        // And a plain command is still stored without the field.
        match encode(&event) {
            Ok((_, stored)) => assert_eq!(stored, payload),
            Err(e) => panic!("{e}"),
        }
    }
}
