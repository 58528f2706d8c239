//! The store contract as executable checks. Every adapter's test suite calls
//! each of these against a fresh log (a `StoreFactory`: a test database, or
//! the in-memory store); they panic on a breach.

use std::sync::Arc;
use std::time::Duration;

use agentledger_domain::{Actor, ActorKind};
use serde_json::json;
use uuid::Uuid;

use crate::error::StoreError;
use crate::event::{EventFilter, ExpectedVersion, NewEvent, RecordedEvent};
use crate::event_store::EventStore;
use crate::integrity::{GENESIS_HASH, expected_hash};
use crate::sql::engine::StoreConfig;
use crate::testing::TestDatabase;

/// A small pool and a fast poll: tests open many stores side by side.
pub fn test_config() -> StoreConfig {
    StoreConfig {
        max_connections: 2,
        poll_interval: Duration::from_millis(50),
        ..StoreConfig::default()
    }
}

pub fn event(tenant: Uuid, event_type: &str, n: usize) -> NewEvent {
    NewEvent::new(
        tenant,
        Actor::system("conformance"),
        event_type,
        json!({ "n": n }),
    )
}

fn events(tenant: Uuid, event_type: &str, count: usize) -> Vec<NewEvent> {
    (0..count).map(|n| event(tenant, event_type, n)).collect()
}

/// Where the suite gets its stores: each call opens another handle on one
/// log, as another process opening the same database would.
#[async_trait::async_trait]
pub trait StoreFactory: Sync {
    async fn open_store(&self) -> Arc<dyn EventStore>;
}

#[async_trait::async_trait]
impl StoreFactory for TestDatabase {
    async fn open_store(&self) -> Arc<dyn EventStore> {
        match self.open(test_config()).await {
            Ok(storage) => storage.events,
            Err(e) => panic!("cannot open store at {}: {e}", self.url()),
        }
    }
}

#[cfg(feature = "testing")]
#[async_trait::async_trait]
impl StoreFactory for crate::memory::MemoryStore {
    async fn open_store(&self) -> Arc<dyn EventStore> {
        Arc::new(self.handle())
    }
}

async fn open(db: &dyn StoreFactory) -> Arc<dyn EventStore> {
    db.open_store().await
}

fn ok<T>(result: Result<T, StoreError>, what: &str) -> T {
    result.unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>, actual: Option<u64>) {
    match result {
        Err(StoreError::Conflict { actual: a, .. }) => {
            assert_eq!(a, actual, "conflict reports the actual version")
        }
        other => panic!("expected a conflict with actual {actual:?}, got {other:?}"),
    }
}

pub async fn expected_version_semantics(db: &dyn StoreFactory) {
    let store = open(db).await;
    let t = Uuid::now_v7();
    use ExpectedVersion::*;

    assert_conflict(store.append("s-1", Exists, events(t, "E", 1)).await, None);
    assert_conflict(store.append("s-1", Exact(0), events(t, "E", 1)).await, None);
    let first = ok(
        store.append("s-1", NoStream, events(t, "E", 2)).await,
        "NoStream on a new stream",
    );
    assert_eq!(first.last_version(), Some(1));
    assert_eq!(first.last_position(), 2);

    assert_conflict(
        store.append("s-1", NoStream, events(t, "E", 1)).await,
        Some(1),
    );
    assert_conflict(
        store.append("s-1", Exact(0), events(t, "E", 1)).await,
        Some(1),
    );
    assert_conflict(
        store.append("s-1", Exact(2), events(t, "E", 1)).await,
        Some(1),
    );
    ok(
        store.append("s-1", Exact(1), events(t, "E", 1)).await,
        "Exact on the last version",
    );
    ok(
        store.append("s-1", Exists, events(t, "E", 1)).await,
        "Exists on an existing stream",
    );
    ok(
        store.append("s-1", Any, events(t, "E", 1)).await,
        "Any on an existing stream",
    );
    let fresh = ok(
        store.append("s-2", Any, events(t, "E", 1)).await,
        "Any on a new stream",
    );
    assert_eq!(fresh.last_version(), Some(0));

    // Conflicts wrote nothing: 5 events in s-1, 1 in s-2, positions 1..=6.
    assert_eq!(ok(store.head_position().await, "head"), 6);
    let s1 = ok(store.read_stream("s-1", 0, 100).await, "read s-1");
    let versions: Vec<u64> = s1.iter().map(|e| e.stream_version).collect();
    assert_eq!(versions, [0, 1, 2, 3, 4]);
}

