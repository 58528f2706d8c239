//! Audit from the API alone: what an agent did between two moments, what one
//! request caused, what the dashboard showed at a past moment, any aggregate's
//! state as of a point, and whether the log was altered.

use std::time::Duration;

use agentledger_tests::{TestServer, header, on_every_backend};
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn action(verb: &str) -> Value {
    json!({ "action": verb, "resource_type": "post", "status": "success", "confidence": 0.9 })
}

fn run(app: &str, tokens: u64) -> Value {
    json!({
        "app_type": app, "trigger_type": "manual", "model": "m", "prompt_tokens": tokens,
        "completion_tokens": 5, "cost_usd": 0.002, "latency_ms": 40, "status": "success"
    })
}

/// With `Z` for UTC, so the time needs no escaping in a query string.
fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Waits until nothing has been appended for two seconds (agents marked
/// offline, alerts raised), so a moment taken now is a quiet one.
async fn quiet(server: &TestServer) -> u64 {
    let store = &server.state.store;
    let mut head = store.head_position().await.unwrap_or_default();
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now = store.head_position().await.unwrap_or_default();
        if now == head {
            return head;
        }
        head = now;
    }
    panic!("the log never went quiet");
}

/// Every event the query matches, following `next` from page to page.
async fn all_pages(server: &TestServer, query: &str, key: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut from = 0;
    loop {
        let (status, page) = server
            .get(
                &format!("/api/v1/events?{query}&limit=7&from_position={from}"),
                key,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        events.extend(page["events"].as_array().cloned().unwrap_or_default());
        match page["next"].as_u64() {
            Some(next) => from = next,
            None => return events,
        }
    }
}

/// A dashboard without what tells a past one from the live one: its
/// position and moment, and the live one's list of budgets with their use
/// now (a past one shows the tenant's own budget only).
fn without_position(mut dashboard: Value) -> Value {
    if let Some(map) = dashboard.as_object_mut() {
        map.remove("position");
        map.remove("as_of");
        map.remove("budgets");
    }
    dashboard
}

async fn an_auditor_answers_what_an_agent_did_what_the_dashboard_showed_and_if_anything_changed(
    server: TestServer,
) {
    let (tenant, operator) = server.tenant("audited").await;
    let auditor = server.key(&tenant, "auditor").await;
    let x = server
        .agent(&operator, &["actions:write", "batch", "runs:write"], 10_000)
        .await;
    let y = server
        .agent(&operator, &["actions:write", "batch", "runs:write"], 10_000)
        .await;
    for agent in [&x, &y] {
        let (status, body) = server
            .post("/api/v1/agents/me/actions", &agent.token, &action("early"))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let t1 = Utc::now();

    // Between T1 and T2: a batch by X under a correlation id the client chose,
    // runs by X and Y, an action by Y.
    let request = uuid::Uuid::now_v7();
    let response = server
        .http
        .post(server.url("/api/v1/agents/me/actions/batch"))
        .bearer_auth(&x.token)
        .header("x-correlation-id", request.to_string())
        .json(&json!({ "actions": [action("approve"), action("tag"), action("rank")] }))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(header(&response, "x-correlation-id"), request.to_string());
    for (agent, app) in [(&x, "moderation"), (&y, "generation"), (&x, "moderation")] {
        let (status, body) = server
            .post("/api/v1/agents/me/runs", &agent.token, &run(app, 100))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    // A budget, and a failed run the alert policy raises an alert for: the
    // past dashboard must show both as the live one did.
    let (status, body) = server
        .call(
            reqwest::Method::PUT,
            "/api/v1/budget",
            Some(&operator),
            Some(&json!({ "daily_tokens": 100000 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut failed = run("generation", 50);
    failed["status"] = json!("failed");
    failed["error_message"] = json!("upstream down");
    let (status, body) = server
        .post("/api/v1/agents/me/runs", &y.token, &failed)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = server
        .post("/api/v1/agents/me/actions", &y.token, &action("middle"))
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let head = quiet(&server).await;
    let (status, live) = server
        .get(&format!("/api/v1/dashboard?min_position={head}"), &auditor)
        .await;
    assert_eq!(status, StatusCode::OK, "{live}");
    assert_eq!(live["today"]["calls"], json!(4), "{live}");
    assert!(
        live["recent_alerts"]
            .as_array()
            .is_some_and(|a| !a.is_empty()),
        "{live}"
    );
    assert_eq!(live["budget"]["daily_tokens"]["limit"], json!(100000));
    let t2 = Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;

    // After T2: more of everything, so the live dashboard moves on.
    let (status, _) = server
        .post("/api/v1/agents/me/actions", &x.token, &action("late"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = server
        .post("/api/v1/agents/me/runs", &y.token, &run("search", 1000))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let after = body["position"].as_u64().unwrap_or_default();

    // What did X do between T1 and T2? Exactly its batch and its two runs.
    let between = format!(
        "actor_kind=agent&actor_id={}&from={}&to={}",
        x.agent_id,
        rfc3339(t1),
        rfc3339(t2)
    );
    let done = all_pages(&server, &between, &auditor).await;
    let types: Vec<&str> = done
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert_eq!(
        types,
        [
            "ActionRecorded",
            "ActionRecorded",
            "ActionRecorded",
            "LlmRunRecorded",
            "LlmRunRecorded"
        ],
        "{done:?}"
    );
    for event in &done {
        assert_eq!(event["actor"]["id"], json!(x.agent_id));
        assert!(event["hash"].as_str().is_some_and(|h| h.len() == 64));
        let at: DateTime<Utc> = event["occurred_at"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .unwrap_or_default();
        assert!(t1 <= at && at < t2, "{event}");
    }
    // Everything the batch request caused, whatever the stream.
    let caused = all_pages(&server, &format!("correlation_id={request}"), &auditor).await;
    assert_eq!(caused.len(), 3);
    assert!(
        caused
            .iter()
            .all(|e| e["correlation_id"] == json!(request.to_string()))
    );
    // A stream read with the same filters.
    let (status, stream) = server
        .get(
            &format!(
                "/api/v1/streams/runs-{}/events?types=LlmRunRecorded&from={}",
                x.agent_id,
                rfc3339(t1)
            ),
            &auditor,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{stream}");
    assert_eq!(stream["events"].as_array().map(Vec::len), Some(2));

    // What did the dashboard show at T2? What it showed then, both by time
    // and by position, though the live one has moved on.
    let (status, now) = server
        .get(&format!("/api/v1/dashboard?min_position={after}"), &auditor)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(now["today"]["calls"], json!(5));
    let at_t2 = rfc3339(t2);
    let (status, then) = server
        .get(&format!("/api/v1/dashboard?as_of={at_t2}"), &auditor)
        .await;
    assert_eq!(status, StatusCode::OK, "{then}");
    assert_eq!(then["position"], json!(head));
    assert_eq!(without_position(then), without_position(live.clone()));
    let (status, then) = server
        .get(&format!("/api/v1/dashboard?as_of={head}"), &auditor)
        .await;
    assert_eq!(status, StatusCode::OK, "{then}");
    assert_eq!(without_position(then), without_position(live));

    // An agent's state before and after an operator disabled it.
    let (status, disabled) = server
        .post(
            &format!("/api/v1/agents/{}/disable", y.agent_id),
            &operator,
            &json!({ "reason": "audit" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{disabled}");
    let state_path = format!("/api/v1/streams/agent-{}/state", y.agent_id);
    let (status, before) = server
        .get(&format!("{state_path}?as_of={at_t2}"), &auditor)
        .await;
    assert_eq!(status, StatusCode::OK, "{before}");
    assert_eq!(before["aggregate"], json!("agent"));
    assert_eq!(before["state"]["enabled"], json!(true));
    assert!(before["state"].get("secret_hash").is_none());
    let (status, current) = server.get(&state_path, &auditor).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(current["state"]["enabled"], json!(false));
    assert!(current["version"].as_u64() > before["version"].as_u64());

    // Has anything been altered since? The chain verifies to the head.
    let (status, verified) = server.get("/api/v1/audit/verify", &auditor).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(verified["first_break"], Value::Null, "{verified}");
    assert!(verified["verified"].as_u64() >= Some(after));

    // Another tenant's auditor sees none of it; operators may not read the log.
    let (other, _) = server.tenant("elsewhere").await;
    let stranger = server.key(&other, "auditor").await;
    assert_eq!(
        server.get(&state_path, &stranger).await.0,
        StatusCode::NOT_FOUND
    );
    assert!(
        all_pages(&server, &format!("correlation_id={request}"), &stranger)
            .await
            .is_empty()
    );
    for path in [
        format!("/api/v1/events?tenant_id={tenant}"),
        format!("/api/v1/exports/runs?format=csv&tenant_id={tenant}"),
        format!("/api/v1/exports/events?format=csv&tenant_id={tenant}"),
    ] {
        assert_eq!(
            server.get(&path, &stranger).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    assert_eq!(
        server.get("/api/v1/events", &operator).await.0,
        StatusCode::FORBIDDEN
    );
}

async fn bad_audit_questions_get_clear_problems(server: TestServer) {
    let admin = server.admin_key.clone();
    let future = rfc3339(Utc::now() + chrono::Duration::days(1));
    // 400: not what the document describes; 422: described, but not answerable.
    for (path, status) in [
        ("/api/v1/dashboard?as_of=yesterday", StatusCode::BAD_REQUEST),
        (
            &format!("/api/v1/dashboard?as_of={future}"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v1/dashboard?as_of=999999999",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v1/dashboard?min_position=999999999",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("/api/v1/events?actor_kind=robot", StatusCode::BAD_REQUEST),
        (
            "/api/v1/events?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("/api/v1/events?from_version=3", StatusCode::BAD_REQUEST),
        (
            "/api/v1/streams/tenant-1/events?from_position=3",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/v1/events?from_position=9223372036854775808",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v1/streams/actions-1/state",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v1/streams/nothing-here/state",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v1/streams/task-01a20cbe-0040-73b4-bee4-f0c03c2001b0/state",
            StatusCode::NOT_FOUND,
        ),
    ] {
        let (got, body) = server.get(path, &admin).await;
        assert_eq!(got, status, "{path}: {body}");
    }
    // A stream that exists but is no aggregate's has no state to fold.
    let agent = server.agent(&admin, &["actions:write"], 100).await;
    let (status, _) = server
        .post("/api/v1/agents/me/actions", &agent.token, &action("x"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = server
        .get(
            &format!("/api/v1/streams/actions-{}/state", agent.agent_id),
            &admin,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

on_every_backend!(
    an_auditor_answers_what_an_agent_did_what_the_dashboard_showed_and_if_anything_changed,
    bad_audit_questions_get_clear_problems,
);
