//! Kill the real server (SIGKILL) while webhook deliveries fail and wait for
//! their retries: after the restarts every event the subscription asked for
//! has reached the receiver with a 2xx, signed, under one `webhook-id` per
//! event, and every delivery is listed as succeeded. Sent twice is allowed
//! (at-least-once: a kill can fall between the receiver's answer and its
//! record), under the same id.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use agentledger_store::testing::TestDatabase;
use agentledger_tests::receiver::{Receiver, Reply};
use rand::Rng;
use serde_json::{Value, json};

mod common;
use common::{Server, start_server_with};

const KILLS: usize = 3;
const TASKS_PER_ROUND: usize = 10;

/// Attempts about a second apart, enough of them that a receiver failing
/// half the time is not given up on.
const OPTIONS: &[&str] = &[
    "--allow-loopback-targets",
    "--webhook-retry-seconds",
    "0,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1",
];

/// Sends `request` with the key; its answer, which must be a success.
async fn answer(request: reqwest::RequestBuilder, key: &str) -> Value {
    let response = request
        .bearer_auth(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("request: {e}"));
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or_default();
    assert!(status.is_success(), "{status} {answer}");
    answer
}

async fn post(
    http: &reqwest::Client,
    server: &Server,
    path: &str,
    key: &str,
    body: Value,
) -> Value {
    answer(http.post(format!("{}{path}", server.base)).json(&body), key).await
}

async fn get(http: &reqwest::Client, server: &Server, path: &str, key: &str) -> Value {
    answer(http.get(format!("{}{path}", server.base)), key).await
}

/// The task a delivery's body is about.
fn task_of(body: &Value) -> String {
    body["data"]["stream_id"]
        .as_str()
        .and_then(|s| s.strip_prefix("task-"))
        .unwrap_or_default()
        .to_owned()
}

async fn deliveries_survive_kill_9(db: TestDatabase) {
    let (receiver, base) = Receiver::start().await;
    let mut rng = rand::rng();
    receiver.script((0..200).map(|_| {
        if rng.random_bool(0.5) {
            Reply::Status(503)
        } else {
            Reply::Status(204)
        }
    }));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|e| panic!("http client: {e}"));

    let mut server = start_server_with(db.url(), OPTIONS).await;
    let admin = server.admin_key.take().unwrap_or_default();
    let tenant = post(
        &http,
        &server,
        "/api/v1/tenants",
        &admin,
        json!({ "name": "crashes" }),
    )
    .await;
    let key = post(
        &http,
        &server,
        "/api/v1/api-keys",
        &admin,
        json!({ "role": "operator", "tenant_id": tenant["tenant_id"] }),
    )
    .await["key"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let subscription = post(
        &http,
        &server,
        "/api/v1/webhooks",
        &key,
        json!({ "url": format!("{base}/in"), "event_types": ["TaskCreated"] }),
    )
    .await;
    let webhook_id = subscription["webhook_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let secret = subscription["secret"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let mut tasks = BTreeSet::new();
    for _ in 0..KILLS {
        for _ in 0..TASKS_PER_ROUND {
            let task = post(
                &http,
                &server,
                "/api/v1/tasks",
                &key,
                json!({ "task_type": "hooked" }),
            )
            .await;
            tasks.insert(task["task_id"].as_str().unwrap_or_default().to_owned());
        }
        let run_for = Duration::from_millis(rand::rng().random_range(300..2000));
        tokio::time::sleep(run_for).await;
        let _ = server.child.start_kill(); // SIGKILL
        let _ = server.child.wait().await;
        server = start_server_with(db.url(), OPTIONS).await;
    }

    // An attempt the kill left in flight is retried once its 60 s lease has
    // run out: wait that long at most, and a little more.
    let path = format!("/api/v1/webhooks/{webhook_id}/deliveries?status=succeeded&limit=100");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let succeeded = loop {
        let page = get(&http, &server, &path, &key).await;
        let succeeded = page["items"].as_array().map_or(0, Vec::len);
        if succeeded == tasks.len() || tokio::time::Instant::now() > deadline {
            break succeeded;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        succeeded,
        tasks.len(),
        "every delivery succeeded in the end"
    );

    let received = receiver.received();
    let mut ids: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut accepted: BTreeMap<String, usize> = BTreeMap::new();
    for delivery in &received {
        assert!(delivery.signed_with(&secret), "signed: {delivery:?}");
        let task = task_of(&delivery.json());
        ids.entry(task.clone())
            .or_default()
            .insert(delivery.header("webhook-id"));
        if delivery.answered.is_success() {
            *accepted.entry(task).or_default() += 1;
        }
    }
    assert_eq!(
        accepted.keys().cloned().collect::<BTreeSet<_>>(),
        tasks,
        "every task's creation was accepted by the receiver, and nothing else was sent"
    );
    assert!(
        ids.values().all(|ids| ids.len() == 1),
        "one webhook-id per event: {ids:?}"
    );
    let twice = accepted.values().filter(|n| **n > 1).count();
    println!(
        "{KILLS} SIGKILLs: {} events delivered in {} requests ({} refused by the receiver), \
         {twice} accepted more than once under the same id",
        tasks.len(),
        received.len(),
        received.iter().filter(|d| !d.answered.is_success()).count(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_deliveries_survive_kill_9() {
    deliveries_survive_kill_9(TestDatabase::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_deliveries_survive_kill_9() {
    if let Some(db) = TestDatabase::postgres("deliveries_survive_kill_9").await {
        deliveries_survive_kill_9(db).await;
    }
}
