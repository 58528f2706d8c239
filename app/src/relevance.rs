//! Which events concern one agent: what its live feed shows and what a
//! webhook subscription it made receives, decided the same way for both.

use std::collections::HashMap;

use agentledger_domain::Aggregate;
use agentledger_domain::agent::Agent;
use agentledger_domain::ids::{AgentId, TaskId};
use agentledger_domain::instruction::Instruction;
use agentledger_domain::task::{Task, TaskEventType};
use agentledger_store::RecordedEvent;
use uuid::Uuid;

use crate::app::App;
use crate::error::AppError;

/// Streams whose relevance an agent's filter remembers; past this it
/// forgets them all and looks again.
const REMEMBERED_STREAMS: usize = 4096;

/// Which streams concern one agent: its own, the commands issued to it and
/// the tasks it holds. Commands never change hands, so the answer for a
/// command stream is kept; a task's holder changes only when it is claimed,
/// so a claim makes the feed look again.
pub(crate) struct Relevance {
    agent: AgentId,
    known: HashMap<String, bool>,
}

impl Relevance {
    pub(crate) fn new(agent: AgentId) -> Self {
        Self {
            agent,
            known: HashMap::new(),
        }
    }

    /// Whether `event` concerns the agent.
    pub(crate) async fn concerns(
        &mut self,
        app: &App,
        event: &RecordedEvent,
    ) -> Result<bool, AppError> {
        let stream = event.stream_id.as_str();
        if Agent::CATEGORY.id_in(stream) == Some(self.agent.to_string().as_str()) {
            return Ok(true);
        }
        let claimed = Task::CATEGORY.holds(stream)
            && event.event_type == TaskEventType::TaskClaimed.into_str();
        if !claimed && let Some(known) = self.known.get(stream) {
            return Ok(*known);
        }
        let concerns = if let Some(id) = Instruction::CATEGORY.id_in(stream) {
            match id.parse::<Uuid>() {
                Ok(id) => app.handler.load::<Instruction>(id).await?.state.agent_id == self.agent,
                Err(_) => false,
            }
        } else if let Some(id) = Task::CATEGORY.id_in(stream) {
            match id.parse::<Uuid>() {
                Ok(id) => {
                    app.handler.load::<Task>(TaskId(id)).await?.state.claimed_by == Some(self.agent)
                }
                Err(_) => false,
            }
        } else {
            false
        };
        if self.known.len() >= REMEMBERED_STREAMS {
            self.known.clear();
        }
        self.known.insert(stream.to_owned(), concerns);
        Ok(concerns)
    }
}
