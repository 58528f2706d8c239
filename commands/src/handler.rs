use std::sync::Arc;

use agentledger_domain::codec::{decode, encode};
use agentledger_domain::ids::TenantId;
use agentledger_domain::upcast::current_version;
use agentledger_domain::{Actor, Aggregate, DomainError};
use agentledger_store::{EventStore, ExpectedVersion, NewEvent, StoreError};
use chrono::{DateTime, Utc};
use sha2::Digest;
use uuid::Uuid;

use crate::cache::AggregateCache;
use crate::error::CommandError;

/// How often a command is re-decided after losing a race for its stream.
const MAX_ATTEMPTS: usize = 8;
const PAGE: usize = 1000;

/// Who issues a command, for whom, and why: stamped on every event it causes.
#[derive(Debug, Clone)]
pub struct Context {
    pub tenant_id: TenantId,
    /// `Some` restricts the command to aggregates of that tenant: any other is
    /// reported as not found. `None` for admins and the system.
    pub tenant_scope: Option<TenantId>,
    pub actor: Actor,
    pub correlation_id: Option<Uuid>,
    pub causation_id: Option<Uuid>,
    pub at: DateTime<Utc>,
    /// Set by reactors: event ids are derived from the causing event, so the
    /// store refuses to write the same reaction twice.
    pub derive_event_ids: bool,
}

