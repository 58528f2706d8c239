//! Reactors: follow the log and issue commands in response, like any other
//! client. The alert policy raises alerts; the batch reactor finishes creating
//! the tasks of confirmed batches. They go on from a saved checkpoint (with
//! the policy's state); reactions carry event ids derived from their cause
//! and decide on aggregates whose ids derive from it too, so the events
//! re-read after a crash, or read by a second server, repeat nothing.

use std::time::{Duration, Instant};

use agentledger_commands::{CommandError, Context, alerts, budgets};
use agentledger_domain::alert_policy::{AlertPolicy, PolicyState, Seen};
use agentledger_domain::ids::TenantId;
use agentledger_projections::reactor_checkpoint;
use agentledger_store::{EventFilter, Position, RecordedEvent};
use tokio::task::JoinHandle;

use crate::app::App;

/// The reactors' name in `reactor_checkpoints`.
const NAME: &str = "alerts_and_batches";
/// Save the checkpoint after this many events or this long, whichever is
/// first, and when the log goes quiet: what a crash loses is only re-read,
/// never re-done.
const SAVE_EVERY_EVENTS: u64 = 1000;
const SAVE_EVERY: Duration = Duration::from_secs(1);

pub fn spawn(state: App) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = run(&state).await {
                tracing::warn!(error = %e, "reactors stopped; starting again from their checkpoint");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    })
}

async fn run(state: &App) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let (mut position, mut policy) = match reactor_checkpoint::load(&state.database, NAME).await? {
        Some((position, saved)) => {
            let saved: PolicyState = serde_json::from_str(&saved)?;
            (position, AlertPolicy::from_state(saved))
        }
        None => (0, AlertPolicy::default()),
    };
    let mut saved = (position, Instant::now());
    let mut subscription = state
        .store
        .subscribe_all(position + 1, EventFilter::default());
    loop {
        // With progress unsaved, a quiet log is a moment to save it.
        let first = if position > saved.0 {
            match tokio::time::timeout(SAVE_EVERY, subscription.next()).await {
                Ok(next) => next?,
                Err(_) => {
                    save(state, position, &policy).await?;
                    saved = (position, Instant::now());
                    continue;
                }
            }
        } else {
            subscription.next().await?
        };
        let mut batch = vec![first];
        batch.extend(subscription.next_batch(255).await?);
        for event in &batch {
            react(state, &mut policy, event).await;
            position = event.position;
        }
        if position - saved.0 >= SAVE_EVERY_EVENTS || saved.1.elapsed() >= SAVE_EVERY {
            save(state, position, &policy).await?;
            saved = (position, Instant::now());
        }
    }
}

async fn save(
    state: &App,
    position: Position,
    policy: &AlertPolicy,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let json = serde_json::to_string(&policy.state())?;
    reactor_checkpoint::save(&state.database, NAME, position, &json).await?;
    Ok(())
}

async fn react(state: &App, policy: &mut AlertPolicy, event: &RecordedEvent) {
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
