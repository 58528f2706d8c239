//! Kill the real server process while it takes concurrent appends: every append
//! it acknowledged must be stored exactly once, with contiguous versions and
//! positions and an intact hash chain. Lives beside the binary because Cargo
//! hands the binary's path only to its own package's tests.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use agentledger_store::EventFilter;
use agentledger_store::conformance::test_config;
use agentledger_store::integrity::{GENESIS_HASH, expected_hash};
use agentledger_store::testing::TestDatabase;
use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use uuid::Uuid;

mod common;
use common::start_server;

const KILLS: usize = 5;
const CLIENTS: usize = 16;

#[derive(Default)]
struct Ledger {
    /// event id -> (stream, position) for every acknowledged event.
    acknowledged: HashMap<Uuid, (String, u64)>,
    /// Batches sent without an answer, per client: resent after the restart.
    unanswered: HashMap<usize, Value>,
    /// Resent batches the server had committed before a kill cut off its answer.
    committed_but_unanswered: usize,
    admin_key: String,
}

fn new_batch(client: usize, tenant: Uuid) -> Value {
    let n = rand::rng().random_range(1..=3);
    let events: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "event_id": Uuid::now_v7(),
                "event_type": "CrashTested",
                "tenant_id": tenant,
                "actor": { "kind": "system", "id": format!("client-{client}") },
                "payload": { "client": client, "i": i },
            })
        })
        .collect();
    json!({ "expected_version": "any", "events": events })
}

/// Sends appends until the server stops answering.
async fn client_loop(
    client: usize,
    base: String,
    http: reqwest::Client,
    ledger: Arc<Mutex<Ledger>>,
    tenant: Uuid,
) {
    let url = format!("{base}/api/v1/streams/crash-{client}/events");
    loop {
        let (body, key) = {
            let mut ledger = ledger.lock().await;
            let key = ledger.admin_key.clone();
            let body = ledger
                .unanswered
                .entry(client)
                .or_insert_with(|| new_batch(client, tenant))
                .clone();
            (body, key)
        };
        let response = match http.post(&url).bearer_auth(&key).json(&body).send().await {
            Ok(r) => r,
            Err(_) => return, // killed: the batch stays unanswered
        };
        let status = response.status();
        let Ok(answer) = response.json::<Value>().await else {
            return;
        };
        assert!(status.is_success(), "append refused: {status} {answer}");
        let mut ledger = ledger.lock().await;
        ledger.unanswered.remove(&client);
        if answer["deduplicated"] == json!(true) {
            ledger.committed_but_unanswered += 1;
        }
        for committed in answer["events"].as_array().into_iter().flatten() {
            let id = committed["event_id"]
                .as_str()
                .and_then(|s| s.parse::<Uuid>().ok());
            let position = committed["position"].as_u64();
            if let (Some(id), Some(position)) = (id, position) {
                let previous = ledger
                    .acknowledged
                    .insert(id, (format!("crash-{client}"), position));
                assert!(
                    previous.is_none_or(|p| p.1 == position),
                    "event {id} acknowledged at two positions"
                );
            }
        }
    }
}

async fn run_round(url: &str, ledger: &Arc<Mutex<Ledger>>, tenant: Uuid, graceful: bool) {
    let mut server = start_server(url).await;
    if let Some(key) = server.admin_key.take() {
        ledger.lock().await.admin_key = key;
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|e| panic!("http client: {e}"));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            tokio::spawn(client_loop(
                c,
                server.base.clone(),
                http.clone(),
                ledger.clone(),
                tenant,
            ))
        })
        .collect();
    let run_for = Duration::from_millis(rand::rng().random_range(300..1200));
    tokio::time::sleep(run_for).await;
    if graceful {
        let pid = server.child.id().map(|p| p.to_string()).unwrap_or_default();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        assert!(sent.is_ok_and(|s| s.success()), "cannot send SIGTERM");
        let status = tokio::time::timeout(Duration::from_secs(30), server.child.wait()).await;
        assert!(
            matches!(status, Ok(Ok(s)) if s.success()),
            "graceful shutdown failed: {status:?}"
        );
    } else {
        let _ = server.child.start_kill(); // SIGKILL
        let _ = server.child.wait().await;
    }
    for client in clients {
        let _ = client.await;
    }
}