pub async fn appends_are_all_or_nothing(db: &dyn StoreFactory) {
    let store = open(db).await;
    let t = Uuid::now_v7();
    ok(
        store
            .append("s", ExpectedVersion::NoStream, events(t, "E", 3))
            .await,
        "setup",
    );
    let stored = ok(store.read_stream("s", 0, 10).await, "read");

    // A batch whose last event reuses a stored id: nothing of it is written.
    let mut batch = events(t, "E", 3);
    batch[2].event_id = stored[0].event_id;
    let result = store.append("other", ExpectedVersion::Any, batch).await;
    assert!(
        matches!(result, Err(StoreError::IdempotencyMismatch { .. })),
        "{result:?}"
    );

    // A batch with the same id twice.
    let mut batch = events(t, "E", 2);
    batch[1].event_id = batch[0].event_id;
    let result = store.append("other", ExpectedVersion::Any, batch).await;
    assert!(
        matches!(result, Err(StoreError::InvalidAppend(_))),
        "{result:?}"
    );

    // A conflicting batch.
    assert_conflict(
        store
            .append("s", ExpectedVersion::Exact(0), events(t, "E", 5))
            .await,
        Some(2),
    );

    // An empty batch.
    let result = store.append("other", ExpectedVersion::Any, vec![]).await;
    assert!(
        matches!(result, Err(StoreError::InvalidAppend(_))),
        "{result:?}"
    );

    assert_eq!(ok(store.head_position().await, "head"), 3);
    assert!(ok(store.read_stream("other", 0, 10).await, "read other").is_empty());

    // A big batch lands whole, contiguous.
    let big = ok(
        store
            .append("big", ExpectedVersion::NoStream, events(t, "E", 2500))
            .await,
        "big batch",
    );
    let positions: Vec<u64> = big.events.iter().map(|c| c.position).collect();
    assert_eq!(positions, (4..=2503).collect::<Vec<_>>());
}

pub async fn reappending_stored_events_is_idempotent(db: &dyn StoreFactory) {
    let t = Uuid::now_v7();
    let batch = events(t, "E", 3);
    let original = {
        let store = open(db).await;
        ok(
            store
                .append("other", ExpectedVersion::Any, events(t, "E", 2))
                .await,
            "setup",
        );
        let original = ok(
            store
                .append("s", ExpectedVersion::NoStream, batch.clone())
                .await,
            "first append",
        );
        assert!(!original.deduplicated);
        let again = ok(
            store
                .append("s", ExpectedVersion::NoStream, batch.clone())
                .await,
            "retry",
        );
        assert!(again.deduplicated);
        assert_eq!(again.events, original.events);
        store.close().await;
        original
    };
    // A new store on the same database (as after a restart) remembers too.
    let store = open(db).await;
    let again = ok(
        store
            .append("s", ExpectedVersion::Exact(7), batch.clone())
            .await,
        "retry after reopen",
    );
    assert!(again.deduplicated);
    assert_eq!(again.events, original.events);
    assert_eq!(ok(store.head_position().await, "head"), 5);
    assert_eq!(ok(store.read_stream("s", 0, 10).await, "read").len(), 3);
    // A retry concurrent with new appends is still written once.
    let (a, b) = tokio::join!(
        store.append("s", ExpectedVersion::Any, batch.clone()),
        store.append("s", ExpectedVersion::Any, events(t, "E", 1)),
    );
    assert!(ok(a, "concurrent retry").deduplicated);
    assert_eq!(ok(b, "concurrent append").last_position(), 6);
}

