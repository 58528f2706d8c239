//! Kill the real server (SIGKILL) while executions run: a tool step (a real
//! HTTP receiver on loopback) then two agent steps, done by an agent that
//! polls, completes what it claimed, and after each restart finds again
//! the tasks it holds. After the restarts every execution ends completed,
//! each agent step was made once (one task per step, one attempt), no
//! attempt's tool was called twice, and a tool call cut short by a kill
//! was retried as its step says.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use agentledger_store::testing::TestDatabase;
use agentledger_tests::receiver::{Receiver, Reply};
use rand::Rng;
use serde_json::{Value, json};

mod common;
use common::{Server, start_server_with};

const KILLS: usize = 3;
const EXECUTIONS_PER_ROUND: usize = 8;
/// A tool call a kill cut short times out this soon and is tried again.
const TOOL_TIMEOUT_SECONDS: u64 = 3;
const TOOL_RETRIES: u64 = 5;
const OPTIONS: &[&str] = &["--allow-loopback-targets"];

/// Where the server is now and the agent's token there.
#[derive(Clone, Default)]
struct Target {
    base: String,
    token: String,
}

async fn send(request: reqwest::RequestBuilder, key: &str) -> (u16, Value) {
    match request.bearer_auth(key).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            (status, response.json().await.unwrap_or_default())
        }
        Err(_) => (0, Value::Null),
    }
}

async fn post(http: &reqwest::Client, base: &str, path: &str, key: &str, body: Value) -> Value {
    let (status, answer) = send(http.post(format!("{base}{path}")).json(&body), key).await;
    assert!((200..300).contains(&status), "{path}: {status} {answer}");
    answer
}

async fn get(http: &reqwest::Client, base: &str, path: &str, key: &str) -> Value {
    let (status, answer) = send(http.get(format!("{base}{path}")), key).await;
    assert!((200..300).contains(&status), "{path}: {status} {answer}");
    answer
}

