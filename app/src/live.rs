//! Live feeds: a tenant's events as they commit, for SSE and WebSocket
//! clients. A feed is a store subscription from the position the client last
//! saw, so catch-up and live delivery are one ordered read: nothing is sent
//! twice and nothing is skipped across reconnects. The subscription pulls a
//! page at a time when the client takes more, so a slow client holds no
//! more than a page of memory; one that falls too far behind the head is
//! told where to resume and let go, rather than dragging the database
//! through a long catch-up while live.
//!
//! The tenant is the caller's, never a parameter. Agents see only what
//! concerns them: their own stream, the commands issued to them and the
//! tasks they hold.

use std::collections::HashMap;
use std::sync::Arc;

use agentledger_domain::Aggregate;
use agentledger_domain::agent::Agent;
use agentledger_domain::catalogue;
use agentledger_domain::ids::{AgentId, TaskId};
use agentledger_domain::instruction::Instruction;
use agentledger_domain::task::{Task, TaskEventType};
use agentledger_store::{EventFilter, Position, RecordedEvent, Subscription};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use crate::app::App;
use crate::caller::Caller;
use crate::error::AppError;
use crate::event_filter::MAX_TYPES;

/// How far (in log positions) a client that was live may fall behind the
/// head before its feed ends with a place to resume from.
pub const MAX_LAG: u64 = 50_000;
/// Streams whose relevance to an agent a feed remembers; past this it
/// forgets them all and looks again.
const REMEMBERED_STREAMS: usize = 4096;

/// How many feeds may be open at once, over SSE and WebSocket together.
#[derive(Clone)]
pub struct FeedSlots(Arc<Semaphore>);

impl FeedSlots {
    pub fn new(max: usize) -> Self {
        Self(Arc::new(Semaphore::new(max)))
    }
}

/// What a client asks a feed for.
#[derive(Debug, Clone, Default)]
pub struct FeedRequest<'a> {
    /// Event types of the catalogue; all when empty.
    pub types: Vec<String>,
    /// One stream, `<category>-<id>`.
    pub stream: Option<&'a str>,
    pub correlation_id: Option<Uuid>,
    /// The last position the client has; the feed starts after it. `None`:
    /// only events that commit from now on.
    pub after: Option<Position>,
}

/// What a feed hands out next.
#[derive(Debug)]
pub enum FeedItem {
    Event(Box<RecordedEvent>),
    /// The client fell more than [`MAX_LAG`] behind the head; it should
    /// reconnect after `resume_after`.
    Behind {
        resume_after: Position,
    },
}

/// An open feed. Dropping it frees its slot.
pub struct Feed {
    app: App,
    subscription: Subscription,
    /// For an agent: which streams concern it.
    agent: Option<Relevance>,
    /// The last position handed out or passed over (or the start).
    last: Position,
    /// The head when the feed opened: a client is live once past it, and
    /// only then can it fall behind.
    opened_at: Position,
    live: bool,
    /// The event being looked at, kept here across an await so that a
    /// caller that gives up on `next` (to send a ping, say) loses nothing.
    pending: Option<RecordedEvent>,
    _slot: OwnedSemaphorePermit,
}

impl App {
    /// Opens a feed of the caller's tenant.
    pub async fn open_feed(
        &self,
        caller: &Caller,
        asked: FeedRequest<'_>,
    ) -> Result<Feed, AppError> {
        let (tenant, agent) = match caller {
            Caller::Operator(op) => (op.tenant_id, None),
            Caller::Agent(a) => (a.agent.tenant_id, Some(a.agent_id)),
        };
        let event_types = asked.types;
        if event_types.len() > MAX_TYPES {
            return Err(AppError::Unprocessable(format!(
                "at most {MAX_TYPES} event types at once"
            )));
        }
        if let Some(unknown) = event_types.iter().find(|t| !catalogue::is_known(t)) {
            return Err(AppError::Unprocessable(format!(
                "`{unknown}` is not an event type of the catalogue"
            )));
        }
        if let Some(stream) = asked.stream
            && !stream.contains('-')
        {
            return Err(AppError::BadRequest(
                "`stream` names one stream, `<category>-<id>`".into(),
            ));
        }
        let slot = self.live_feeds.0.clone().try_acquire_owned().map_err(|_| {
            AppError::Unavailable("the server holds as many live feeds as it may".into())
        })?;
        let head = self.store.head_position().await?;
        let after = asked.after.unwrap_or(head);
        let filter = EventFilter {
            event_types,
            tenant_id: Some(tenant.0),
            stream_id: asked.stream.map(str::to_owned),
            correlation_id: asked.correlation_id,
            ..EventFilter::default()
        };
        Ok(Feed {
            app: self.clone(),
            subscription: self.store.subscribe_all(after.saturating_add(1), filter),
            agent: agent.map(Relevance::new),
            last: after,
            opened_at: head,
            live: after >= head,
            pending: None,
            _slot: slot,
        })
    }
}

impl Feed {
    /// The next event for this client, waiting for one to commit.
    /// Cancel-safe: dropped before it returns, it loses no event.
    pub async fn next(&mut self) -> Result<FeedItem, AppError> {
        loop {
            let event = match self.pending.take() {
                Some(event) => event,
                None => self.subscription.next().await?,
            };
            let behind = self
                .subscription
                .announced_head()
                .saturating_sub(event.position);
            if self.live && behind > MAX_LAG {
                self.pending = Some(event);
                return Ok(FeedItem::Behind {
                    resume_after: self.last,
                });
            }
            self.live |= event.position >= self.opened_at;
            let event = self.pending.insert(event);
            let shown = match &mut self.agent {
                None => true,
                Some(relevance) => relevance.concerns(&self.app, event).await?,
            };
            let Some(event) = self.pending.take() else {
                continue;
            };
            self.last = event.position;
            if shown {
                return Ok(FeedItem::Event(Box::new(event)));
            }
        }
    }

    /// The last position handed out or passed over.
    pub fn last_position(&self) -> Position {
        self.last
    }
}

/// Which streams concern one agent: its own, the commands issued to it and
/// the tasks it holds. Commands never change hands, so the answer for a
/// command stream is kept; a task's holder changes only when it is claimed,
/// so a claim makes the feed look again.
struct Relevance {
    agent: AgentId,
    known: HashMap<String, bool>,
}

impl Relevance {
    fn new(agent: AgentId) -> Self {
        Self {
            agent,
            known: HashMap::new(),
        }
    }

    async fn concerns(&mut self, app: &App, event: &RecordedEvent) -> Result<bool, AppError> {
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