pub async fn read_stream_pages_in_version_order(db: &dyn StoreFactory) {
    let store = open(db).await;
    let t = Uuid::now_v7();
    for i in 0..80 {
        ok(
            store
                .append("s", ExpectedVersion::Any, vec![event(t, "E", i)])
                .await,
            "append s",
        );
        ok(
            store
                .append("noise", ExpectedVersion::Any, vec![event(t, "N", i)])
                .await,
            "append noise",
        );
    }
    let mut seen = Vec::new();
    let mut from = 0;
    loop {
        let page = ok(store.read_stream("s", from, 10).await, "read page");
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 10);
        from = page[page.len() - 1].stream_version + 1;
        seen.extend(page);
    }
    let versions: Vec<u64> = seen.iter().map(|e| e.stream_version).collect();
    assert_eq!(versions, (0..80).collect::<Vec<_>>());
    assert!(seen.iter().all(|e| e.stream_id == "s"));
    let ns: Vec<u64> = seen
        .iter()
        .filter_map(|e| e.payload["n"].as_u64())
        .collect();
    assert_eq!(ns, (0..80).collect::<Vec<_>>());
    assert!(ok(store.read_stream("missing", 0, 10).await, "missing").is_empty());
    assert_eq!(ok(store.read_stream("s", 70, 100).await, "tail").len(), 10);
    // Pages longer than a backend reads at once (SQLite reads a stream's
    // first rows on the caller's thread, the rest elsewhere) come whole.
    let whole = ok(store.read_stream("s", 0, 1000).await, "whole");
    let versions: Vec<u64> = whole.iter().map(|e| e.stream_version).collect();
    assert_eq!(versions, (0..80).collect::<Vec<_>>());
    let middle = ok(store.read_stream("s", 5, 50).await, "middle");
    let versions: Vec<u64> = middle.iter().map(|e| e.stream_version).collect();
    assert_eq!(versions, (5..55).collect::<Vec<_>>());
}

pub async fn the_full_envelope_round_trips(db: &dyn StoreFactory) {
    let store = open(db).await;
    let mut e = event(Uuid::now_v7(), "AgentRegistered", 1);
    e.actor = Actor::new(ActorKind::Operator, "op-7");
    e.correlation_id = Some(Uuid::now_v7());
    e.causation_id = Some(Uuid::now_v7());
    e.schema_version = 3;
    e.occurred_at -= chrono::Duration::minutes(5);
    e.payload = json!({ "name": "ünïcode ✓", "nested": { "b": [1, 2.5, null], "a": true }, "big": 9007199254740993u64 });
    ok(
        store
            .append("agent-1", ExpectedVersion::NoStream, vec![e.clone()])
            .await,
        "append",
    );
    let read = ok(store.read_stream("agent-1", 0, 1).await, "read");
    let got = &read[0];
    assert_eq!(got.event_id, e.event_id);
    assert_eq!(got.event_type, e.event_type);
    assert_eq!(got.schema_version, 3);
    assert_eq!(got.tenant_id, e.tenant_id);
    assert_eq!(got.occurred_at, e.occurred_at);
    assert_eq!(got.actor, e.actor);
    assert_eq!(got.correlation_id, e.correlation_id);
    assert_eq!(got.causation_id, e.causation_id);
    assert_eq!(got.payload, e.payload);
    assert_eq!((got.position, got.stream_version), (1, 0));
    assert!(got.recorded_at >= got.occurred_at);
}

pub async fn every_event_chains_to_the_one_before(db: &dyn StoreFactory) {
    let store = open(db).await;
    let t = Uuid::now_v7();
    let writes = (0..20).map(|i| {
        let store = store.clone();
        async move {
            store
                .append(
                    &format!("s-{}", i % 4),
                    ExpectedVersion::Any,
                    events(t, "E", 1 + i % 3),
                )
                .await
        }
    });
    for result in futures::future::join_all(writes).await {
        ok(result, "append");
    }
    let all = ok(
        store.read_all(1, 1000, &EventFilter::default()).await,
        "read all",
    );
    let mut previous = GENESIS_HASH.to_vec();
    for e in &all {
        assert_eq!(
            Some(e.hash.clone()),
            expected_hash(&previous, e),
            "hash of position {}",
            e.position
        );
        previous = e.hash.clone();
    }
}

