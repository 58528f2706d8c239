//! Reactors: follow the log and issue commands in response, like any other
//! client. The alert policy raises alerts; the batch reactor finishes creating
//! the tasks of confirmed batches. Reactions carry event ids derived from
//! their cause and decide on aggregates whose ids derive from it too, so
//! following the log again from the start, after a restart or on a second
//! server, repeats nothing.

use std::time::Duration;

use agentledger_commands::{CommandError, Context, alerts, budgets};
use agentledger_domain::alert_policy::{AlertPolicy, Seen};
use agentledger_domain::ids::TenantId;
use agentledger_store::{EventFilter, RecordedEvent};

use crate::state::AppState;

pub fn spawn(state: AppState) {
    tokio::spawn(async move {
        let mut policy = AlertPolicy::default();
        let mut next = 1;
        loop {
            let mut subscription = state.store.subscribe_all(next, EventFilter::default());
            loop {
                match subscription.next().await {
                    Ok(event) => {
                        react(&state, &mut policy, &event).await;
                        next = event.position + 1;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "reactors cannot read the log; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        break;
                    }
                }
            }
        }
    });
}

async fn react(state: &AppState, policy: &mut AlertPolicy, event: &RecordedEvent) {
    let seen = Seen {
        event_id: event.event_id,
        stream_id: &event.stream_id,
        event_type: &event.event_type,
        payload: &event.payload,
        tenant_id: TenantId(event.tenant_id),
        occurred_at: event.occurred_at,
    };
    for alert in policy.observe(&seen) {
        let ctx = Context::reaction(
            alert.tenant_id,
            "alert-policy",
            event.event_id,
            event.correlation_id,
        );
        persist("raise alert", event, || {
            alerts::raise(&state.handler, &ctx, alert.clone())
        })
        .await;
    }
    if event.event_type == "BatchConfirmed"
        && let Some(batch_id) = event
            .stream_id
            .strip_prefix("batch-")
            .and_then(|id| id.parse().ok())
    {
        let ctx = Context::reaction(
            TenantId(event.tenant_id),
            "batch-reactor",
            event.event_id,
            event.correlation_id,
        );
        persist("create batch tasks", event, || {
            budgets::create_batch_tasks(&state.handler, &ctx, batch_id)
        })
        .await;
    }
}

/// Runs a reaction until it is decided. A store that fails or a stream that
/// keeps changing is retried with a growing pause: moving on would lose the
/// reaction until the next restart. A domain refusal is final and logged.
async fn persist<T, F, Fut>(what: &str, cause: &RecordedEvent, mut reaction: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, CommandError>>,
{
    let mut pause = Duration::from_millis(100);
    loop {
        match reaction().await {
            Ok(_) => return,
            Err(CommandError::Domain(e)) => {
                tracing::warn!(cause = %cause.event_id, error = %e, "{what}: refused");
                return;
            }
            Err(e) => {
                tracing::warn!(cause = %cause.event_id, error = %e, "{what} failed; retrying in {pause:?}");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(30));
            }
        }
    }
}
