//! Many writers at once, on every adapter: the subscriber's view of the log and
//! optimistic concurrency must hold however commits interleave.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use agentledger_store::conformance::{event, test_config};
use agentledger_store::testing::TestDatabase;
use agentledger_store::{
    BeforeCommit, EventFilter, EventStore, ExpectedVersion, StoreConfig, StoreError,
};
use rand::Rng;
use uuid::Uuid;

const WRITERS: usize = 32;
/// Writers share store instances in groups: appends within an instance are
/// group-committed, instances compete for the database like separate processes.
const INSTANCES: usize = 8;
const APPENDS_PER_WRITER: usize = 25;

/// One transaction in ten sleeps between its inserts and its commit.
fn slow_tenth() -> BeforeCommit {
    Arc::new(|| {
        Box::pin(async {
            let delay = {
                let mut rng = rand::rng();
                rng.random_bool(0.1)
                    .then(|| Duration::from_millis(rng.random_range(5..60)))
            };
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
        })
    })
}

async fn open_instances(
    db: &TestDatabase,
    n: usize,
    config: StoreConfig,
) -> Vec<Arc<dyn EventStore>> {
    let mut stores = Vec::with_capacity(n);
    for _ in 0..n {
        match db.open(config.clone()).await {
            Ok(storage) => stores.push(storage.events),
            Err(e) => panic!("open: {e}"),
        }
    }
    stores
}

async fn every_committed_event_reaches_the_subscriber_once_in_order(db: TestDatabase) {
    let config = StoreConfig {
        max_connections: 1,
        before_commit: Some(slow_tenth()),
        ..test_config()
    };
    let writers_stores = open_instances(&db, INSTANCES, config).await;
    let reader = open_instances(&db, 1, test_config()).await.remove(0);
    let tenant = Uuid::now_v7();

    let events_of = |w: usize, i: usize| 1 + (w + i) % 3;
    let total: usize = (0..WRITERS)
        .flat_map(|w| (0..APPENDS_PER_WRITER).map(move |i| events_of(w, i)))
        .sum();

    let mut subscription = reader.subscribe_all(1, EventFilter::default());
    let subscriber = tokio::spawn(async move {
        let mut seen = Vec::with_capacity(total);
        while seen.len() < total {
            let next = tokio::time::timeout(Duration::from_secs(30), subscription.next()).await;
            let event = match next {
                Ok(Ok(event)) => event,
                Ok(Err(e)) => panic!("subscription failed: {e}"),
                Err(_) => panic!("subscriber stalled after {} of {total} events", seen.len()),
            };
            // No gap, no skip, no repeat: each event is the next position.
            assert_eq!(
                event.position,
                seen.len() as u64 + 1,
                "subscriber saw a gap or a repeat"
            );
            seen.push((event.position, event.event_id));
        }
        seen
    });

    let writers = (0..WRITERS).map(|w| {
        let store = writers_stores[w % INSTANCES].clone();
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0..APPENDS_PER_WRITER {
                let batch: Vec<_> = (0..events_of(w, i))
                    .map(|n| event(tenant, "Written", n))
                    .collect();
                let stream = format!("writer-{w}-{}", i % 5);
                match store.append(&stream, ExpectedVersion::Any, batch).await {
                    Ok(outcome) => acknowledged.extend(outcome.events),
                    Err(e) => panic!("writer {w} append {i}: {e}"),
                }
            }
            acknowledged
        })
    });
    let mut acknowledged = HashMap::new();
    for writer in futures::future::join_all(writers).await {
        match writer {
            Ok(events) => acknowledged.extend(events.into_iter().map(|c| (c.event_id, c.position))),
            Err(e) => panic!("writer task: {e}"),
        }
    }
    assert_eq!(acknowledged.len(), total);

    let seen = match subscriber.await {
        Ok(seen) => seen,
        Err(e) => panic!("subscriber task: {e}"),
    };
    assert_eq!(seen.len(), total);
    for (position, event_id) in &seen {
        assert_eq!(
            acknowledged.get(event_id),
            Some(position),
            "event {event_id} seen at another position than acknowledged"
        );
    }
    let head = reader.head_position().await;
    assert_eq!(head.ok(), Some(total as u64));
    println!(
        "{WRITERS} writers on {INSTANCES} store instances committed {total} events; the subscriber saw each once, in order"
    );
}

