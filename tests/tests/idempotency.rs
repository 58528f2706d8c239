//! `Idempotency-Key`: retries get the first answer, also after a restart.

use agentledger_tests::{TestServer, header, on_every_backend, read};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn send(
    server: &TestServer,
    path: &str,
    token: &str,
    key: &str,
    body: &Value,
) -> (StatusCode, Value, bool) {
    let response = server
        .http
        .post(server.url(path))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await;
    let replayed = response
        .as_ref()
        .ok()
        .is_some_and(|r| r.headers().contains_key("idempotent-replayed"));
    let (status, body) = read(response).await;
    (status, body, replayed)
}

async fn head(server: &TestServer) -> u64 {
    server.get("/ready", &server.admin_key).await.1["store"]["head_position"]
        .as_u64()
        .unwrap_or_default()
}

async fn a_retry_returns_the_first_answer_even_after_a_restart(server: TestServer) {
    let task = json!({ "task_type": "report", "input": { "day": 1 } });
    let admin = server.admin_key.clone();
    let (status, first, replayed) =
        send(&server, "/api/v1/tasks", &admin, "create-report-1", &task).await;
    assert_eq!((status, replayed), (StatusCode::CREATED, false), "{first}");
    let after_first = head(&server).await;

    let (status, again, replayed) =
        send(&server, "/api/v1/tasks", &admin, "create-report-1", &task).await;
    assert_eq!((status, replayed), (StatusCode::CREATED, true));
    assert_eq!(again, first, "the same answer, the same task");
    assert_eq!(head(&server).await, after_first, "nothing new was written");

    let (status, problem, _) = send(
        &server,
        "/api/v1/tasks",
        &admin,
        "create-report-1",
        &json!({ "task_type": "other" }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["type"], json!("/problems/idempotency-key-reused"));

    // The retry answers with the correlation id of the first request, the one
    // the task's events carry.
    let correlation = |key: &'static str| {
        let request = server
            .http
            .post(server.url("/api/v1/tasks"))
            .bearer_auth(&admin)
            .header("Idempotency-Key", key)
            .json(&json!({ "task_type": "audit" }));
        async move {
            let response = request.send().await.unwrap_or_else(|e| panic!("{e}"));
            header(&response, "x-correlation-id")
        }
    };
    let first_id = correlation("create-audit-1").await;
    assert_eq!(correlation("create-audit-1").await, first_id);
    let (_, caused) = server
        .get(&format!("/api/v1/events?correlation_id={first_id}"), &admin)
        .await;
    let types: Vec<&str> = caused["events"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["event_type"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(types, ["TaskCreated"], "{caused}");

    // A request that created a secret: the retry gets the same agent, without the secret.
    let agent = json!({ "name": "a", "kind": "k", "permissions": ["tasks:claim"] });
    let (_, registered, _) = send(&server, "/api/v1/agents", &admin, "register-a", &agent).await;

    let server = server.restart().await;
    let (status, after_restart, replayed) =
        send(&server, "/api/v1/tasks", &admin, "create-report-1", &task).await;
    assert_eq!((status, replayed), (StatusCode::CREATED, true));
    assert_eq!(after_restart, first);
    let (_, again, replayed) = send(&server, "/api/v1/agents", &admin, "register-a", &agent).await;
    assert!(replayed);
    assert_eq!(
        again["agent_id"], registered["agent_id"],
        "the retry names the agent it created"
    );
    assert!(registered["secret"].as_str().is_some_and(|s| s.len() == 64));
    assert_eq!(
        (again["secret"].clone(), again["secret_withheld"].clone()),
        (json!(null), json!(true)),
        "a secret shown once is never stored for a replay"
    );
}

async fn keys_belong_to_their_caller(server: TestServer) {
    let first = server.agent(&server.admin_key, &["runs:write"], 600).await;
    let second = server.agent(&server.admin_key, &["runs:write"], 600).await;
    let run = json!({
        "app_type": "a", "trigger_type": "t", "model": "m", "prompt_tokens": 1, "completion_tokens": 1,
        "latency_ms": 1, "status": "success"
    });
    let (status, a, _) = send(
        &server,
        "/api/v1/agents/me/runs",
        &first.token,
        "run-1",
        &run,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, b, replayed) = send(
        &server,
        "/api/v1/agents/me/runs",
        &second.token,
        "run-1",
        &run,
    )
    .await;
    assert_eq!(
        (status, replayed),
        (StatusCode::CREATED, false),
        "another caller's key is not ours"
    );
    assert_ne!(a["event_id"], b["event_id"]);
    // A refused request is remembered too: the retry gets the same refusal.
    let bad = json!({ "task_type": "" });
    let (status, _, _) = send(&server, "/api/v1/tasks", &server.admin_key, "bad-1", &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _, replayed) =
        send(&server, "/api/v1/tasks", &server.admin_key, "bad-1", &bad).await;
    assert_eq!((status, replayed), (StatusCode::UNPROCESSABLE_ENTITY, true));
}

/// The scheme is case-insensitive for the key's scope as for authentication:
/// a client writing `bearer` gets its retries answered once, not run twice.
async fn a_lowercase_bearer_scheme_keeps_its_keys(server: TestServer) {
    let agent = server
        .agent(&server.admin_key, &["actions:write"], 600)
        .await;
    let action = json!({ "action": "a", "resource_type": "r", "status": "success" });
    let mut answers = Vec::new();
    for _ in 0..2 {
        let response = server
            .http
            .post(server.url("/api/v1/agents/me/actions"))
            .header("Authorization", format!("bearer {}", agent.token))
            .header("Idempotency-Key", "lower-1")
            .json(&action)
            .send()
            .await;
        let replayed = response
            .as_ref()
            .ok()
            .is_some_and(|r| r.headers().contains_key("idempotent-replayed"));
        let (status, body) = read(response).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        answers.push((body["event_id"].clone(), replayed));
    }
    assert_eq!(answers[0].0, answers[1].0, "recorded once");
    assert_eq!((answers[0].1, answers[1].1), (false, true));
}

on_every_backend!(
    a_retry_returns_the_first_answer_even_after_a_restart,
    keys_belong_to_their_caller,
    a_lowercase_bearer_scheme_keeps_its_keys,
);
