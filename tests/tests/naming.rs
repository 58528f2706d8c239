//! The API's one naming rule, read off every view a tenant can ask for: an
//! instant is an RFC 3339 string named `*_at` (or `deadline`), money is US
//! dollars named `*_usd`, and no stored unit (`*_us`, `*_micros`) shows.

use agentledger_tests::{TestServer, on_every_backend};
use chrono::DateTime;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Every breach of the rule in `value`, as `path: why`.
fn breaches(path: &str, value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            for (key, inner) in fields {
                let at = format!("{path}.{key}");
                if key.ends_with("_us") || key.ends_with("_micros") {
                    found.push(format!("{at}: a stored unit in the name"));
                }
                let instant = key.ends_with("_at") || key == "deadline";
                match inner {
                    Value::Null => {}
                    Value::String(s) if instant => {
                        if DateTime::parse_from_rfc3339(s).is_err() {
                            found.push(format!("{at}: {s:?} is not RFC 3339"));
                        }
                    }
                    _ if instant => found.push(format!("{at}: {inner} is not a string")),
                    _ => breaches(&at, inner, found),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                breaches(&format!("{path}[{i}]"), item, found);
            }
        }
        _ => {}
    }
}

async fn ok(server: &TestServer, method: Method, path: &str, token: &str, body: Value) -> Value {
    let (status, answer) = server.call(method, path, Some(token), Some(&body)).await;
    assert!(status.is_success(), "{path}: {status} {answer}");
    answer
}

async fn every_view_names_times_and_money_one_way(server: TestServer) {
    let op = server.admin_key.clone();
    let agent = server
        .agent(
            &op,
            &[
                "actions:write",
                "runs:write",
                "tasks:claim",
                "commands:poll",
                "cache:write",
                "webhooks:manage",
            ],
            600,
        )
        .await;
    let me = agent.token.clone();
    let post = Method::POST;
    ok(
        &server,
        Method::PUT,
        "/api/v1/budget",
        &op,
        json!({ "daily_cost_usd": 2.5, "monthly_tokens": 100_000 }),
    )
    .await;
    ok(
        &server,
        post.clone(),
        "/api/v1/agents/me/actions",
        &me,
        json!({ "action": "approve", "resource_type": "post", "status": "success" }),
    )
    .await;
    ok(
        &server,
        post.clone(),
        "/api/v1/agents/me/runs",
        &me,
        json!({
            "app_type": "chat", "trigger_type": "user", "model": "m", "prompt_tokens": 100,
            "completion_tokens": 20, "cost_usd": 0.012346, "latency_ms": 900, "status": "success"
        }),
    )
    .await;
    ok(
        &server,
        Method::PUT,
        "/api/v1/agents/me/cache/doc/a",
        &me,
        json!({ "value": { "k": 1 }, "ttl_seconds": 60 }),
    )
    .await;
    let hook = ok(
        &server,
        post.clone(),
        "/api/v1/webhooks",
        &me,
        json!({ "url": "https://hooks.example.com/x", "event_types": ["TaskFailed"] }),
    )
    .await;
    let task = ok(
        &server,
        post.clone(),
        "/api/v1/tasks",
        &op,
        json!({ "task_type": "t" }),
    )
    .await;
    let task_id = task["task_id"].as_str().unwrap_or_default().to_owned();
    let (status, _) = server.get("/api/v1/agents/me/tasks/next", &me).await;
    assert_eq!(status, StatusCode::OK);
    ok(
        &server,
        post.clone(),
        &format!("/api/v1/tasks/{task_id}/progress"),
        &me,
        json!({ "percent": 50 }),
    )
    .await;
    let command = ok(
        &server,
        post.clone(),
        &format!("/api/v1/agents/{}/commands", agent.agent_id),
        &op,
        json!({ "command": "restart", "timeout_seconds": 60 }),
    )
    .await;
    ok(
        &server,
        Method::GET,
        "/api/v1/agents/me/commands",
        &me,
        Value::Null,
    )
    .await;
    let last = ok(
        &server,
        post.clone(),
        &format!(
            "/api/v1/agents/me/commands/{}/result",
            command["command_id"].as_str().unwrap_or_default()
        ),
        &me,
        json!({ "success": true, "exit_code": 0 }),
    )
    .await;
    let at = last["position"].as_u64().unwrap_or_default();
    let runs = ok(
        &server,
        Method::GET,
        &format!("/api/v1/runs?min_position={at}"),
        &op,
        Value::Null,
    )
    .await;
    let run_id = runs["items"][0]["run_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let views = [
        (format!("/api/v1/operations?min_position={at}"), op.clone()),
        (format!("/api/v1/runs?min_position={at}"), op.clone()),
        (
            format!("/api/v1/runs/{run_id}?min_position={at}"),
            op.clone(),
        ),
        (format!("/api/v1/usage?min_position={at}"), op.clone()),
        (format!("/api/v1/dashboard?min_position={at}"), op.clone()),
        (format!("/api/v1/alerts?min_position={at}"), op.clone()),
        (format!("/api/v1/agent-stats?min_position={at}"), op.clone()),
        (
            format!("/api/v1/agent-stats/{}?min_position={at}", agent.agent_id),
            op.clone(),
        ),
        (format!("/api/v1/tasks?min_position={at}"), op.clone()),
        (format!("/api/v1/tasks/{task_id}"), op.clone()),
        (
            format!("/api/v1/tasks/{task_id}/history?min_position={at}"),
            op.clone(),
        ),
        (
            format!(
                "/api/v1/agents/{}/commands?min_position={at}",
                agent.agent_id
            ),
            op.clone(),
        ),
        (format!("/api/v1/cache?min_position={at}"), op.clone()),
        (format!("/api/v1/webhooks?min_position={at}"), op.clone()),
        ("/api/v1/webhooks".to_owned(), me.clone()),
        ("/api/v1/budget".to_owned(), op.clone()),
        (format!("/api/v1/agents/{}", agent.agent_id), op.clone()),
        ("/api/v1/agents/me/cache/doc/a".to_owned(), me.clone()),
    ];
    let mut found = Vec::new();
    let mut answers = Vec::new();
    for (path, token) in &views {
        let (status, answer) = server.get(path, token).await;
        assert_eq!(status, StatusCode::OK, "{path}: {answer}");
        breaches(path, &answer, &mut found);
        answers.push(answer);
    }
    assert!(found.is_empty(), "{found:#?}");

    // Money comes back in the unit it went in.
    let (runs, dashboard, budget) = (&answers[1], &answers[4], &answers[15]);
    assert_eq!(runs["items"][0]["cost_usd"], json!(0.012346), "{runs}");
    assert_eq!(
        dashboard["today"]["cost_usd"],
        json!(0.012346),
        "{dashboard}"
    );
    assert_eq!(
        dashboard["budget"]["daily_cost_usd"]["limit"],
        json!(2.5),
        "{dashboard}"
    );
    assert_eq!(budget["daily_cost_usd"], json!(2.5), "{budget}");
    assert_eq!(answers[14][0]["webhook_id"], hook["webhook_id"]);
    // Times say when: the run happened moments ago.
    let occurred = runs["items"][0]["occurred_at"].as_str().unwrap_or_default();
    let age = chrono::Utc::now()
        .signed_duration_since(DateTime::parse_from_rfc3339(occurred).unwrap_or_default());
    assert!(age.num_minutes().abs() < 10, "{occurred}");
}

on_every_backend!(every_view_names_times_and_money_one_way);