async fn acknowledged_appends_survive_kill_9(db: TestDatabase) {
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let tenant = Uuid::now_v7();
    for _ in 0..KILLS {
        run_round(db.url(), &ledger, tenant, false).await;
    }
    // Last: SIGTERM, which must also lose nothing, after resending what the
    // kills left unanswered.
    run_round(db.url(), &ledger, tenant, true).await;

    let store = match db.open(test_config()).await {
        Ok(s) => s.events,
        Err(e) => panic!("reopen: {e}"),
    };
    let mut events = Vec::new();
    let mut from = 1;
    loop {
        let page = store
            .read_all(from, 1000, &EventFilter::default())
            .await
            .unwrap_or_else(|e| panic!("read: {e}"));
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        events.extend(page);
    }
    let ledger = ledger.lock().await;
    assert!(
        ledger.acknowledged.len() > 100,
        "too few appends to mean anything: {}",
        ledger.acknowledged.len()
    );

    let mut previous = GENESIS_HASH.to_vec();
    let mut seen = HashMap::new();
    let mut versions: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.position, i as u64 + 1, "positions are contiguous");
        assert_eq!(
            Some(e.hash.clone()),
            expected_hash(&previous, e),
            "hash chain at {}",
            e.position
        );
        previous = e.hash.clone();
        assert!(
            seen.insert(e.event_id, e.position).is_none(),
            "event {} stored twice",
            e.event_id
        );
        versions
            .entry(&e.stream_id)
            .or_default()
            .push(e.stream_version);
    }
    for (stream, v) in &versions {
        assert_eq!(
            *v,
            (0..v.len() as u64).collect::<Vec<_>>(),
            "versions of {stream} are contiguous"
        );
    }
    for (id, (stream, position)) in &ledger.acknowledged {
        assert_eq!(
            seen.get(id),
            Some(position),
            "acknowledged event {id} of {stream} is missing or moved"
        );
    }
    println!(
        "{KILLS} SIGKILLs and one SIGTERM under {CLIENTS} concurrent clients: {} events acknowledged, {} stored, each once; \
         {} batches were committed but unanswered at a kill and came back deduplicated when resent",
        ledger.acknowledged.len(),
        events.len(),
        ledger.committed_but_unanswered
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_acknowledged_appends_survive_kill_9() {
    acknowledged_appends_survive_kill_9(TestDatabase::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_acknowledged_appends_survive_kill_9() {
    if let Some(db) = TestDatabase::postgres("acknowledged_appends_survive_kill_9").await {
        acknowledged_appends_survive_kill_9(db).await;
    }
}

/// Kills the server with SIGKILL at random moments while its projections
/// catch up on a month of demo data (a week is caught up before most kills
/// land); after the last restart has caught up, every read model equals a
/// clean rebuild of it.
async fn read_models_after_kills_equal_a_clean_rebuild(db: TestDatabase) {
    use agentledger_projections::engine::{all, catch_up, checkpoint, contents, reset};

    let demo = tokio::process::Command::new(env!("CARGO_BIN_EXE_agentledger"))
        .args(["demo", "--days", "30"])
        .env("AGENTLEDGER_DATABASE_URL", db.url())
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run demo: {e}"));
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let storage = db
        .open(test_config())
        .await
        .unwrap_or_else(|e| panic!("open: {e}"));
    let projections = all();
    let checkpoints = |storage: &agentledger_store::Storage| {
        let (db, projections) = (storage.database.clone(), &projections);
        async move {
            let mut at = Vec::new();
            for p in projections {
                at.push(checkpoint(&db, p.name()).await.unwrap_or_default());
            }
            at
        }
    };

    let mut caught_mid_way = 0;
    for _ in 0..KILLS {
        let mut server = start_server(db.url()).await;
        let wait = rand::rng().random_range(20..600);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        let _ = server.child.kill().await;
        let head = storage.events.head_position().await.unwrap_or_default();
        let at = checkpoints(&storage).await;
        if at.iter().any(|p| *p < head) {
            caught_mid_way += 1;
        }
        println!("killed after {wait} ms: head {head}, checkpoints {at:?}");
    }
    // A last run catches up and is killed too; anything the reactors append
    // afterwards is applied by the resumed catch-up below, as a restart would.
    let mut server = start_server(db.url()).await;
    for _ in 0..600 {
        let head = storage.events.head_position().await.unwrap_or_default();
        if checkpoints(&storage).await.iter().all(|p| *p >= head) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = server.child.kill().await;

    let (store, database) = (&*storage.events, &storage.database);
    for projection in &projections {
        catch_up(store, database, &**projection, |_| {})
            .await
            .unwrap_or_else(|e| panic!("resume {}: {e}", projection.name()));
        let resumed = contents(database, &**projection)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        reset(database, &**projection)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        catch_up(store, database, &**projection, |_| {})
            .await
            .unwrap_or_else(|e| panic!("rebuild {}: {e}", projection.name()));
        let rebuilt = contents(database, &**projection)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            resumed == rebuilt,
            "{}: the model after kills differs from a clean rebuild",
            projection.name()
        );
    }
    assert!(
        caught_mid_way > 0,
        "no kill landed during catch-up; the test proved nothing"
    );
    println!(
        "{KILLS} SIGKILLs, {caught_mid_way} of them during catch-up: all {} read models equal a clean rebuild",
        projections.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_read_models_after_kills_equal_a_clean_rebuild() {
    read_models_after_kills_equal_a_clean_rebuild(TestDatabase::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_read_models_after_kills_equal_a_clean_rebuild() {
    if let Some(db) = TestDatabase::postgres("read_models_after_kills").await {
        read_models_after_kills_equal_a_clean_rebuild(db).await;
    }
}
