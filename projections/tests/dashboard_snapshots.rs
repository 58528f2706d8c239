//! A past dashboard built from a snapshot and the events after it equals one
//! replayed from the start of the log, at every moment: before the first
//! snapshot, on one, between two, across days, time zone changes, alerts
//! handled after they fell out of the newest ten, and budgets set later.

use std::sync::Arc;

use agentledger_domain::alert::{Alert, AlertEvent, AlertSource, RaisedAlert, Severity};
use agentledger_domain::budget::{Budget, BudgetEvent, Limits};
use agentledger_domain::codec::encode;
use agentledger_domain::ids::{AgentId, TenantId};
use agentledger_domain::reports::{ReportEvent, RunStatus};
use agentledger_domain::tenant::{Tenant, TenantEvent};
use agentledger_domain::{Actor, Aggregate};
use agentledger_projections::dashboard::Dashboard;
use agentledger_projections::dashboard_snapshots::EVERY;
use agentledger_projections::engine::catch_up;
use agentledger_projections::point_in_time::dashboard_as_of;
use agentledger_store::testing::TestDatabase;
use agentledger_store::{
    AsOf, EventStore, ExpectedVersion, NewEvent, StoreConfig, scratch_database,
};
use chrono::{Duration, TimeZone, Utc};
use uuid::Uuid;

fn new_event(tenant: TenantId, event: &impl agentledger_domain::Event, day: i64) -> NewEvent {
    let (event_type, payload) = encode(event).unwrap_or_else(|e| panic!("the event encodes: {e}"));
    let mut new = NewEvent::new(tenant.0, Actor::system("test"), event_type, payload);
    // Runs spread over five weeks, so snapshots fall in different weeks and months.
    new.occurred_at = Utc.with_ymd_and_hms(2026, 10, 20, 10, 0, 0).unwrap() + Duration::hours(day);
    new
}

fn run(i: usize) -> ReportEvent {
    ReportEvent::LlmRunRecorded {
        agent_id: AgentId(Uuid::from_u128(i as u128 % 3 + 1)),
        app_type: ["moderation", "triage", "summary"][i % 3].into(),
        trigger_type: "schedule".into(),
        member_id: None,
        model: "m".into(),
        prompt_tokens: 100 + i as u64 % 17,
        completion_tokens: 20,
        cost_micros: 2100 + i as i64 % 13,
        latency_ms: 50 + (i as u64 * 37) % 2000,
        status: if i.is_multiple_of(11) {
            RunStatus::Failed
        } else {
            RunStatus::Success
        },
        error_message: None,
        session_id: None,
        prompt: None,
        response: None,
        task_id: None,
    }
}

async fn append(store: &dyn EventStore, stream: &str, events: Vec<NewEvent>) {
    if let Err(e) = store.append(stream, ExpectedVersion::Any, events).await {
        panic!("append to {stream}: {e}");
    }
}

/// `runs` runs of `tenant` in appends of 25, with alerts raised every 100
/// and handled 1500 later, and the zone and budget changed along the way.
async fn history(store: &dyn EventStore, tenant: TenantId, runs: usize) {
    let mut alerts = Vec::new();
    for start in (0..runs).step_by(25) {
        let day = (start / 90) as i64 * 24 + (start % 7) as i64;
        let events = (start..(start + 25).min(runs))
            .map(|i| new_event(tenant, &run(i), day))
            .collect();
        append(store, &format!("runs-{}", tenant.0), events).await;
        if start.is_multiple_of(100) {
            let alert = Uuid::now_v7();
            let raised = AlertEvent::AlertRaised(RaisedAlert {
                tenant_id: tenant,
                source: AlertSource::Budget,
                severity: Severity::Warning,
                title: format!("alert {start}"),
                detail: "d".into(),
                subject: "s".into(),
            });
            append(
                store,
                &Alert::stream_id(alert),
                vec![new_event(tenant, &raised, day)],
            )
            .await;
            alerts.push((start, alert));
        }
        // Handled well after ten newer alerts were raised.
        if let Some(&(_, alert)) = alerts.iter().find(|(at, _)| at + 1500 == start) {
            let handled = AlertEvent::AlertAcknowledged { note: None };
            append(
                store,
                &Alert::stream_id(alert),
                vec![new_event(tenant, &handled, day)],
            )
            .await;
        }
        if start == 1200 {
            let zone = TenantEvent::TenantTimeZoneSet {
                time_zone: Some("Pacific/Auckland".into()),
            };
            append(
                store,
                &Tenant::stream_id(tenant),
                vec![new_event(tenant, &zone, day)],
            )
            .await;
        }
        if start == 2100 {
            let budget = BudgetEvent::BudgetSet(Limits {
                daily_tokens: Some(50_000),
                monthly_tokens: None,
                daily_cost_micros: None,
                monthly_cost_micros: Some(9_000_000),
            });
            append(
                store,
                &Budget::stream_id(tenant),
                vec![new_event(tenant, &budget, day)],
            )
            .await;
        }
    }
}

async fn snapshots_equal_a_replay(db: TestDatabase) {
    let storage = match db.open(StoreConfig::default()).await {
        Ok(storage) => storage,
        Err(e) => panic!("cannot open the test database: {e}"),
    };
    let store: Arc<dyn EventStore> = storage.events.clone();
    let (tenant, other) = (TenantId(Uuid::now_v7()), TenantId(Uuid::now_v7()));
    history(&*store, other, 300).await;
    history(&*store, tenant, 6 * EVERY as usize + 150).await;
    if let Err(e) = catch_up(&*store, &storage.database, &Dashboard, |_| {}).await {
        panic!("the dashboard catches up: {e}");
    }
    let head = match store.head_position().await {
        Ok(head) => head,
        Err(e) => panic!("head: {e}"),
    };
    // A database without snapshots: every past dashboard replays from the start.
    let none = match scratch_database().await {
        Ok(db) => db,
        Err(e) => panic!("scratch database: {e}"),
    };
    let mut from_snapshots = 0;
    for position in (1..=head).step_by(97).chain([head]) {
        let past = |models| {
            let store = store.clone();
            async move {
                match dashboard_as_of(store, models, tenant, AsOf::Position(position)).await {
                    Ok(Some(past)) => past,
                    Ok(None) => panic!("position {position} is within the log"),
                    Err(e) => panic!("dashboard as of {position}: {e}"),
                }
            }
        };
        let snapshot = past(&storage.database).await;
        let replayed = past(&none).await;
        assert_eq!(replayed.snapshot, None);
        assert_eq!(
            snapshot.dashboard, replayed.dashboard,
            "as of position {position}"
        );
        if let Some(at) = snapshot.snapshot {
            assert!(at <= position);
            assert!(snapshot.events_replayed < replayed.events_replayed);
            assert!(
                snapshot.events_replayed < EVERY as u64,
                "{}",
                snapshot.events_replayed
            );
            from_snapshots += 1;
        }
    }
    assert!(
        from_snapshots > 20,
        "only {from_snapshots} moments used a snapshot"
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_a_dashboard_from_a_snapshot_equals_one_replayed() {
    snapshots_equal_a_replay(TestDatabase::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_dashboard_from_a_snapshot_equals_one_replayed() {
    if let Some(db) = TestDatabase::postgres("dashboard_snapshots").await {
        snapshots_equal_a_replay(db).await;
    }
}