async fn login(http: &reqwest::Client, server: &Server, agent: &Value) -> String {
    let body = json!({ "agent_id": agent["agent_id"], "secret": agent["secret"] });
    let tokens = post(http, &server.base, "/api/v1/agents/auth", "", body).await;
    tokens["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The agent: completes the tasks it holds (found again through the task
/// list, as one that lost its answers would) and claims the next, going
/// on through kills.
async fn work(http: reqwest::Client, target: Arc<Mutex<Target>>, key: String) {
    loop {
        let Target { base, token } = target
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let held = send(
            http.get(format!("{base}/api/v1/tasks?status=claimed&limit=100")),
            &key,
        )
        .await;
        let mut tasks: Vec<Value> = held.1["items"].as_array().cloned().unwrap_or_default();
        let (status, claimed) = send(
            http.get(format!("{base}/api/v1/agents/me/tasks/next")),
            &token,
        )
        .await;
        if status == 200 {
            tasks.push(claimed);
        }
        for task in &tasks {
            let id = task["task_id"].as_str().unwrap_or_default();
            let body = json!({ "result": { "done": task["task_type"] } });
            let complete = http
                .post(format!("{base}/api/v1/tasks/{id}/complete"))
                .json(&body);
            send(complete, &token).await;
        }
        // An agent takes its time, so kills fall in the middle of executions.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn executions_survive_kill_9(db: TestDatabase) {
    let (receiver, base) = Receiver::start().await;
    // A third of the calls answer late, so kills cut some short.
    receiver.script((0..1000).map(|n| match n % 3 {
        0 => Reply::LateJson(Duration::from_millis(1500), 200, json!({ "rows": 3 })),
        _ => Reply::Json(200, json!({ "rows": 3 })),
    }));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|e| panic!("http client: {e}"));
    let mut server = start_server_with(db.url(), OPTIONS).await;
    let admin = server.admin_key.take().unwrap_or_default();
    let tenant = post(
        &http,
        &server.base,
        "/api/v1/tenants",
        &admin,
        json!({ "name": "crashes" }),
    )
    .await;
    let body = json!({ "role": "operator", "tenant_id": tenant["tenant_id"] });
    let key = post(&http, &server.base, "/api/v1/api-keys", &admin, body).await["key"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let tool = json!({ "name": "count", "input_schema": { "type": "object" },
                       "kind": "http", "endpoint": format!("{base}/count") });
    let tool = post(&http, &server.base, "/api/v1/tools", &key, tool).await;
    let agent_step = |key: &str| {
        json!({ "key": key, "action": { "type": "agent", "agent_kind": "worker", "task_type": key },
                "input": { "rows": "$steps.fetch.output.rows" }, "timeout_seconds": 600, "retries": 0 })
    };
    let draft = json!({
        "steps": [
            { "key": "fetch", "action": { "type": "tool", "tool_id": tool["tool_id"] }, "input": {},
              "timeout_seconds": TOOL_TIMEOUT_SECONDS, "retries": TOOL_RETRIES },
            agent_step("work"),
            agent_step("finish"),
        ],
        "edges": [{ "from": "fetch", "to": "work" }, { "from": "work", "to": "finish" }]
    });
    let workflow = post(
        &http,
        &server.base,
        "/api/v1/workflows",
        &key,
        json!({ "name": "crashing", "draft": draft }),
    )
    .await;
    let workflow_id = workflow["workflow_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    post(
        &http,
        &server.base,
        &format!("/api/v1/workflows/{workflow_id}/publish"),
        &key,
        json!({}),
    )
    .await;
    let agent = json!({ "name": "crash-worker", "kind": "worker", "permissions": ["tasks:claim"] });
    let agent = post(&http, &server.base, "/api/v1/agents", &key, agent).await;

    let target = Arc::new(Mutex::new(Target {
        base: server.base.clone(),
        token: login(&http, &server, &agent).await,
    }));
    let worker = tokio::spawn(work(http.clone(), target.clone(), key.clone()));
    let mut executions = Vec::new();
    for _ in 0..KILLS {
        for _ in 0..EXECUTIONS_PER_ROUND {
            let body = json!({ "workflow_id": workflow_id, "version": 1, "input": {} });
            let started = post(&http, &server.base, "/api/v1/executions", &key, body).await;
            executions.push(
                started["execution_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
        let run_for = Duration::from_millis(rand::rng().random_range(200..1500));
        tokio::time::sleep(run_for).await;
        let _ = server.child.start_kill(); // SIGKILL
        let _ = server.child.wait().await;
        server = start_server_with(db.url(), OPTIONS).await;
        let token = login(&http, &server, &agent).await;
        *target.lock().unwrap_or_else(PoisonError::into_inner) = Target {
            base: server.base.clone(),
            token,
        };
    }

    // A tool call cut short times out after TOOL_TIMEOUT_SECONDS and is tried
    // again: the last executions end within a few of those.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let mut ended = Vec::new();
    for id in &executions {
        let path = format!("/api/v1/executions/{id}");
        let execution = loop {
            let execution = get(&http, &server.base, &path, &key).await;
            if execution["ended_at"].is_string() || tokio::time::Instant::now() > deadline {
                break execution;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        ended.push(execution);
    }
    worker.abort();
    let mut tool_attempts = 0;
    for execution in &ended {
        assert_eq!(
            execution["status"], "completed",
            "every execution completed: {execution}"
        );
        for step in execution["steps"].as_array().into_iter().flatten() {
            let attempts = step["attempts"].as_u64().unwrap_or_default();
            if step["action"] == "agent" {
                assert_eq!(attempts, 1, "an agent step is made once: {execution}");
            } else {
                assert!((1..=1 + TOOL_RETRIES).contains(&attempts), "{execution}");
                tool_attempts += attempts;
            }
        }
    }
    let tasks = get(&http, &server.base, "/api/v1/tasks?limit=500", &key).await;
    let tasks = tasks["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        tasks.len(),
        2 * executions.len(),
        "one task per agent step of each execution, none made twice"
    );
    assert!(tasks.iter().all(|t| t["status"] == "completed"));
    let received = receiver.received();
    let calls = received.len();
    // Each attempt's call was made at most once, restarts or not.
    let keys: std::collections::BTreeSet<String> = received
        .iter()
        .map(|r| r.header("idempotency-key"))
        .collect();
    assert_eq!(keys.len(), calls, "no attempt was called twice");
    assert!(
        (executions.len()..=tool_attempts as usize).contains(&calls),
        "{tool_attempts} attempts made {calls} calls"
    );
    println!(
        "{KILLS} SIGKILLs: {} executions completed, {} tasks made once each, \
         {tool_attempts} tool attempts ({} more than one per execution), {calls} tool calls received \
         under {} idempotency keys",
        executions.len(),
        tasks.len(),
        tool_attempts - executions.len() as u64,
        keys.len(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_executions_survive_kill_9() {
    executions_survive_kill_9(TestDatabase::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_executions_survive_kill_9() {
    if let Some(db) = TestDatabase::postgres("executions_survive_kill_9").await {
        executions_survive_kill_9(db).await;
    }
}