pub async fn read_all_pages_and_filters(db: &dyn StoreFactory) {
    let store = open(db).await;
    let (t1, t2) = (Uuid::now_v7(), Uuid::now_v7());
    for i in 0..30 {
        let (tenant, kind) = match i % 3 {
            0 => (t1, "A"),
            1 => (t1, "B"),
            _ => (t2, "A"),
        };
        ok(
            store
                .append(
                    &format!("s-{i}"),
                    ExpectedVersion::NoStream,
                    vec![event(tenant, kind, i)],
                )
                .await,
            "append",
        );
    }
    let all = EventFilter::default();
    let mut positions = Vec::new();
    let mut from = 1;
    loop {
        let page = ok(store.read_all(from, 7, &all).await, "page");
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        positions.extend(page.iter().map(|e| e.position));
    }
    assert_eq!(positions, (1..=30).collect::<Vec<_>>());

    let only_a = EventFilter {
        event_types: vec!["A".into()],
        ..EventFilter::default()
    };
    assert_eq!(
        ok(store.read_all(1, 100, &only_a).await, "type filter").len(),
        20
    );
    let tenant_1 = EventFilter {
        tenant_id: Some(t1),
        ..EventFilter::default()
    };
    let read = ok(store.read_all(1, 100, &tenant_1).await, "tenant filter");
    assert_eq!(read.len(), 20);
    assert!(read.iter().all(|e| e.tenant_id == t1));
    let both = EventFilter {
        event_types: vec!["A".into(), "C".into()],
        tenant_id: Some(t2),
        ..EventFilter::default()
    };
    let read = ok(store.read_all(1, 100, &both).await, "both filters");
    assert_eq!(read.len(), 10);
    assert!(read.iter().all(|e| both.matches(e)));
    let from_middle = ok(
        store.read_all(16, 100, &only_a).await,
        "filter from the middle",
    );
    assert!(
        from_middle
            .iter()
            .all(|e| e.position >= 16 && e.event_type == "A")
    );
    assert_eq!(from_middle.len(), 10);
    assert!(ok(store.read_all(31, 100, &all).await, "past head").is_empty());
}

/// The audit filters (actor, correlation id, time range), alone and together,
/// agree with `EventFilter::matches` and page like any other read.
pub async fn read_all_filters_by_actor_correlation_and_time(db: &dyn StoreFactory) {
    use agentledger_domain::ActorKind;
    let store = open(db).await;
    let tenant = Uuid::now_v7();
    let (request_a, request_b) = (Uuid::now_v7(), Uuid::now_v7());
    let start = crate::now() - chrono::Duration::hours(1);
    let mut appended = Vec::new();
    for i in 0..40usize {
        let mut e = event(tenant, if i % 2 == 0 { "Done" } else { "Seen" }, i);
        e.actor = match i % 4 {
            0 => Actor::new(ActorKind::Agent, "agent-x"),
            1 => Actor::new(ActorKind::Agent, "agent-y"),
            2 => Actor::new(ActorKind::Operator, "agent-x"),
            _ => Actor::system("reactor"),
        };
        e.correlation_id = match i % 5 {
            0 => Some(request_a),
            1 => Some(request_b),
            _ => None,
        };
        // One event a minute, some with a fraction of a second, so text
        // comparison of timestamps (SQLite) is exercised across formats.
        e.occurred_at = start
            + chrono::Duration::minutes(i as i64)
            + chrono::Duration::microseconds(if i % 3 == 0 { 0 } else { 500_000 + i as i64 });
        appended.push(e.clone());
        ok(
            store
                .append(&format!("audit-{}", i % 3), ExpectedVersion::Any, vec![e])
                .await,
            "append",
        );
    }
    let all = ok(
        store.read_all(1, 1000, &EventFilter::default()).await,
        "all",
    );
    let from = start + chrono::Duration::minutes(10);
    let to = start + chrono::Duration::minutes(30) + chrono::Duration::microseconds(500_000 + 30);
    let filters = [
        EventFilter {
            actor_id: Some("agent-x".into()),
            ..EventFilter::default()
        },
        EventFilter {
            actor_kind: Some(ActorKind::Agent),
            actor_id: Some("agent-x".into()),
            ..EventFilter::default()
        },
        EventFilter {
            correlation_id: Some(request_a),
            ..EventFilter::default()
        },
        EventFilter {
            occurred_from: Some(from),
            occurred_to: Some(to),
            ..EventFilter::default()
        },
        EventFilter {
            tenant_id: Some(tenant),
            event_types: vec!["Done".into()],
            actor_kind: Some(ActorKind::Agent),
            correlation_id: Some(request_b),
            occurred_from: Some(start),
            occurred_to: Some(to),
            ..EventFilter::default()
        },
        EventFilter {
            actor_id: Some("nobody".into()),
            ..EventFilter::default()
        },
        EventFilter {
            stream_id: Some("audit-1".into()),
            ..EventFilter::default()
        },
        EventFilter {
            stream_id: Some("audit-2".into()),
            actor_kind: Some(ActorKind::Agent),
            ..EventFilter::default()
        },
        EventFilter {
            to_position: all.get(2).map(|e| e.position),
            ..EventFilter::default()
        },
        EventFilter {
            actor_kind: Some(ActorKind::Agent),
            to_position: all.last().map(|e| e.position),
            ..EventFilter::default()
        },
    ];
    for filter in &filters {
        let expected: Vec<u64> = all
            .iter()
            .filter(|e| filter.matches(e))
            .map(|e| e.position)
            .collect();
        let mut got = Vec::new();
        let mut next = 1;
        loop {
            let page = ok(store.read_all(next, 3, filter).await, "filtered page");
            let Some(last) = page.last() else { break };
            next = last.position + 1;
            got.extend(page.iter().map(|e| e.position));
        }
        assert_eq!(got, expected, "{filter:?}");
    }
    // Hand-counted, so `matches` itself is checked too.
    let count = |f: &EventFilter| all.iter().filter(|e| f.matches(e)).count();
    assert_eq!(count(&filters[0]), 20);
    assert_eq!(count(&filters[1]), 10);
    assert_eq!(count(&filters[2]), 8);
    // Minutes 10 to 30: event 10 at 10 min and half a second, event 30 on the minute.
    assert_eq!(count(&filters[3]), 21);
    assert_eq!(count(&filters[5]), 0);
    assert_eq!(count(&filters[8]), 3, "the log's first three");
}

