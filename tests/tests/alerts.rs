//! Alerts raised by the alert policy, handled by operators; budgets and
//! batch runs; and replaying the log never raising an alert twice.

use std::time::Duration;

use agentledger_commands::alerts::alert_id;
use agentledger_tests::{TestServer, on_every_backend};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn run(tokens: u64, status: &str) -> Value {
    json!({
        "app_type": "moderation", "trigger_type": "schedule", "model": "m-1", "prompt_tokens": tokens,
        "completion_tokens": 0, "latency_ms": 5, "status": status, "error_message": "upstream 503"
    })
}

/// Waits for the alert reactor to raise the alert about `subject`.
async fn alert(server: &TestServer, subject: &str) -> Value {
    let path = format!("/api/v1/alerts/{}", alert_id(subject));
    for _ in 0..100 {
        let (status, alert) = server.get(&path, &server.admin_key).await;
        if status == StatusCode::OK {
            return alert;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no alert about {subject}");
}

/// Alerts raised for failed runs and tasks. Agents going offline are left
/// out: the test server marks a silent agent offline after a second, which
/// a slow run of a test may reach.
async fn raised_count(server: &TestServer) -> usize {
    let raised = server.raised_alerts().await;
    raised
        .iter()
        .filter(|a| a["source"] != json!("agent"))
        .count()
}

async fn failures_raise_alerts_that_operators_handle_once(server: TestServer) {
    let agent = server
        .agent(&server.admin_key, &["runs:write", "tasks:claim"], 600)
        .await;
    let (_, ok_run) = server
        .post("/api/v1/agents/me/runs", &agent.token, &run(10, "success"))
        .await;
    let (_, failed) = server
        .post(
            "/api/v1/agents/me/runs",
            &agent.token,
            &run(10, "circuit_open"),
        )
        .await;
    let subject = format!("run:{}", failed["event_id"].as_str().unwrap_or_default());
    let raised = alert(&server, &subject).await;
    assert_eq!(raised["status"], json!("pending"));
    assert_eq!(raised["events"][0]["payload"]["source"], json!("llm_run"));
    assert_eq!(
        raised["events"][0]["causation_id"], failed["event_id"],
        "the alert names its cause"
    );
    let (status, _) = server
        .get(
            &format!(
                "/api/v1/alerts/{}",
                alert_id(&format!(
                    "run:{}",
                    ok_run["event_id"].as_str().unwrap_or_default()
                ))
            ),
            &server.admin_key,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a successful run raises nothing"
    );

    let path = format!("/api/v1/alerts/{}", alert_id(&subject));
    let (status, first) = server
        .post(
            &format!("{path}/acknowledge"),
            &server.admin_key,
            &json!({ "note": "looking" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, again) = server
        .post(
            &format!("{path}/acknowledge"),
            &server.admin_key,
            &json!({ "note": "again" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "repeating a transition is a no-op");
    assert_eq!(again["position"], first["position"], "and appends nothing");
    // The note is optional: no body, or `null` as the document allows.
    let (status, null_body) = server
        .post(
            &format!("{path}/acknowledge"),
            &server.admin_key,
            &json!(null),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{null_body}");
    let (status, problem) = server
        .call(
            Method::POST,
            &format!("{path}/ignore"),
            Some(&server.admin_key),
            None,
        )
        .await;
    assert_eq!(
        (status, problem["current_state"].clone()),
        (StatusCode::CONFLICT, json!("acknowledged"))
    );

    // A failed task raises one too.
    let (_, created) = server
        .post(
            "/api/v1/tasks",
            &server.admin_key,
            &json!({ "task_type": "t" }),
        )
        .await;
    let task = created["task_id"].as_str().unwrap_or_default().to_owned();
    server
        .get("/api/v1/agents/me/tasks/next", &agent.token)
        .await;
    let (_, failed) = server
        .post(
            &format!("/api/v1/tasks/{task}/fail"),
            &agent.token,
            &json!({ "error": "disk full" }),
        )
        .await;
    let (_, stream) = server
        .get(
            &format!("/api/v1/streams/task-{task}/events"),
            &server.admin_key,
        )
        .await;
    let fail_event = stream["events"]
        .as_array()
        .and_then(|e| e.last())
        .map(|e| e["event_id"].clone())
        .unwrap_or_default();
    assert_eq!(
        stream["events"]
            .as_array()
            .and_then(|e| e.last())
            .map(|e| e["position"].clone()),
        Some(failed["position"].clone())
    );
    let task_alert = alert(
        &server,
        &format!("task:{}", fail_event.as_str().unwrap_or_default()),
    )
    .await;
    assert_eq!(
        task_alert["events"][0]["payload"]["detail"],
        json!("disk full")
    );

    // Another tenant cannot see or handle these alerts.
    let (_, intruder) = server.tenant("intruder").await;
    assert_eq!(server.get(&path, &intruder).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        server
            .post(&format!("{path}/ignore"), &intruder, &json!({}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    // The reactors save their checkpoint when the log goes quiet; a restart
    // goes on from it, and what it re-reads raises nothing twice.
    let (_, ok_run) = server
        .post("/api/v1/agents/me/runs", &agent.token, &run(1, "success"))
        .await;
    let mut saved = None;
    for _ in 0..200 {
        saved = agentledger_projections::reactor_checkpoint::load(
            &server.state.database,
            "alerts_and_batches",
        )
        .await
        .ok()
        .flatten()
        .map(|(position, _)| position);
        if saved >= ok_run["position"].as_u64() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(saved >= ok_run["position"].as_u64(), "checkpoint {saved:?}");
    let before = raised_count(&server).await;
    let server = server.restart().await;
    server
        .post("/api/v1/agents/me/runs", &agent.token, &run(1, "timeout"))
        .await;
    for _ in 0..100 {
        if raised_count(&server).await > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        raised_count(&server).await,
        before + 1,
        "only the new failure raised an alert"
    );
}

async fn budgets_alert_at_80_and_100_percent_once(server: TestServer) {
    let op = server.admin_key.clone();
    let (status, _) = server
        .call(
            Method::PUT,
            "/api/v1/budget",
            Some(&op),
            Some(&json!({ "daily_tokens": 1000, "monthly_cost_usd": 50.0 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, limits) = server.get("/api/v1/budget", &op).await;
    assert_eq!(
        limits,
        json!({ "daily_tokens": 1000, "monthly_tokens": null, "daily_cost_usd": null, "monthly_cost_usd": 50.0,
                "thresholds_percent": [50, 80, 95], "hard_stop": false })
    );
    let agent = server.agent(&op, &["runs:write"], 600).await;
    let (_, me) = server.get("/api/v1/agents/me", &agent.token).await;
    let tenant = me["tenant_id"].as_str().unwrap_or_default().to_owned();
    for tokens in [500, 350, 100, 100] {
        server
            .post(
                "/api/v1/agents/me/runs",
                &agent.token,
                &run(tokens, "success"),
            )
            .await;
    }
    let day = chrono::Utc::now().format("%Y-%m-%d");
    let at_80 = alert(&server, &format!("budget:{tenant}:daily-tokens:{day}:80")).await;
    let at_100 = alert(&server, &format!("budget:{tenant}:daily-tokens:{day}:100")).await;
    assert_eq!(at_80["events"][0]["payload"]["severity"], json!("warning"));
    assert_eq!(
        at_100["events"][0]["payload"]["severity"],
        json!("critical")
    );
    let (status, _) = server
        .call(
            Method::PUT,
            "/api/v1/budget",
            Some(&op),
            Some(&json!({ "daily_tokens": 0 })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // PATCH changes the limits sent, removes those sent as null, keeps the
    // rest; PUT replaces them all.
    let budget = |body: Value, method: Method| {
        let server = &server;
        let op = op.clone();
        async move {
            server
                .call(method, "/api/v1/budget", Some(&op), Some(&body))
                .await
        }
    };
    let (status, _) = budget(
        json!({ "monthly_tokens": 90_000, "monthly_cost_usd": null }),
        Method::PATCH,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, limits) = server.get("/api/v1/budget", &op).await;
    assert_eq!(
        limits,
        json!({ "daily_tokens": 1000, "monthly_tokens": 90_000, "daily_cost_usd": null, "monthly_cost_usd": null,
                "thresholds_percent": [50, 80, 95], "hard_stop": false })
    );
    for refused in [
        json!({ "daily_tokens": 0 }),
        json!({ "daily_cost_usd": -1.0 }),
        json!({ "weekly_tokens": 5 }),
    ] {
        let (status, problem) = budget(refused.clone(), Method::PATCH).await;
        assert!(status.is_client_error(), "{refused}: {status} {problem}");
    }
    let (status, _) = budget(json!({ "daily_cost_usd": 2.5 }), Method::PUT).await;
    assert_eq!(status, StatusCode::OK);
    let (_, limits) = server.get("/api/v1/budget", &op).await;
    assert_eq!(
        limits,
        json!({ "daily_tokens": null, "monthly_tokens": null, "daily_cost_usd": 2.5, "monthly_cost_usd": null,
                "thresholds_percent": [50, 80, 95], "hard_stop": false })
    );
}

async fn batches_are_estimated_then_confirmed_once(server: TestServer) {
    let op = server.admin_key.clone();
    let body = json!({ "app_types": ["summary", "tagging"], "member_ids": ["m1", "m2", "m3"], "avg_tokens_per_call": 1000 });
    let (status, estimate) = server.post("/api/v1/batches/estimate", &op, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{estimate}");
    assert_eq!(
        (
            estimate["estimated_calls"].clone(),
            estimate["estimated_tokens"].clone()
        ),
        (json!(6), json!(6000))
    );
    let batch = estimate["batch_id"].as_str().unwrap_or_default().to_owned();

    let (_, intruder) = server.tenant("intruder").await;
    let confirm = format!("/api/v1/batches/{batch}/confirm");
    assert_eq!(
        server
            .call(Method::POST, &confirm, Some(&intruder), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (status, confirmed) = server.call(Method::POST, &confirm, Some(&op), None).await;
    assert_eq!(status, StatusCode::CREATED, "{confirmed}");
    let tasks = confirmed["task_ids"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(tasks.len(), 6);
    for task in &tasks {
        let (status, view) = server
            .get(
                &format!("/api/v1/tasks/{}", task.as_str().unwrap_or_default()),
                &op,
            )
            .await;
        assert_eq!(
            (status, view["task_type"].clone(), view["status"].clone()),
            (StatusCode::OK, json!("batch_run"), json!("pending"))
        );
    }
    let (status, problem) = server.call(Method::POST, &confirm, Some(&op), None).await;
    assert_eq!(
        (status, problem["current_state"].clone()),
        (StatusCode::CONFLICT, json!("confirmed"))
    );
    let missing = format!("/api/v1/batches/{}/confirm", uuid::Uuid::now_v7());
    assert_eq!(
        server.call(Method::POST, &missing, Some(&op), None).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, _) = server
        .post(
            "/api/v1/batches/estimate",
            &op,
            &json!({ "app_types": [], "member_ids": ["m"] }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

on_every_backend!(
    failures_raise_alerts_that_operators_handle_once,
    budgets_alert_at_80_and_100_percent_once,
    batches_are_estimated_then_confirmed_once,
);
