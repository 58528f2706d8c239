//! Reactors: follow the log and issue commands in response, like any other
//! client. The alert policy raises alerts; the batch reactor finishes creating
//! the tasks of confirmed batches. They go on from a saved checkpoint (with
//! the policy's state); reactions carry event ids derived from their cause
//! and decide on aggregates whose ids derive from it too, so the events
//! re-read after a crash, or read by a second server, repeat nothing.
//! An event the policy cannot decode stops them before it, loudly: they
//! save the checkpoint up to the event before and start again from there,
//! so nothing after it is reacted to until it can be.

use std::time::{Duration, Instant};

use agentledger_commands::{CommandError, Context, alerts, budgets};
use agentledger_domain::Aggregate;
use agentledger_domain::alert_policy::{AlertPolicy, PolicyState, Seen};
use agentledger_domain::budget::{Batch, BatchEventType};
use agentledger_domain::codec::CodecError;
use agentledger_domain::ids::TenantId;
use agentledger_projections::follower::Reporter;
use agentledger_projections::reactor_checkpoint;
use agentledger_store::{EventFilter, Position, RecordedEvent};
use tokio::task::JoinHandle;

use crate::app::App;

/// The reactors' name in `reactor_checkpoints`, `/ready` and `/metrics`.
pub const NAME: &str = "alerts_and_batches";
/// Save the checkpoint after this many events or this long, whichever is
/// first, and when the log goes quiet: what a crash loses is only re-read,
/// never re-done.
const SAVE_EVERY_EVENTS: u64 = 1000;
const SAVE_EVERY: Duration = Duration::from_secs(1);

/// A reactor stopped before the event at `position`: it cannot read it,
/// and passing over it could leave a reaction undone (an alert unraised, a
/// delivery unscheduled) or its state wrong from there on.
#[derive(Debug, thiserror::Error)]
#[error(
    "the reactor {reactor} cannot read the event at position {position} ({event_type}, {event_id}): {source}"
)]
struct Undecodable {
    reactor: &'static str,
    position: Position,
    event_type: String,
    event_id: uuid::Uuid,
    source: CodecError,
}

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A consumer of the log that acts on it, with a state it saves beside its
/// checkpoint.
#[async_trait::async_trait]
pub(crate) trait Reactor: Sized + Send + Sync + 'static {
    /// Its name in `reactor_checkpoints` and in the ids of what it appends.
    const NAME: &'static str;

    /// Where it goes on from and with what state: what it saved, or where
    /// it starts when it never saved.
    async fn resume(
        app: &App,
        saved: Option<(Position, String)>,
    ) -> Result<(Position, Self), BoxError>;

    /// Its state, as saved with the checkpoint.
    fn saved(&self) -> Result<String, serde_json::Error>;

    /// Reacts to one event; an error when it cannot decode it, before
    /// anything is done for it.
    async fn react(&mut self, app: &App, event: &RecordedEvent) -> Result<(), CodecError>;

    /// Finishes the reactions it left running: called before its position
    /// moves past them, so a saved checkpoint never passes a reaction that
    /// is not done.
    async fn settle(&mut self) {}
}

/// Runs `R` until the runtime stops; `progress` tells how far it got and
/// where it stopped.
pub(crate) fn spawn<R: Reactor>(app: App, progress: Reporter) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = run::<R>(&app, &progress).await {
                tracing::warn!(reactor = R::NAME, error = %e, "reactor stopped; starting again from its checkpoint");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    })
}