/// A time names the events recorded at or before it; `resolve` finds the
/// last of them, and `Prefix` reads exactly those, page by page.
pub async fn as_of_resolves_times_and_reads_prefixes(db: &dyn StoreFactory) {
    use crate::{AsOf, Prefix};
    let store = open(db).await;
    let tenant = Uuid::now_v7();
    let mut moments = vec![crate::now()];
    for batch in 0..3 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        ok(
            store
                .append(
                    &format!("asof-{batch}"),
                    ExpectedVersion::Any,
                    events(tenant, "Step", 4),
                )
                .await,
            "append",
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        moments.push(crate::now());
    }
    // Before anything, and after each batch of four.
    for (i, moment) in moments.iter().enumerate() {
        let resolved = ok(AsOf::Time(*moment).resolve(&*store).await, "resolve");
        assert_eq!(resolved, Some(4 * i as u64), "after batch {i}");
    }
    assert_eq!(
        ok(AsOf::Position(12).resolve(&*store).await, "head"),
        Some(12)
    );
    assert_eq!(ok(AsOf::Position(13).resolve(&*store).await, "past"), None);
    let mut prefix = Prefix::new(store.clone(), EventFilter::default(), 10, 3);
    let mut read = Vec::new();
    while let Some(page) = ok(prefix.next_page().await, "page") {
        assert!(page.len() <= 3);
        read.extend(page.iter().map(|e| e.position));
    }
    assert_eq!(read, (1..=10).collect::<Vec<_>>());
}

async fn collect(sub: &mut crate::Subscription, n: usize) -> Vec<RecordedEvent> {
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        match tokio::time::timeout(Duration::from_secs(10), sub.next()).await {
            Ok(Ok(e)) => got.push(e),
            Ok(Err(e)) => panic!("subscription failed: {e}"),
            Err(_) => panic!("subscription stalled after {} of {n} events", got.len()),
        }
    }
    got
}

pub async fn subscriptions_catch_up_then_go_live(db: &dyn StoreFactory) {
    let store = open(db).await;
    let t = Uuid::now_v7();
    ok(
        store
            .append("s", ExpectedVersion::Any, events(t, "E", 10))
            .await,
        "setup",
    );

    let mut from_start = store.subscribe_all(0, EventFilter::default());
    let mut from_middle = store.subscribe_all(6, EventFilter::default());
    let mut from_head = store.subscribe_all(11, EventFilter::default());
    let mut filtered = store.subscribe_all(
        1,
        EventFilter {
            event_types: vec!["Live".into()],
            ..EventFilter::default()
        },
    );

    let caught_up = collect(&mut from_start, 10).await;
    assert_eq!(
        caught_up.iter().map(|e| e.position).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<_>>()
    );
    let middle = collect(&mut from_middle, 5).await;
    assert_eq!(
        middle.iter().map(|e| e.position).collect::<Vec<_>>(),
        (6..=10).collect::<Vec<_>>()
    );

    // Live: appended after the subscribers reached the head.
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..5 {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = store
                    .append("live", ExpectedVersion::Any, vec![event(t, "Live", i)])
                    .await;
            }
        })
    };
    let live = collect(&mut from_head, 5).await;
    assert_eq!(
        live.iter().map(|e| e.position).collect::<Vec<_>>(),
        (11..=15).collect::<Vec<_>>()
    );
    let more = collect(&mut from_start, 5).await;
    assert_eq!(more, live);
    let only_live = collect(&mut filtered, 5).await;
    assert_eq!(only_live, live);
    let _ = writer.await;
    assert_eq!(from_head.next_position(), 16);
}

