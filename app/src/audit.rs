//! Audit reads, for admins (every tenant) and auditors (their own): the raw
//! log and any stream with filters, tamper evidence over the whole chain,
//! and any aggregate's state at any point of its history.

use agentledger_domain::history;
use agentledger_store::integrity::{Verification, verify};
use agentledger_store::{AsOf, Position, RecordedEvent};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::app::App;
use crate::caller::Operator;
use crate::error::AppError;
use crate::event_filter::EventQuery;
use crate::ranges::{as_of_in_log, in_log};

/// Events one read returns at most.
pub const MAX_EVENTS: usize = 1000;
/// Events one read returns when the caller does not say.
pub const DEFAULT_EVENTS: usize = 100;
/// Stream versions read per page while folding.
const FOLD_PAGE: usize = 1000;

/// A page of the log or of a stream.
#[derive(Debug, Clone)]
pub struct Events {
    pub events: Vec<RecordedEvent>,
    /// Where the next page starts (a position or a version), while there
    /// may be more.
    pub next: Option<u64>,
}

fn events_per_page(limit: Option<usize>) -> Result<usize, AppError> {
    match limit {
        None => Ok(DEFAULT_EVENTS),
        Some(n) if (1..=MAX_EVENTS).contains(&n) => Ok(n),
        Some(n) => Err(AppError::BadRequest(format!(
            "limit must be 1 to {MAX_EVENTS}, not {n}"
        ))),
    }
}

/// The whole log in position order from `from_position`, filtered.
pub async fn read_log(
    app: &App,
    operator: &Operator,
    from_position: Option<u64>,
    limit: Option<usize>,
    query: &EventQuery<'_>,
) -> Result<Events, AppError> {
    let scope = operator.audit_scope()?;
    let limit = events_per_page(limit)?;
    let filter = query.filter(scope)?;
    let from = in_log("from_position", from_position.unwrap_or(0))?;
    let events = app.store.read_all(from, limit, &filter).await?;
    let next = (events.len() == limit)
        .then(|| events.last().map(|e| e.position + 1))
        .flatten();
    Ok(Events { events, next })
}

/// A stream from `from_version`, filtered like the log. A page covers
/// `limit` versions of the stream; with filters it may hold fewer events.
pub async fn read_stream(
    app: &App,
    operator: &Operator,
    stream_id: &str,
    from_version: Option<u64>,
    limit: Option<usize>,
    query: &EventQuery<'_>,
) -> Result<Events, AppError> {
    crate::queries::check_text_filters(&[("stream", Some(stream_id))])?;
    let scope = operator.audit_scope()?;
    let limit = events_per_page(limit)?;
    let filter = query.filter(scope)?;
    let from_version = in_log("from_version", from_version.unwrap_or(0))?;
    let mut events = app
        .store
        .read_stream(stream_id, from_version, limit)
        .await?;
    // A stream belongs to one tenant: another tenant's stream does not exist
    // for an auditor.
    if let Some(tenant) = scope
        && events.iter().any(|e| e.tenant_id != tenant.0)
    {
        events.clear();
    }
    if events.is_empty() && from_version == 0 {
        return Err(AppError::NotFound(format!(
            "stream `{stream_id}` has no events"
        )));
    }
    let next = (events.len() == limit)
        .then(|| events.last().map(|e| e.stream_version + 1))
        .flatten();
    events.retain(|e| filter.matches(e));
    Ok(Events { events, next })
}

/// Walks the whole chain; its cost grows with the length of the log.
pub async fn verify_chain(app: &App, operator: &Operator) -> Result<Verification, AppError> {
    operator.audit_scope()?;
    Ok(verify(&*app.store, |_| {}).await?)
}

/// An aggregate's state at a point of its stream.
#[derive(Debug, Clone)]
pub struct PastState {
    /// The kind of aggregate: its stream prefix.
    pub aggregate: &'static str,
    /// The stream's last version folded (`None`: the stream did not exist yet).
    pub version: Option<u64>,
    /// The log position of that event (0 when none).
    pub position: Position,
    /// When that event was recorded.
    pub recorded_at: Option<DateTime<Utc>>,
    /// As the aggregate's own `evolve` leaves it (secret hashes left out).
    pub state: Value,
}

/// Folds the stream's events up to `as_of` (all of them when absent) with
/// the aggregate's own `evolve`: the state every command saw at that moment.
pub async fn state_as_of(
    app: &App,
    operator: &Operator,
    stream_id: &str,
    as_of: Option<AsOf>,
) -> Result<PastState, AppError> {
    let scope = operator.audit_scope()?;
    let as_of = as_of_in_log(as_of)?;
    let not_found = || AppError::NotFound(format!("stream `{stream_id}` has no events"));
    let unfoldable = |error| AppError::Unfoldable {
        stream_id: stream_id.to_owned(),
        error,
    };
    let mut folder =
        history::folder(stream_id).map_err(|e| AppError::Unprocessable(e.to_string()))?;
    let mut last = None;
    let mut from = 0;
    'pages: loop {
        let page = app.store.read_stream(stream_id, from, FOLD_PAGE).await?;
        let full = page.len() == FOLD_PAGE;
        for event in page {
            // Another tenant's stream does not exist for an auditor.
            if scope.is_some_and(|t| t.0 != event.tenant_id) {
                return Err(not_found());
            }
            if as_of.is_some_and(|a| !a.includes(&event)) {
                break 'pages;
            }
            // Stored events keep the schema version they were written at.
            folder
                .apply_at(&event.event_type, event.schema_version, &event.payload)
                .map_err(unfoldable)?;
            last = Some((event.stream_version, event.position, event.recorded_at));
        }
        if !full {
            break;
        }
        from += FOLD_PAGE as u64;
    }
    // A stream with no events at all does not exist; one that began after
    // the point asked for existed, but not yet.
    if last.is_none() && app.store.read_stream(stream_id, 0, 1).await?.is_empty() {
        return Err(not_found());
    }
    let folded = folder.finish().map_err(unfoldable)?;
    Ok(PastState {
        aggregate: folded.aggregate,
        version: last.map(|(version, _, _)| version),
        position: last.map_or(0, |(_, position, _)| position),
        recorded_at: last.map(|(_, _, at)| at),
        state: folded.state,
    })
}