async fn exactly_one_writer_wins_each_round(db: TestDatabase) {
    const ROUNDS: u64 = 10;
    let stores = open_instances(
        &db,
        4,
        StoreConfig {
            max_connections: 1,
            ..test_config()
        },
    )
    .await;
    let tenant = Uuid::now_v7();
    let seed = stores[0]
        .append(
            "contended",
            ExpectedVersion::NoStream,
            vec![event(tenant, "Seeded", 0)],
        )
        .await;
    assert!(seed.is_ok(), "{seed:?}");

    for round in 0..ROUNDS {
        let barrier = Arc::new(tokio::sync::Barrier::new(WRITERS));
        let contenders = (0..WRITERS).map(|w| {
            let store = stores[w % stores.len()].clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .append(
                        "contended",
                        ExpectedVersion::Exact(round),
                        vec![event(tenant, "Won", w)],
                    )
                    .await
            })
        });
        let mut wins = 0;
        for result in futures::future::join_all(contenders).await {
            match result {
                Ok(Ok(outcome)) => {
                    wins += 1;
                    assert_eq!(outcome.last_version(), Some(round + 1));
                }
                Ok(Err(StoreError::Conflict { actual, .. })) => assert_eq!(actual, Some(round + 1)),
                other => panic!("round {round}: unexpected {other:?}"),
            }
        }
        assert_eq!(wins, 1, "round {round}: exactly one writer must win");
    }
    let stream = stores[0].read_stream("contended", 0, 100).await;
    let versions: Vec<u64> = stream
        .map(|s| s.iter().map(|e| e.stream_version).collect())
        .unwrap_or_default();
    assert_eq!(versions, (0..=ROUNDS).collect::<Vec<_>>());
    println!(
        "{ROUNDS} rounds of {WRITERS} writers racing on one expected version: one winner each"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_subscriber_sees_every_event_under_concurrent_writers() {
    every_committed_event_reaches_the_subscriber_once_in_order(TestDatabase::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_subscriber_sees_every_event_under_concurrent_writers() {
    if let Some(db) =
        TestDatabase::postgres("subscriber_sees_every_event_under_concurrent_writers").await
    {
        every_committed_event_reaches_the_subscriber_once_in_order(db).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_optimistic_concurrency_race() {
    exactly_one_writer_wins_each_round(TestDatabase::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_optimistic_concurrency_race() {
    if let Some(db) = TestDatabase::postgres("optimistic_concurrency_race").await {
        exactly_one_writer_wins_each_round(db).await;
    }
}

/// On PostgreSQL a commit is announced to every other instance on the same
/// log: its subscribers at the head wake at once. With a poll an hour apart,
/// only the announcement can deliver the append; the timeout only keeps a
/// broken announcement from hanging the suite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_another_instances_append_wakes_a_subscriber_without_polling() {
    let Some(db) = TestDatabase::postgres("another_instances_append_wakes_a_subscriber").await
    else {
        return;
    };
    let never_polls = StoreConfig {
        poll_interval: Duration::from_secs(3600),
        ..test_config()
    };
    let reader = open_instances(&db, 1, never_polls.clone()).await.remove(0);
    let writer = open_instances(&db, 1, never_polls).await.remove(0);
    // Another schema's commits on the same database are not this log's.
    let Some(other_db) = TestDatabase::postgres("another_schema").await else {
        return;
    };
    let other = open_instances(&other_db, 1, test_config()).await.remove(0);

    let mut subscription = reader.subscribe_all(1, EventFilter::default());
    let tenant = Uuid::now_v7();
    for round in 0..3 {
        // Let the subscription reach the head and wait there.
        let waiting = tokio::spawn(async move {
            let event = subscription.next().await;
            (subscription, event)
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let noise = other
            .append(
                "elsewhere",
                ExpectedVersion::Any,
                vec![event(tenant, "Noise", round)],
            )
            .await;
        assert!(noise.is_ok(), "{noise:?}");
        let appended = writer
            .append(
                "wake-up",
                ExpectedVersion::Any,
                vec![event(tenant, "Appended", round)],
            )
            .await;
        let Ok(outcome) = appended else {
            panic!("append: {appended:?}")
        };
        let woke = tokio::time::timeout(Duration::from_secs(30), waiting).await;
        let Ok(Ok((back, Ok(seen)))) = woke else {
            panic!("round {round}: the subscriber was not woken by another instance's commit")
        };
        assert_eq!(seen.position, outcome.last_position());
        assert_eq!(seen.event_type, "Appended");
        subscription = back;
    }
    for store in [reader, writer, other] {
        store.close().await;
    }
}