/// A UUID derived from `seed`: the same seed gives the same id, always.
pub fn derived_id(seed: &str) -> Uuid {
    let digest = sha2::Sha256::digest(seed.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::new_v8(bytes)
}

impl Context {
    pub fn system(tenant_id: TenantId, id: &str) -> Self {
        Self {
            tenant_id,
            tenant_scope: None,
            actor: Actor::system(id),
            correlation_id: None,
            causation_id: None,
            at: agentledger_store::now(),
            derive_event_ids: false,
        }
    }

    /// A reactor's context: caused by `cause`, with derived event ids.
    pub fn reaction(
        tenant_id: TenantId,
        reactor: &str,
        cause: Uuid,
        correlation_id: Option<Uuid>,
    ) -> Self {
        Self {
            causation_id: Some(cause),
            correlation_id,
            derive_event_ids: true,
            ..Self::system(tenant_id, reactor)
        }
    }
}

/// An aggregate as its stream holds it.
#[derive(Debug, Clone)]
pub struct Loaded<A> {
    pub state: A,
    /// The stream's last version; `None` while it holds nothing.
    pub version: Option<u64>,
    /// The global position of its last event (0 while it holds nothing).
    pub position: u64,
}

/// The result of a command: the state after it, what it appended and where.
#[derive(Debug, Clone)]
pub struct Executed<A: Aggregate> {
    pub state: A,
    pub events: Vec<A::Event>,
    /// Global position of the last appended event; the stream's previous last
    /// position when nothing was appended (0 for a new stream).
    pub position: u64,
    pub version: Option<u64>,
}

#[derive(Clone)]
pub struct Handler {
    store: Arc<dyn EventStore>,
    cache: Arc<AggregateCache>,
}

impl Handler {
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self {
            store,
            cache: Arc::new(AggregateCache::default()),
        }
    }

    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    /// The aggregate named `id`, as its stream holds it now.
    pub async fn load<A: Aggregate>(
        &self,
        id: impl Into<A::Id>,
    ) -> Result<Loaded<A>, CommandError> {
        self.load_stream::<A>(&A::stream_id(id)).await
    }

    /// The aggregate whose stream is `stream_id`, as it holds it now.
    pub async fn load_stream<A: Aggregate>(
        &self,
        stream_id: &str,
    ) -> Result<Loaded<A>, CommandError> {
        let (mut state, mut version, mut position) =
            self.cache.get::<A>(stream_id).unwrap_or_default();
        let cached = version;
        loop {
            let from = version.map_or(0, |v| v + 1);
            let page = self.store.read_stream(stream_id, from, PAGE).await?;
            for event in &page {
                let decoded: A::Event =
                    decode(&event.event_type, event.schema_version, &event.payload)?;
                state = A::evolve(state, &decoded);
                version = Some(event.stream_version);
                position = event.position;
            }
            if page.len() < PAGE {
                break;
            }
        }
        // A state the cache already holds is not copied into it again.
        if version != cached {
            self.cache.put(stream_id, state.clone(), version, position);
        }
        Ok(Loaded {
            state,
            version,
            position,
        })
    }

    /// Loads, decides and appends, re-deciding on a lost race. The command is
    /// re-run on the fresh state each time, so its outcome is always a
    /// decision on the state it was appended after.
    /// Runs `command` on the aggregate named `id`: [`Handler::execute`] on
    /// its stream.
    pub async fn run<A>(
        &self,
        ctx: &Context,
        id: impl Into<A::Id>,
        command: A::Command,
    ) -> Result<Executed<A>, CommandError>
    where
        A: Aggregate,
        A::Command: Clone,
    {
        self.execute::<A>(&A::stream_id(id), ctx, command).await
    }

    pub async fn execute<A>(
        &self,
        stream_id: &str,
        ctx: &Context,
        command: A::Command,
    ) -> Result<Executed<A>, CommandError>
    where
        A: Aggregate,
        A::Command: Clone,
    {
        self.decide_and_append::<A>(stream_id, ctx, |state| A::decide(state, command.clone()))
            .await
    }

    /// Runs `commands` one after another on the aggregate named `id` and
    /// appends all their events at once, so that nothing (an engine acting on
    /// the first event, say) can come between them. Each command is decided
    /// on the state the ones before it left; one refusal refuses them all.
    pub async fn run_all<A>(
        &self,
        ctx: &Context,
        id: impl Into<A::Id>,
        commands: Vec<A::Command>,
    ) -> Result<Executed<A>, CommandError>
    where
        A: Aggregate,
        A::Command: Clone,
    {
        let stream_id = A::stream_id(id);
        self.decide_and_append::<A>(&stream_id, ctx, |state| {
            let mut state = state.clone();
            let mut events = Vec::new();
            for command in &commands {
                let decided = A::decide(&state, command.clone())?;
                state = decided.iter().fold(state, A::evolve);
                events.extend(decided);
            }
            Ok(events)
        })
        .await
    }

    async fn decide_and_append<A: Aggregate>(
        &self,
        stream_id: &str,
        ctx: &Context,
        decide: impl Fn(&A) -> Result<Vec<A::Event>, DomainError>,
    ) -> Result<Executed<A>, CommandError> {
        for attempt in 0..MAX_ATTEMPTS {
            let Loaded {
                state,
                version,
                position,
            } = self.load_stream::<A>(stream_id).await?;
            in_scope(ctx, &state)?;
            let events = decide(&state)?;
            if events.is_empty() {
                return Ok(Executed {
                    state,
                    events,
                    position,
                    version,
                });
            }
            let expected = if events.iter().all(A::is_observation) {
                ExpectedVersion::Any
            } else {
                version.map_or(ExpectedVersion::NoStream, ExpectedVersion::Exact)
            };
            // Events belong to the aggregate's tenant, whoever caused them
            // (an admin acting across tenants).
            let owner_ctx;
            let stamp = match state.owner() {
                Some(owner) if owner != ctx.tenant_id => {
                    owner_ctx = Context {
                        tenant_id: owner,
                        ..ctx.clone()
                    };
                    &owner_ctx
                }
                _ => ctx,
            };
            let new_events = self.envelopes(stamp, stream_id, &events)?;
            match self.store.append(stream_id, expected, new_events).await {
                Ok(outcome) => {
                    let state = events.iter().fold(state, A::evolve);
                    let (previous, version) = (version, outcome.last_version());
                    let position = outcome.last_position();
                    // Observations go in without an expected version: others may
                    // have appended in between, which this state has not seen.
                    let contiguous =
                        version == Some(previous.map_or(0, |v| v + 1) + events.len() as u64 - 1);
                    if contiguous && !outcome.deduplicated {
                        self.cache.put(stream_id, state.clone(), version, position);
                    }
                    return Ok(Executed {
                        state,
                        events,
                        position,
                        version,
                    });
                }
                Err(StoreError::Conflict { .. }) => {
                    // Spread the retries of many losers so they stop colliding.
                    let ceiling = 1u64 << attempt.min(6);
                    let pause = rand::random_range(0..=ceiling);
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(CommandError::Contention(stream_id.to_owned()))
    }

    /// Appends facts that no aggregate decides on (reports), as one atomic batch.
    pub async fn append_facts<E: serde::Serialize>(
        &self,
        stream_id: &str,
        ctx: &Context,
        events: &[E],
    ) -> Result<agentledger_store::AppendOutcome, CommandError> {
        let new_events = self.envelopes(ctx, stream_id, events)?;
        Ok(self
            .store
            .append(stream_id, ExpectedVersion::Any, new_events)
            .await?)
    }

    fn envelopes<E: serde::Serialize>(
        &self,
        ctx: &Context,
        stream_id: &str,
        events: &[E],
    ) -> Result<Vec<NewEvent>, CommandError> {
        events
            .iter()
            .enumerate()
            .map(|(index, event)| {
                let (event_type, payload) = encode(event)?;
                // The last check before the log: no string of any event may
                // carry what a read model cannot store (`text`).
                agentledger_domain::text::check_strings(&payload)?;
                let schema_version = current_version(&event_type);
                let mut new =
                    NewEvent::new(ctx.tenant_id.0, ctx.actor.clone(), event_type, payload);
                new.schema_version = schema_version;
                if let (true, Some(cause)) = (ctx.derive_event_ids, ctx.causation_id) {
                    new.event_id = derived_id(&format!("{cause}/{stream_id}/{index}"));
                }
                new.occurred_at = ctx.at;
                new.correlation_id = ctx.correlation_id;
                new.causation_id = ctx.causation_id;
                Ok(new)
            })
            .collect()
    }
}

/// Another tenant's aggregate is, to a caller scoped to one tenant, one
/// that does not exist.
pub fn in_scope<A: Aggregate>(ctx: &Context, state: &A) -> Result<(), DomainError> {
    match (ctx.tenant_scope, state.owner()) {
        (Some(scope), Some(owner)) if scope != owner => Err(DomainError::NotFound(A::ENTITY)),
        _ => Ok(()),
    }
}