async fn run<R: Reactor>(app: &App, progress: &Reporter) -> Result<(), BoxError> {
    let saved = reactor_checkpoint::load(&app.database, R::NAME).await?;
    let first_start = saved.is_none();
    let (mut position, mut reactor) = R::resume(app, saved).await?;
    // Where a first start begins is saved at once: a restart before the
    // first event must not begin again somewhere else.
    if first_start {
        save(app, position, &reactor).await?;
    }
    progress.moved_to(position);
    let mut saved = (position, Instant::now());
    let mut subscription = app
        .store
        .subscribe_all(position + 1, EventFilter::default());
    loop {
        // With progress unsaved, a quiet log is a moment to save it.
        let first = if position > saved.0 {
            match tokio::time::timeout(SAVE_EVERY, subscription.next()).await {
                Ok(next) => next?,
                Err(_) => {
                    save(app, position, &reactor).await?;
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
            if let Err(source) = reactor.react(app, event).await {
                // What came before it is done: saved, a restart does not
                // react to it again while this one is retried.
                reactor.settle().await;
                if position > saved.0 {
                    save(app, position, &reactor).await?;
                }
                let stopped = Undecodable {
                    reactor: R::NAME,
                    position: event.position,
                    event_type: event.event_type.clone(),
                    event_id: event.event_id,
                    source,
                };
                tracing::error!(position = event.position, error = %stopped, "reactor stopped");
                progress.applied(position);
                progress.stalled(stopped.to_string());
                return Err(stopped.into());
            }
            position = event.position;
        }
        reactor.settle().await;
        progress.applied(position);
        if position - saved.0 >= SAVE_EVERY_EVENTS || saved.1.elapsed() >= SAVE_EVERY {
            save(app, position, &reactor).await?;
            saved = (position, Instant::now());
        }
    }
}

async fn save<R: Reactor>(app: &App, position: Position, reactor: &R) -> Result<(), BoxError> {
    let json = reactor.saved()?;
    reactor_checkpoint::save(&app.database, R::NAME, position, &json).await?;
    Ok(())
}

/// The alert policy, which raises alerts, and the batch reactor, which
/// finishes creating the tasks of confirmed batches.
pub(crate) struct AlertsAndBatches(AlertPolicy);

#[async_trait::async_trait]
impl Reactor for AlertsAndBatches {
    const NAME: &'static str = NAME;

    async fn resume(
        _app: &App,
        saved: Option<(Position, String)>,
    ) -> Result<(Position, Self), BoxError> {
        Ok(match saved {
            Some((position, saved)) => {
                let saved: PolicyState = serde_json::from_str(&saved)?;
                (position, Self(AlertPolicy::from_state(saved)))
            }
            None => (0, Self(AlertPolicy::default())),
        })
    }

    fn saved(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(&self.0.state())
    }

    async fn react(&mut self, state: &App, event: &RecordedEvent) -> Result<(), CodecError> {
        let seen = Seen {
            event_id: event.event_id,
            stream_id: &event.stream_id,
            event_type: &event.event_type,
            schema_version: event.schema_version,
            payload: &event.payload,
            tenant_id: TenantId(event.tenant_id),
            occurred_at: event.occurred_at,
        };
        for alert in self.0.observe(&seen)? {
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
        if event.event_type == BatchEventType::BatchConfirmed.into_str()
            && let Some(batch_id) = id_of::<Batch>(event)
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
        Ok(())
    }
}

/// The id in `event`'s stream, if it is one of `A`'s.
pub(crate) fn id_of<A: Aggregate>(event: &RecordedEvent) -> Option<uuid::Uuid> {
    A::CATEGORY
        .id_in(&event.stream_id)
        .and_then(|id| id.parse().ok())
}

/// `A` as its stream holds it now, asking until the store answers: an
/// error only when the stream cannot be read by this build, which stops
/// the reactor before the event, loudly.
pub(crate) async fn load<A: Aggregate>(app: &App, id: A::Id) -> Result<A, CodecError>
where
    A::Id: Copy,
{
    let is_codec = |e: &CommandError| matches!(e, CommandError::Codec(_));
    match retrying(
        "load an aggregate for a reactor",
        || app.handler.load::<A>(id),
        is_codec,
    )
    .await
    {
        Ok(loaded) => Ok(loaded.state),
        Err(CommandError::Codec(e)) => Err(e),
        // Only a codec error is final.
        Err(_) => Ok(A::default()),
    }
}

/// Runs a reaction until it is decided. A store that fails or a stream that
/// keeps changing is retried with a growing pause: moving on would lose the
/// reaction until the next restart. A domain refusal is final and logged.
pub(crate) async fn persist<T, F, Fut>(what: &str, cause: &RecordedEvent, reaction: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, CommandError>>,
{
    let refused = |e: &CommandError| matches!(e, CommandError::Domain(_));
    if let Err(e) = retrying(what, reaction, refused).await {
        tracing::warn!(cause = %cause.event_id, error = %e, "{what}: refused");
    }
}

/// Runs `attempt` until it succeeds or fails with an error `is_final` calls
/// final, pausing between tries from 100 ms up to 30 s: what a worker must
/// not skip waits for a store that fails, rather than being lost.
pub(crate) async fn retrying<T, E, F, Fut>(
    what: &str,
    mut attempt: F,
    is_final: impl Fn(&E) -> bool,
) -> Result<T, E>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let is_final = &is_final;
    insisting(what, || {
        let tried = attempt();
        async move {
            match tried.await {
                Ok(done) => Ok(Ok(done)),
                Err(e) if is_final(&e) => Ok(Err(e)),
                Err(e) => Err(e),
            }
        }
    })
    .await
}

/// Runs `attempt` until it succeeds, however often it fails, pausing as
/// [`retrying`] does: a read a worker cannot go on without.
pub(crate) async fn insisting<T, E, F, Fut>(what: &str, mut attempt: F) -> T
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut pause = Duration::from_millis(100);
    loop {
        match attempt().await {
            Ok(done) => return done,
            Err(e) => {
                tracing::warn!(error = %e, "{what} failed; retrying in {pause:?}");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(30));
            }
        }
    }
}
