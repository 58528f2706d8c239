//! The commands waiting for each agent, in issue order: what a poll hands
//! over. History and timeouts are served by the command history read model.

use std::collections::{BTreeMap, HashMap};
use std::sync::{PoisonError, RwLock};

use agentledger_domain::Aggregate;
use agentledger_domain::codec::{CodecError, decode_if};
use agentledger_domain::ids::{AgentId, TenantId};
use agentledger_domain::instruction::{Instruction, InstructionEvent, InstructionStatus};
use agentledger_domain::lifecycle::LifecycleAction;
use agentledger_store::RecordedEvent;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::follower::Apply;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommandSummary {
    pub command_id: Uuid,
    pub tenant_id: TenantId,
    pub agent_id: AgentId,
    pub command: String,
    pub args: serde_json::Value,
    /// The typed action of a lifecycle command.
    pub action: Option<LifecycleAction>,
    pub status: InstructionStatus,
    pub issued_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    pub exit_code: Option<i32>,
    /// The global position of the command's last event.
    pub position: u64,
}

#[derive(Default)]
pub struct CommandBook {
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    commands: HashMap<Uuid, CommandSummary>,
    /// Per agent, by issue position: oldest first.
    by_agent: HashMap<AgentId, BTreeMap<u64, Uuid>>,
}

impl CommandBook {
    /// Commands issued to `agent` and not yet delivered, oldest first.
    pub fn pending(&self, agent: AgentId) -> Vec<CommandSummary> {
        self.of_agent(
            agent,
            |c| c.status == InstructionStatus::Issued,
            usize::MAX,
            false,
        )
    }

    fn of_agent(
        &self,
        agent: AgentId,
        keep: impl Fn(&CommandSummary) -> bool,
        limit: usize,
        newest_first: bool,
    ) -> Vec<CommandSummary> {
        let inner = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let Some(ids) = inner.by_agent.get(&agent) else {
            return Vec::new();
        };
        let ids: Box<dyn Iterator<Item = &Uuid>> = if newest_first {
            Box::new(ids.values().rev())
        } else {
            Box::new(ids.values())
        };
        ids.filter_map(|id| inner.commands.get(id))
            .filter(|c| keep(c))
            .take(limit)
            .cloned()
            .collect()
    }
}

impl Apply for CommandBook {
    fn apply(&self, event: &RecordedEvent) -> Result<(), CodecError> {
        let Some(command_id) = Instruction::CATEGORY
            .id_in(&event.stream_id)
            .and_then(|id| id.parse().ok())
        else {
            return Ok(());
        };
        let Some(instruction_event) =
            decode_if::<InstructionEvent>(&event.event_type, event.schema_version, &event.payload)?
        else {
            return Ok(());
        };
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        if let InstructionEvent::CommandIssued {
            tenant_id,
            agent_id,
            command,
            args,
            deadline,
            action,
            ..
        } = &instruction_event
        {
            inner
                .by_agent
                .entry(*agent_id)
                .or_default()
                .insert(event.position, command_id);
            inner.commands.insert(
                command_id,
                CommandSummary {
                    command_id,
                    tenant_id: *tenant_id,
                    agent_id: *agent_id,
                    command: command.clone(),
                    args: args.clone(),
                    action: action.clone(),
                    status: InstructionStatus::Issued,
                    issued_at: event.occurred_at,
                    deadline: *deadline,
                    exit_code: None,
                    position: event.position,
                },
            );
            return Ok(());
        }
        let Some(summary) = inner.commands.get_mut(&command_id) else {
            return Ok(());
        };
        summary.position = event.position;
        match instruction_event {
            InstructionEvent::CommandDelivered => summary.status = InstructionStatus::Delivered,
            InstructionEvent::CommandFinished {
                success, exit_code, ..
            } => {
                summary.status = if success {
                    InstructionStatus::Succeeded
                } else {
                    InstructionStatus::Failed
                };
                summary.exit_code = exit_code;
            }
            InstructionEvent::CommandTimedOut => summary.status = InstructionStatus::TimedOut,
            InstructionEvent::CommandIssued { .. }
            | InstructionEvent::CommandOutputAppended { .. }
            | InstructionEvent::CommandProgressReported { .. } => {}
        }
        Ok(())
    }
}
