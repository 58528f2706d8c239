//! `agentledger bench`: builds logs of a chosen size with the demo's mix of
//! events, and measures what only a large log shows. Results go to
//! BENCHMARKS.md with the command that produced them.

use std::sync::Arc;
use std::time::Instant;

use agentledger_commands::{CommandError, Handler};
use agentledger_projections::dashboard::{Dashboard, read};
use agentledger_projections::engine::catch_up;
use agentledger_projections::point_in_time::dashboard_as_of;
use agentledger_store::{AsOf, EventFilter, EventStore, Storage};
use uuid::Uuid;

/// Events one demo tenant-day holds, roughly: actions, runs, tasks.
const EVENTS_PER_TENANT_DAY: u64 = 330;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error(transparent)]
    Store(#[from] agentledger_store::StoreError),
    #[error("a seeder stopped: {0}")]
    Seeder(String),
}

/// What seeding did: the new head, and the admin key if the ledger was new.
pub struct Seeded {
    pub head: u64,
    pub admin_key: Option<String>,
}

/// Seeds `tenants` demo tenants at once, each with enough days of activity
/// that the log holds about `events` more events.
pub async fn seed(
    storage: &Storage,
    events: u64,
    tenants: u32,
    progress: impl Fn(u64) + Send + Sync + 'static,
) -> Result<Seeded, BenchError> {
    let tenants = tenants.max(1);
    let days = events
        .div_ceil(u64::from(tenants) * EVENTS_PER_TENANT_DAY)
        .max(1);
    let days = u32::try_from(days).unwrap_or(u32::MAX);
    let handler = Handler::new(storage.events.clone());
    let store = storage.events.clone();
    let progress = Arc::new(progress);
    let watcher = {
        let (store, progress) = (store.clone(), progress.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                progress(store.head_position().await.unwrap_or_default());
            }
        })
    };
    let seeders: Vec<_> = (0..tenants)
        .map(|i| {
            let handler = handler.clone();
            tokio::spawn(async move { crate::demo::seed(&handler, days, u64::from(i)).await })
        })
        .collect();
    let mut result = Ok(());
    let mut admin_key = None;
    for seeder in seeders {
        match seeder.await {
            Ok(Ok(seeded)) => admin_key = admin_key.or(seeded.admin_key),
            Ok(Err(e)) => result = Err(e.into()),
            Err(e) => result = Err(BenchError::Seeder(e.to_string())),
        }
    }
    watcher.abort();
    result?;
    Ok(Seeded {
        head: store.head_position().await?,
        admin_key,
    })
}

/// One row of the point-in-time table.
pub struct PointInTime {
    pub share: u32,
    pub position: u64,
    pub events_replayed: u64,
    pub millis: f64,
}

/// The tenant with the most events (from a sample of the log's start and
/// end), for measuring its dashboard.
pub async fn busiest_tenant(store: &dyn EventStore) -> Result<Option<Uuid>, BenchError> {
    let mut counts = std::collections::HashMap::<Uuid, u64>::new();
    let head = store.head_position().await?;
    for from in [1, head.saturating_sub(10_000).max(1)] {
        for event in store
            .read_all(from, 10_000, &EventFilter::default())
            .await?
        {
            *counts.entry(event.tenant_id).or_default() += 1;
        }
    }
    Ok(counts.into_iter().max_by_key(|(_, n)| *n).map(|(t, _)| t))
}

/// The dashboard of `tenant` as of a quarter, half, three quarters and all of
/// the log, and the live dashboard for comparison (`share` 0).
pub async fn point_in_time(
    storage: &Storage,
    tenant: Uuid,
) -> Result<Vec<PointInTime>, agentledger_projections::engine::ProjectionError> {
    let head = storage.events.head_position().await?;
    let mut rows = Vec::new();
    for share in [25u32, 50, 75, 100] {
        let position = head * u64::from(share) / 100;
        let started = Instant::now();
        let past =
            dashboard_as_of(storage.events.clone(), tenant, AsOf::Position(position)).await?;
        rows.push(PointInTime {
            share,
            position,
            events_replayed: past.map_or(0, |p| p.events_replayed),
            millis: started.elapsed().as_secs_f64() * 1000.0,
        });
    }
    // The live model first catches up, so its read is of the whole log.
    catch_up(&*storage.events, &storage.database, &Dashboard, |_| {}).await?;
    let started = Instant::now();
    read(&storage.database, &tenant.to_string(), chrono::Utc::now()).await?;
    rows.push(PointInTime {
        share: 0,
        position: head,
        events_replayed: 0,
        millis: started.elapsed().as_secs_f64() * 1000.0,
    });
    Ok(rows)
}
