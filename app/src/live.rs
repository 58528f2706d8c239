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
use std::sync::{Arc, Mutex, PoisonError};

use agentledger_domain::catalogue;
use agentledger_domain::ids::TenantId;
use agentledger_store::{EventFilter, Position, RecordedEvent, Subscription};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use crate::app::App;
use crate::caller::Caller;
use crate::error::AppError;
use crate::event_filter::MAX_TYPES;
use crate::relevance::Relevance;

/// How far (in log positions) a client that was live may fall behind the
/// head before its feed ends with a place to resume from.
pub const MAX_LAG: u64 = 50_000;

/// How many feeds may be open at once, over SSE and WebSocket together:
/// in all, and per tenant, so one tenant cannot take every slot.
#[derive(Clone)]
pub struct FeedSlots {
    all: Arc<Semaphore>,
    per_tenant: usize,
    held: Arc<Mutex<HashMap<TenantId, usize>>>,
}

impl FeedSlots {
    pub fn new(max: usize, per_tenant: usize) -> Self {
        Self {
            all: Arc::new(Semaphore::new(max)),
            per_tenant,
            held: Arc::default(),
        }
    }

    fn take(&self, tenant: TenantId) -> Result<FeedSlot, AppError> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let count = held.entry(tenant).or_default();
        if *count >= self.per_tenant {
            return Err(AppError::Unavailable(format!(
                "this tenant holds as many live feeds as one may ({}); close one or retry later",
                self.per_tenant
            )));
        }
        let permit = self.all.clone().try_acquire_owned().map_err(|_| {
            AppError::Unavailable("the server holds as many live feeds as it may".into())
        })?;
        *count += 1;
        Ok(FeedSlot {
            _permit: permit,
            tenant,
            held: self.held.clone(),
        })
    }
}

/// A feed's place among the open ones, given back when dropped.
struct FeedSlot {
    _permit: OwnedSemaphorePermit,
    tenant: TenantId,
    held: Arc<Mutex<HashMap<TenantId, usize>>>,
}

impl Drop for FeedSlot {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = held.get_mut(&self.tenant) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                held.remove(&self.tenant);
            }
        }
    }
}

/// What a client asks a feed for.
#[derive(Debug, Clone)]
pub struct FeedRequest<'a> {
    /// Event types of the catalogue; all when empty.
    pub types: Vec<String>,
    /// One stream, `<category>-<id>`.
    pub stream: Option<&'a str>,
    pub correlation_id: Option<Uuid>,
    /// The last position the client has; the feed starts after it. `None`:
    /// only events that commit from now on.
    pub after: Option<Position>,
    /// The credentials the feed was opened with, checked again every
    /// [`RECHECK`]: a feed ends when its token expires or its key is revoked.
    pub credentials: Credentials<'a>,
}

/// What a feed's caller proved who they are with.
#[derive(Debug, Clone, Copy)]
pub enum Credentials<'a> {
    /// An API key or an agent's access token.
    Bearer(&'a str),
    /// A web console session's token: the feed also ends at sign-out.
    ConsoleSession(&'a str),
}

/// The same, owned by an open feed.
enum HeldCredentials {
    Bearer(String),
    ConsoleSession(String),
}

impl HeldCredentials {
    /// Fails with what the caller would be told now if the credentials no
    /// longer open anything.
    async fn check(&self, app: &App) -> Result<(), AppError> {
        match self {
            HeldCredentials::Bearer(token) => app.caller(token, Uuid::nil()).await.map(|_| ()),
            HeldCredentials::ConsoleSession(token) => {
                crate::console_sessions::session(app, token, Uuid::nil())
                    .await
                    .map(|_| ())
            }
        }
    }
}

impl From<Credentials<'_>> for HeldCredentials {
    fn from(credentials: Credentials<'_>) -> Self {
        match credentials {
            Credentials::Bearer(token) => HeldCredentials::Bearer(token.to_owned()),
            Credentials::ConsoleSession(token) => HeldCredentials::ConsoleSession(token.to_owned()),
        }
    }
}

/// How often an open feed checks its credentials again.
pub const RECHECK: std::time::Duration = std::time::Duration::from_secs(60);

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
    credentials: HeldCredentials,
    checked_at: tokio::time::Instant,
    _slot: FeedSlot,
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
        catalogue::check_known("types", &event_types)
            .map_err(|e| AppError::Unprocessable(e.to_string()))?;
        if let Some(stream) = asked.stream
            && !stream.contains('-')
        {
            return Err(AppError::BadRequest(
                "`stream` names one stream, `<category>-<id>`".into(),
            ));
        }
        let slot = self.live_feeds.take(tenant)?;
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
            credentials: asked.credentials.into(),
            checked_at: tokio::time::Instant::now(),
            _slot: slot,
        })
    }
}

impl Feed {
    /// The next event for this client, waiting for one to commit.
    /// Cancel-safe: dropped before it returns, it loses no event.
    pub async fn next(&mut self) -> Result<FeedItem, AppError> {
        loop {
            if self.checked_at.elapsed() >= RECHECK {
                // Expired, revoked or disabled since the feed opened: it
                // ends with the problem the caller would get now.
                self.credentials.check(&self.app).await?;
                self.checked_at = tokio::time::Instant::now();
            }
            let event = match self.pending.take() {
                Some(event) => event,
                None => {
                    let wait = RECHECK.saturating_sub(self.checked_at.elapsed());
                    match tokio::time::timeout(wait, self.subscription.next()).await {
                        Ok(next) => next?,
                        Err(_) => continue,
                    }
                }
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
