//! The dashboard as it was at a past moment: the tenant's latest dashboard
//! snapshot at or before that point (`dashboard_snapshots`) loaded into a
//! scratch copy of the dashboard model (an in-memory database of its own),
//! the tenant's events after it replayed, then read as of that moment. The
//! live model is never touched, and the answer is what the live dashboard
//! showed then, because it is built by the same projection from the same
//! events.
//!
//! The cost is one snapshot and fewer than `dashboard_snapshots::EVERY` of
//! the tenant's events, wherever the moment lies (the scratch database is
//! one kept from an earlier request, emptied, when there is one); without a
//! snapshot (before the tenant's first, or while the model is rebuilt) the
//! tenant's events from the start of the log.

use agentledger_store::{
    AsOf, Database, EventFilter, EventStore, Position, Prefix, scratch_database,
};
use std::sync::{Arc, Mutex, PoisonError};

use agentledger_domain::ids::TenantId;
use chrono::{DateTime, Utc};

use crate::dashboard::{Dashboard, DashboardView, read};
use crate::dashboard_snapshots;
use crate::engine::{BATCH, Projection, ProjectionError, apply_events, reset};

pub struct DashboardAsOf {
    pub dashboard: DashboardView,
    /// The last position of the log included.
    pub position: Position,
    /// The moment the days are counted from.
    pub at: DateTime<Utc>,
    /// Events of the tenant replayed to build it.
    pub events_replayed: u64,
    /// The position of the snapshot it started from, if any.
    pub snapshot: Option<Position>,
}

/// Scratch databases kept between past dashboards, emptied: a new one runs
/// every migration, a kept one only empties the dashboard's tables. As many
/// as may be built at once are kept (`app` allows two).
static SPARE: Mutex<Vec<Database>> = Mutex::new(Vec::new());
const SPARES: usize = 2;

async fn spare_or_new() -> Result<Database, ProjectionError> {
    let spare = SPARE.lock().unwrap_or_else(PoisonError::into_inner).pop();
    match spare {
        Some(db) => Ok(db),
        None => Ok(scratch_database().await?),
    }
}

/// Empties `scratch` of the dashboard and keeps it for the next past
/// dashboard; one that cannot be emptied is dropped.
async fn give_back(scratch: Database) {
    if reset(&scratch, &Dashboard).await.is_ok() {
        let mut spare = SPARE.lock().unwrap_or_else(PoisonError::into_inner);
        if spare.len() < SPARES {
            spare.push(scratch);
        }
    }
}

/// The dashboard of `tenant` as of `as_of`, from the snapshots `models`
/// holds; `None` when that is past the head.
pub async fn dashboard_as_of(
    store: Arc<dyn EventStore>,
    models: &Database,
    tenant: TenantId,
    as_of: AsOf,
) -> Result<Option<DashboardAsOf>, ProjectionError> {
    let Some(position) = as_of.resolve(&*store).await? else {
        return Ok(None);
    };
    let at = match as_of {
        AsOf::Time(t) => t,
        // Before the first event, no day has been counted.
        AsOf::Position(0) => DateTime::UNIX_EPOCH,
        // The moment the event at that position was recorded.
        AsOf::Position(_) => store
            .read_all(position, 1, &EventFilter::default())
            .await?
            .first()
            .map_or(DateTime::UNIX_EPOCH, |e| e.recorded_at),
    };
    let scratch = spare_or_new().await?;
    let snapshot = dashboard_snapshots::latest(models, tenant, position).await?;
    if let Some((_, state)) = &snapshot {
        dashboard_snapshots::restore(&scratch, tenant, state).await?;
    }
    let snapshot = snapshot.map(|(at, _)| at);
    let filter = EventFilter {
        tenant_id: Some(tenant.0),
        event_types: Dashboard
            .event_types()
            .iter()
            .map(|t| (*t).to_owned())
            .collect(),
        ..EventFilter::default()
    };
    let mut prefix =
        Prefix::new(store, filter, position, BATCH).starting_at(snapshot.map_or(1, |at| at + 1));
    let mut events_replayed = 0;
    while let Some(page) = prefix.next_page().await? {
        apply_events(&scratch, &Dashboard, &page).await?;
        events_replayed += page.len() as u64;
    }
    let dashboard = read(&scratch, tenant, at).await?;
    give_back(scratch).await;
    Ok(Some(DashboardAsOf {
        dashboard,
        position,
        at,
        events_replayed,
        snapshot,
    }))
}
