//! The load generators behind `agentledger bench`: logs of a chosen size with
//! the demo's mix of events, and measurements of what only a large log shows.
//! The server does not carry them; results go to BENCHMARKS.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

pub mod grow;
pub mod ingest;
pub mod pages;
pub mod peers;
pub mod push;

use agentledger_commands::{CommandError, Handler};
use agentledger_domain::ids::TenantId;
use agentledger_projections::dashboard::{Dashboard, read};
use agentledger_projections::dashboard_snapshots;
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
    #[error("load: {0}")]
    Load(String),
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
            let (handler, database) = (handler.clone(), storage.database.clone());
            tokio::spawn(async move {
                agentledger_app::demo::seed(&handler, &database, days, u64::from(i)).await
            })
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
    /// The snapshot it started from.
    pub snapshot: Option<u64>,
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

/// Timings of past dashboards at moments drawn at random.
pub struct Moments {
    /// Over the whole log.
    pub whole_log: Vec<Duration>,
    /// Over the tenant's own history (up to its latest snapshot), where the
    /// events replayed after a snapshot vary; in a grown log a tenant's
    /// events are one stretch of it, and moments past that stretch all
    /// replay the same events.
    pub tenant_history: Vec<Duration>,
}

/// The dashboard of `tenant` as of a quarter, half, three quarters and all of
/// the log, and the live dashboard for comparison (`share` 0); then as of
/// `samples` moments drawn at random over the whole log and as many over the
/// tenant's own history. The live model catches up first: its snapshots are
/// what a past dashboard starts from.
pub async fn point_in_time(
    storage: &Storage,
    tenant: Uuid,
    samples: usize,
) -> Result<(Vec<PointInTime>, Moments), agentledger_projections::engine::ProjectionError> {
    let tenant = TenantId(tenant);
    catch_up(&*storage.events, &storage.database, &Dashboard, |_| {}).await?;
    let head = storage.events.head_position().await?;
    let past = |position: u64| async move {
        let started = Instant::now();
        let past = dashboard_as_of(
            storage.events.clone(),
            &storage.database,
            tenant,
            AsOf::Position(position),
        )
        .await?;
        Ok::<_, agentledger_projections::engine::ProjectionError>((past, started.elapsed()))
    };
    let mut rows = Vec::new();
    for share in [25u32, 50, 75, 100] {
        let position = head * u64::from(share) / 100;
        let (past, took) = past(position).await?;
        rows.push(PointInTime {
            share,
            position,
            events_replayed: past.as_ref().map_or(0, |p| p.events_replayed),
            snapshot: past.and_then(|p| p.snapshot),
            millis: took.as_secs_f64() * 1000.0,
        });
    }
    let started = Instant::now();
    read(&storage.database, tenant, chrono::Utc::now()).await?;
    rows.push(PointInTime {
        share: 0,
        position: head,
        events_replayed: 0,
        snapshot: None,
        millis: started.elapsed().as_secs_f64() * 1000.0,
    });
    let history = dashboard_snapshots::latest(&storage.database, tenant, head)
        .await?
        .map_or(head, |(at, _)| at);
    let mut moments = Moments {
        whole_log: Vec::with_capacity(samples),
        tenant_history: Vec::with_capacity(samples),
    };
    for _ in 0..samples {
        let (_, took) = past(rand::random_range(1..=head.max(1))).await?;
        moments.whole_log.push(took);
        let (_, took) = past(rand::random_range(1..=history.max(1))).await?;
        moments.tenant_history.push(took);
    }
    Ok((rows, moments))
}

/// Latency percentiles of a set of timings, in milliseconds.
pub struct Percentiles {
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
}

impl Percentiles {
    /// p50, p99 and p99.9 as the cells of a Markdown table row.
    pub fn cells(&self) -> String {
        format!("{:.2} | {:.2} | {:.2}", self.p50, self.p99, self.p999)
    }
}

pub fn percentiles(mut timings: Vec<std::time::Duration>) -> Percentiles {
    timings.sort_unstable();
    let at = |q: f64| {
        let index = ((timings.len() as f64 - 1.0) * q).round() as usize;
        timings.get(index).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Percentiles {
        p50: at(0.50),
        p99: at(0.99),
        p999: at(0.999),
    }
}

/// One run of appends straight to the store.
pub struct StoreRun {
    pub writers: usize,
    pub batch: usize,
    pub events: u64,
    pub seconds: f64,
    pub latency: Percentiles,
}

impl StoreRun {
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.seconds.max(1e-9)
    }
}

/// The writers and events per append every store table is measured with.
pub const WRITERS: [usize; 3] = [1, 16, 64];
pub const BATCHES: [usize; 2] = [1, 100];

