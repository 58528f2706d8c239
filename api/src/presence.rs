//! Agent presence: polls refresh `last_seen` in memory; only transitions are
//! events. `AgentWentOnline` when an offline agent polls, `AgentWentOffline`
//! from the monitor when an online agent has not polled for the timeout.
//!
//! The set of online agents is learnt from the log, so after a restart every
//! agent that was online gets a full timeout to poll again before it is
//! marked offline. `last_seen` is per server: with several API servers behind
//! a balancer the timeout must exceed the poll interval times their number.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use agentledger_commands::Context;
use agentledger_commands::agents::run;
use agentledger_domain::agent::{AgentCommand, AgentEvent};
use agentledger_domain::codec::decode;
use agentledger_domain::ids::{AgentId, TenantId};
use agentledger_projections::follower::Apply;
use agentledger_store::RecordedEvent;
use chrono::{DateTime, Utc};

use crate::auth::AgentCaller;
use crate::problem::Problem;
use crate::state::AppState;

#[derive(Default)]
pub struct Presence {
    online: Mutex<HashMap<AgentId, (TenantId, DateTime<Utc>)>>,
}

impl Presence {
    fn touch(&self, agent_id: AgentId, tenant_id: TenantId, at: DateTime<Utc>) {
        let mut online = self.online.lock().unwrap_or_else(PoisonError::into_inner);
        online.insert(agent_id, (tenant_id, at));
    }

    /// Agents last seen before `cutoff`.
    fn silent_since(&self, cutoff: DateTime<Utc>) -> Vec<(AgentId, TenantId, DateTime<Utc>)> {
        let online = self.online.lock().unwrap_or_else(PoisonError::into_inner);
        online
            .iter()
            .filter(|(_, (_, seen))| *seen < cutoff)
            .map(|(agent, (tenant, seen))| (*agent, *tenant, *seen))
            .collect()
    }
}

impl Apply for Presence {
    fn apply(&self, event: &RecordedEvent) {
        let Some(agent_id) = event
            .stream_id
            .strip_prefix("agent-")
            .and_then(|id| id.parse().ok())
        else {
            return;
        };
        let Ok(agent_event) = decode::<AgentEvent>(&event.event_type, &event.payload) else {
            return;
        };
        let agent_id = AgentId(agent_id);
        match agent_event {
            AgentEvent::AgentWentOnline => {
                let mut online = self.online.lock().unwrap_or_else(PoisonError::into_inner);
                // A poll may already have been seen; otherwise start the clock now.
                online
                    .entry(agent_id)
                    .or_insert((TenantId(event.tenant_id), Utc::now()));
            }
            AgentEvent::AgentWentOffline { .. } | AgentEvent::AgentDisabled { .. } => {
                self.online
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&agent_id);
            }
            _ => {}
        }
    }
}

/// The agent polled: note it, and append `AgentWentOnline` if it was offline.
/// Returns the position of that event, or 0.
pub async fn seen(state: &AppState, caller: &AgentCaller) -> Result<u64, Problem> {
    let at = agentledger_store::now();
    state
        .presence
        .touch(caller.agent_id, caller.agent.tenant_id, at);
    if caller.agent.online {
        return Ok(0);
    }
    let executed = run(
        &state.handler,
        &caller.context(),
        caller.agent_id,
        AgentCommand::Heartbeat,
    )
    .await?;
    Ok(if executed.events.is_empty() {
        0
    } else {
        executed.position
    })
}

/// Marks silent agents offline every `timeout / 4`, until the runtime stops.
pub fn spawn_monitor(state: AppState, timeout: Duration) {
    let period = (timeout / 4).max(Duration::from_millis(100));
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        loop {
            ticks.tick().await;
            let Ok(timeout) = chrono::Duration::from_std(timeout) else {
                return;
            };
            for (agent_id, tenant_id, last_seen) in
                state.presence.silent_since(Utc::now() - timeout)
            {
                let ctx = Context::system(tenant_id, "presence-monitor");
                match run(
                    &state.handler,
                    &ctx,
                    agent_id,
                    AgentCommand::MarkOffline { last_seen },
                )
                .await
                {
                    Ok(_) => {
                        let mut online = state
                            .presence
                            .online
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner);
                        // Only forget it if it did not poll meanwhile.
                        if online
                            .get(&agent_id)
                            .is_some_and(|(_, seen)| *seen == last_seen)
                        {
                            online.remove(&agent_id);
                        }
                    }
                    Err(e) => tracing::warn!(%agent_id, error = %e, "cannot mark agent offline"),
                }
            }
        }
    });
}
