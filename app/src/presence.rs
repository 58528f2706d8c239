//! Agent presence: polls refresh `last_seen` in memory; only transitions are
//! events. `AgentWentOnline` when an offline agent polls, `AgentWentOffline`
//! from the monitor when an online agent has not polled for the timeout.
//!
//! The set of online agents is read from the agent stats read model, so after
//! a restart every agent that was online gets a full timeout to poll again
//! before it is marked offline. `last_seen` is per server: with several API servers behind
//! a balancer the timeout must exceed the poll interval times their number.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use agentledger_commands::{CommandError, Context};
use agentledger_domain::agent::{Agent, AgentCommand};
use agentledger_domain::ids::{AgentId, TenantId};
use agentledger_projections::agent_stats;
use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;

use crate::app::App;

/// When this server last heard from each agent: a poll, or (for an agent the
/// read model shows online that has not polled here) when the monitor first
/// saw it online, which starts its clock.
#[derive(Default)]
pub struct Presence {
    last_heard: Mutex<HashMap<AgentId, DateTime<Utc>>>,
}

impl Presence {
    fn touch(&self, agent_id: AgentId, at: DateTime<Utc>) {
        let mut heard = self
            .last_heard
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        heard.insert(agent_id, at);
    }

    /// Of the agents online, those last heard from before `cutoff`.
    fn silent_since(
        &self,
        online: &[(AgentId, TenantId)],
        now: DateTime<Utc>,
        cutoff: DateTime<Utc>,
    ) -> Vec<(AgentId, TenantId, DateTime<Utc>)> {
        let mut heard = self
            .last_heard
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        online
            .iter()
            .filter_map(|(agent, tenant)| {
                let seen = *heard.entry(*agent).or_insert(now);
                (seen < cutoff).then_some((*agent, *tenant, seen))
            })
            .collect()
    }

    /// Forgets the agent unless it was heard from after `seen`.
    fn forget(&self, agent_id: AgentId, seen: DateTime<Utc>) {
        let mut heard = self
            .last_heard
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if heard.get(&agent_id).is_some_and(|at| *at == seen) {
            heard.remove(&agent_id);
        }
    }
}

/// The agent polled: note it, and append `AgentWentOnline` if it was
/// offline (`online` is what its aggregate said when it was authenticated).
/// Returns the position of that event, or 0.
pub async fn seen(
    state: &App,
    ctx: &Context,
    agent_id: AgentId,
    online: bool,
) -> Result<u64, CommandError> {
    let at = agentledger_store::now();
    state.presence.touch(agent_id, at);
    if online {
        return Ok(0);
    }
    let executed = state
        .handler
        .run::<Agent>(ctx, agent_id, AgentCommand::Heartbeat)
        .await?;
    Ok(if executed.events.is_empty() {
        0
    } else {
        executed.position
    })
}

/// Marks silent agents offline every `timeout / 4`, until the runtime stops.
/// Which agents are online comes from the agent stats read model, so a
/// restart reads it where it is instead of replaying the log.
pub fn spawn_monitor(state: App, timeout: Duration) -> JoinHandle<()> {
    let period = (timeout / 4).max(Duration::from_millis(100));
    tokio::spawn(async move {
        let Ok(timeout) = chrono::Duration::from_std(timeout) else {
            return;
        };
        let mut ticks = tokio::time::interval(period);
        loop {
            ticks.tick().await;
            let online = match agent_stats::online(&state.database).await {
                Ok(online) => online,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read which agents are online");
                    continue;
                }
            };
            let now = Utc::now();
            for (agent_id, tenant_id, last_seen) in
                state.presence.silent_since(&online, now, now - timeout)
            {
                let ctx = Context::system(tenant_id, "presence-monitor");
                let offline = AgentCommand::MarkOffline { last_seen };
                match state.handler.run::<Agent>(&ctx, agent_id, offline).await {
                    Ok(_) => state.presence.forget(agent_id, last_seen),
                    Err(e) => tracing::warn!(%agent_id, error = %e, "cannot mark agent offline"),
                }
            }
        }
    })
}