pub async fn subscriptions_see_appends_from_other_processes(db: &dyn StoreFactory) {
    // Two stores on one database stand for two processes: the subscriber's own
    // writer never announces the other's commits.
    let reader = open(db).await;
    let writer = open(db).await;
    let mut sub = reader.subscribe_all(1, EventFilter::default());
    let t = Uuid::now_v7();
    ok(
        writer
            .append("s", ExpectedVersion::Any, events(t, "E", 3))
            .await,
        "append elsewhere",
    );
    let got = collect(&mut sub, 3).await;
    assert_eq!(
        got.iter().map(|e| e.position).collect::<Vec<_>>(),
        [1, 2, 3]
    );
}

pub async fn closing_answers_accepted_appends_then_refuses(db: &dyn StoreFactory) {
    let store = open(db).await;
    let t = Uuid::now_v7();
    let pending: Vec<_> = (0..50)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .append(
                        &format!("s-{i}"),
                        ExpectedVersion::NoStream,
                        events(t, "E", 2),
                    )
                    .await
            })
        })
        .collect();
    tokio::task::yield_now().await;
    store.close().await;
    let mut acknowledged = 0;
    for task in pending {
        match task.await {
            Ok(Ok(_)) => acknowledged += 2,
            Ok(Err(StoreError::Closed)) => {}
            other => panic!("unexpected answer during close: {other:?}"),
        }
    }
    assert!(matches!(
        store
            .append("late", ExpectedVersion::Any, events(t, "E", 1))
            .await,
        Err(StoreError::Closed)
    ));
    let reopened = open(db).await;
    assert_eq!(ok(reopened.head_position().await, "head"), acknowledged);
}

pub async fn idempotency_keys_remember_answers(db: &TestDatabase) {
    use crate::idempotency::{Claim, STALE_AFTER_SECONDS, StoredAnswer};
    let store = match db.open(test_config()).await {
        Ok(storage) => storage.idempotency,
        Err(e) => panic!("open: {e}"),
    };
    let now = 1_800_000_000;
    let answer = StoredAnswer {
        status: 201,
        content_type: Some("application/json".into()),
        body: "{\"id\":1}".into(),
        correlation_id: Some("01a20cbe-0040-73b4-bee4-f0c03c2001b0".into()),
    };
    assert_eq!(
        ok(store.claim("key:a", "k1", "f1", now).await, "claim"),
        Claim::New
    );
    assert_eq!(
        ok(store.claim("key:a", "k1", "f1", now).await, "again"),
        Claim::InProgress
    );
    assert_eq!(
        ok(store.claim("key:a", "k1", "f2", now).await, "other request"),
        Claim::Mismatch
    );
    assert_eq!(
        ok(store.claim("key:b", "k1", "f2", now).await, "other scope"),
        Claim::New
    );
    ok(store.complete("key:a", "k1", &answer).await, "complete");
    assert_eq!(
        ok(store.claim("key:a", "k1", "f1", now + 5).await, "replay"),
        Claim::Replay(answer.clone())
    );

    // A claim whose request died is taken over once it is stale.
    assert_eq!(
        ok(store.claim("key:a", "k2", "f1", now).await, "claim"),
        Claim::New
    );
    let later = now + STALE_AFTER_SECONDS + 1;
    assert_eq!(
        ok(store.claim("key:a", "k2", "f1", later).await, "takeover"),
        Claim::New
    );
    assert_eq!(
        ok(
            store.claim("key:a", "k2", "f1", later).await,
            "after takeover"
        ),
        Claim::InProgress
    );
    // A released claim (the request failed) can run again.
    ok(store.release("key:a", "k2").await, "release");
    assert_eq!(
        ok(
            store.claim("key:a", "k2", "f1", later).await,
            "after release"
        ),
        Claim::New
    );

    assert_eq!(
        ok(store.prune(now + 1).await, "prune"),
        2,
        "k1 in both scopes"
    );
    assert_eq!(
        ok(
            store.claim("key:a", "k1", "f9", later).await,
            "pruned key is free"
        ),
        Claim::New
    );
}