/// One writer of a timed run: appends `batch` events, durably, per call.
#[async_trait::async_trait]
pub trait Writer: Send + 'static {
    async fn write(&mut self, batch: usize) -> Result<(), BenchError>;
}

/// Runs every writer for `seconds`, each waiting for its write to be durable
/// before the next, and times each write.
pub async fn timed<W: Writer>(
    writers: Vec<W>,
    batch: usize,
    seconds: f64,
) -> Result<StoreRun, BenchError> {
    let count = writers.len();
    let deadline = Instant::now() + std::time::Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = writers
        .into_iter()
        .map(|mut writer| {
            tokio::spawn(async move {
                let mut timings = Vec::new();
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    writer.write(batch).await?;
                    timings.push(sent.elapsed());
                }
                Ok::<_, BenchError>(timings)
            })
        })
        .collect();
    let mut timings = Vec::new();
    for task in tasks {
        match task.await {
            Ok(Ok(t)) => timings.extend(t),
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(BenchError::Seeder(e.to_string())),
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(StoreRun {
        writers: count,
        batch,
        events: (timings.len() * batch) as u64,
        seconds,
        latency: percentiles(timings),
    })
}

/// The payload of the `i`th event of a benchmark batch: an agent's action,
/// the log's most common event, at its usual size.
pub fn action_payload(agent: Uuid, i: usize) -> serde_json::Value {
    serde_json::json!({
        "agent_id": agent, "action": "approve_post", "resource_type": "post",
        "resource_id": format!("r-{i}"), "status": "success", "confidence": 0.9,
        "execution_time_ms": 120, "reasoning": "matched policy rules",
        "request_data": { "batch": i }
    })
}

/// Appends to a stream of its own through agentledger's store.
struct StoreWriter {
    store: Arc<dyn EventStore>,
    tenant: Uuid,
    stream: String,
}

#[async_trait::async_trait]
impl Writer for StoreWriter {
    async fn write(&mut self, batch: usize) -> Result<(), BenchError> {
        use agentledger_store::{ExpectedVersion, NewEvent};
        let events = (0..batch)
            .map(|i| {
                NewEvent::new(
                    self.tenant,
                    agentledger_domain::Actor::system("bench"),
                    agentledger_domain::reports::ReportEventType::ActionRecorded.into_str(),
                    action_payload(self.tenant, i),
                )
            })
            .collect();
        self.store
            .append(&self.stream, ExpectedVersion::Any, events)
            .await?;
        Ok(())
    }
}

/// `writers` tasks append batches of `batch` events to streams of their own
/// for `seconds`, each waiting for its append to be durable before the next.
pub async fn store_ceiling(
    store: Arc<dyn EventStore>,
    writers: usize,
    batch: usize,
    seconds: f64,
) -> Result<StoreRun, BenchError> {
    let tenant = Uuid::now_v7();
    let writers = (0..writers)
        .map(|w| StoreWriter {
            store: store.clone(),
            tenant,
            stream: format!("bench-{}-{w}", Uuid::now_v7()),
        })
        .collect();
    timed(writers, batch, seconds).await
}

/// Timings of the read-model queries a dashboard reader makes, for `tenant`.
pub async fn queries(
    storage: &Storage,
    tenant: Uuid,
    rounds: usize,
) -> Result<Vec<(&'static str, Percentiles)>, agentledger_projections::engine::ProjectionError> {
    use agentledger_projections::agent_stats::{self, AgentStats};
    use agentledger_projections::operation_log::{self, OperationLog};
    for projection in [
        &Dashboard as &dyn agentledger_projections::engine::Projection,
        &OperationLog,
        &AgentStats,
    ] {
        catch_up(&*storage.events, &storage.database, projection, |_| {}).await?;
    }
    let tenant = TenantId(tenant);
    let db = &storage.database;
    let mut results = Vec::new();
    let mut time = |name: &'static str, timings: Vec<std::time::Duration>| {
        results.push((name, percentiles(timings)));
    };
    let mut timings = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        read(db, tenant, chrono::Utc::now()).await?;
        timings.push(started.elapsed());
    }
    time("dashboard", timings);
    let mut timings = Vec::with_capacity(rounds);
    let filter = operation_log::Filter {
        tenant_id: tenant,
        ..Default::default()
    };
    for _ in 0..rounds {
        let started = Instant::now();
        operation_log::list(db, &filter, None, 50).await?;
        timings.push(started.elapsed());
    }
    time("operation log, first page of 50", timings);
    let mut timings = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        agent_stats::read(db, tenant, None, chrono::Utc::now()).await?;
        timings.push(started.elapsed());
    }
    time("agent stats, all agents", timings);
    Ok(results)
}
