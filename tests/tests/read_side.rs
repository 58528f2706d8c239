//! Persistent read models: the operation log queried over HTTP with
//! read-your-writes, and rebuilt from the log to the same rows.

use agentledger_projections::engine::{catch_up, reset};
use agentledger_projections::operation_log::{OperationLog, dump};
use agentledger_tests::{TestServer, on_every_backend};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn action(verb: &str, resource: &str, status: &str) -> Value {
    json!({ "action": verb, "resource_type": resource, "status": status, "confidence": 0.5, "execution_time_ms": 3 })
}

async fn record(server: &TestServer, token: &str, actions: Vec<Value>) -> u64 {
    let (status, body) = server
        .post(
            "/api/v1/agents/me/actions/batch",
            token,
            &json!({ "actions": actions }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["position"].as_u64().unwrap_or_default()
}

async fn the_operation_log_lists_filters_pages_and_summarises(server: TestServer) {
    let op = server.admin_key.clone();
    let a = server.agent(&op, &["actions:write", "batch"], 10_000).await;
    let b = server.agent(&op, &["actions:write", "batch"], 10_000).await;
    record(
        &server,
        &a.token,
        (0..30)
            .map(|i| {
                action(
                    "approve",
                    "post",
                    if i % 10 == 0 { "failed" } else { "success" },
                )
            })
            .collect(),
    )
    .await;
    let last = record(
        &server,
        &b.token,
        (0..12)
            .map(|i| {
                action(
                    if i % 2 == 0 { "tag" } else { "rank" },
                    "service",
                    "success",
                )
            })
            .collect(),
    )
    .await;
    let (_, other) = server.tenant("other").await;
    let c = server
        .agent(&other, &["actions:write", "batch"], 10_000)
        .await;
    record(
        &server,
        &c.token,
        vec![action("approve", "post", "success")],
    )
    .await;

    // Read-your-writes: with min_position the read model has every action.
    let (status, page) = server
        .get(
            &format!("/api/v1/operations?limit=500&min_position={last}"),
            &op,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let items = page["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 42, "the other tenant's action is not here");
    let positions: Vec<i64> = items
        .iter()
        .filter_map(|i| i["position"].as_i64())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] > w[1]), "newest first");

    let count = |q: &str| {
        let q = q.to_owned();
        let server = &server;
        let op = op.clone();
        async move {
            server
                .get(&format!("/api/v1/operations?limit=500&{q}"), &op)
                .await
                .1["items"]
                .as_array()
                .map_or(0, Vec::len)
        }
    };
    assert_eq!(count(&format!("agent_id={}", a.agent_id)).await, 30);
    assert_eq!(count("status=failed").await, 3);
    assert_eq!(count("action=tag&resource_type=service").await, 6);
    assert_eq!(
        count("from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z").await,
        0
    );
    assert_eq!(count("from=2000-01-01T00:00:00Z").await, 42);

    // Keyset pagination: pages of 10 walk every row once.
    let mut seen = Vec::new();
    let mut cursor = None::<i64>;
    loop {
        let path = match cursor {
            Some(c) => format!("/api/v1/operations?limit=10&cursor={c}"),
            None => "/api/v1/operations?limit=10".to_owned(),
        };
        let (_, page) = server.get(&path, &op).await;
        seen.extend(
            page["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| i["position"].as_i64()),
        );
        match page["next_cursor"].as_i64() {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, positions);

    let (_, summary) = server.get("/api/v1/operations/summary", &op).await;
    let by_agent = summary["by_agent"].as_array().cloned().unwrap_or_default();
    assert_eq!(by_agent.len(), 2);
    assert_eq!(
        (
            by_agent[0]["agent_id"].clone(),
            by_agent[0]["total"].clone(),
            by_agent[0]["failed"].clone()
        ),
        (json!(a.agent_id), json!(30), json!(3))
    );
    assert_eq!(
        summary["by_action"][0],
        json!({ "name": "approve", "total": 30 })
    );
    assert_eq!(
        summary["by_resource_type"],
        json!([{ "name": "post", "total": 30 }, { "name": "service", "total": 12 }])
    );

    // Tenant isolation, bad input, and a position the read model has not reached.
    let (_, theirs) = server.get("/api/v1/operations", &other).await;
    assert_eq!(theirs["items"].as_array().map(Vec::len), Some(1));
    let (_, me) = server.get("/api/v1/agents/me", &a.token).await;
    let tenant = me["tenant_id"].as_str().unwrap_or_default();
    assert_eq!(
        server
            .get(&format!("/api/v1/operations?tenant_id={tenant}"), &other)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server.get("/api/v1/operations?limit=0", &op).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        server.get("/api/v1/operations?from=yesterday", &op).await.0,
        StatusCode::BAD_REQUEST
    );
    let (status, problem) = server
        .get(
            &format!("/api/v1/operations?min_position={}", last + 1_000_000),
            &op,
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        problem["current_position"]
            .as_u64()
            .is_some_and(|p| p >= last)
    );
}

async fn a_rebuilt_operation_log_equals_the_incremental_one(server: TestServer) {
    let op = server.admin_key.clone();
    let agent = server.agent(&op, &["actions:write", "batch"], 10_000).await;
    let mut last = 0;
    for round in 0..5 {
        last = record(
            &server,
            &agent.token,
            (0..200)
                .map(|i| action(&format!("a{}", (i + round) % 7), "r", "success"))
                .collect(),
        )
        .await;
    }
    let state = &server.state;
    assert!(
        state
            .operation_log_progress
            .wait_for(last, std::time::Duration::from_secs(10))
            .await
    );
    let incremental = dump(&state.database).await.unwrap_or_default();
    assert_eq!(incremental.len(), 1000);

    reset(&state.database, &OperationLog)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(dump(&state.database).await.unwrap_or_default().is_empty());
    let applied = catch_up(&*state.store, &state.database, &OperationLog, |_| {})
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(applied >= 1000);
    let rebuilt = dump(&state.database).await.unwrap_or_default();
    assert_eq!(rebuilt, incremental, "rebuild gives the same rows");
}

on_every_backend!(
    the_operation_log_lists_filters_pages_and_summarises,
    a_rebuilt_operation_log_equals_the_incremental_one,
);

mod dashboard {
    use agentledger_projections::dashboard::{Dashboard, alerts, read};
    use agentledger_projections::engine::{catch_up, reset};
    use agentledger_tests::{TestServer, on_every_backend};
    use reqwest::StatusCode;
    use serde_json::{Value, json};

    fn run(app: &str, status: &str, tokens: u64, latency: u64) -> Value {
        json!({
            "app_type": app, "trigger_type": "t", "model": "m", "prompt_tokens": tokens, "completion_tokens": 0,
            "cost_usd": 0.001, "latency_ms": latency, "status": status
        })
    }

    async fn post_runs(server: &TestServer, token: &str, runs: &[Value]) -> u64 {
        let mut last = 0;
        for r in runs {
            let (status, body) = server.post("/api/v1/agents/me/runs", token, r).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            last = body["position"].as_u64().unwrap_or_default();
        }
        last
    }

    pub async fn the_dashboard_counts_runs_apps_health_alerts_and_budget(server: TestServer) {
        let op = server.admin_key.clone();
        let (status, _) = server
            .call(
                reqwest::Method::PUT,
                "/api/v1/budget",
                Some(&op),
                Some(&json!({ "daily_tokens": 10_000 })),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let agent = server.agent(&op, &["runs:write"], 10_000).await;
        let runs = [
            run("moderation", "success", 1000, 100),
            run("moderation", "success", 1000, 300),
            run("moderation", "failed", 500, 200),
            run("summary", "success", 1500, 400),
        ];
        let last = post_runs(&server, &agent.token, &runs).await;

        // Another tenant's runs never show here.
        let (_, other) = server.tenant("other").await;
        let stranger = server.agent(&other, &["runs:write"], 10_000).await;
        post_runs(
            &server,
            &stranger.token,
            &[run("moderation", "success", 99_999, 1)],
        )
        .await;

        let (status, d) = server
            .get(&format!("/api/v1/dashboard?min_position={last}"), &op)
            .await;
        assert_eq!(status, StatusCode::OK, "{d}");
        assert_eq!(d["today"]["calls"], json!(4));
        assert_eq!(d["today"]["success_rate"], json!(0.75));
        assert_eq!(d["today"]["tokens"], json!(4000));
        assert_eq!(d["today"]["avg_latency_ms"], json!(250.0));
        let trend = d["trend"].as_array().cloned().unwrap_or_default();
        assert_eq!(trend.len(), 7);
        assert_eq!(trend[6]["date"], d["today"]["date"]);
        assert!(
            trend[..6]
                .iter()
                .all(|t| t["calls"] == json!(0) && t["success_rate"].is_null())
        );
        assert_eq!(
            d["apps"],
            json!([{ "app_type": "moderation", "calls": 3, "share": 0.75 }, { "app_type": "summary", "calls": 1, "share": 0.25 }])
        );
        let health: Vec<_> = d["health"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|h| (h["app_type"].clone(), h["last_status"].clone()))
            .collect();
        assert_eq!(
            health,
            [
                (json!("moderation"), json!("failed")),
                (json!("summary"), json!("success"))
            ]
        );
        assert_eq!(
            d["budget"]["daily_tokens"],
            json!({ "used": 4000, "limit": 10_000, "share": 0.4 })
        );

        // The failed run's alert reaches the dashboard and the alert list.
        let mut alert = Value::Null;
        for _ in 0..100 {
            let (_, d) = server.get("/api/v1/dashboard", &op).await;
            if let Some(first) = d["recent_alerts"].as_array().and_then(|a| a.first()) {
                alert = first.clone();
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(
            (alert["source"].clone(), alert["status"].clone()),
            (json!("llm_run"), json!("pending"))
        );
        let (_, list) = server.get("/api/v1/alerts?status=pending", &op).await;
        assert_eq!(list["counts"], json!({ "pending": 1 }));
        let id = alert["alert_id"].as_str().unwrap_or_default();
        let (_, acked) = server
            .post(&format!("/api/v1/alerts/{id}/acknowledge"), &op, &json!({}))
            .await;
        let at = acked["position"].as_u64().unwrap_or_default();
        let (_, list) = server
            .get(&format!("/api/v1/alerts?min_position={at}"), &op)
            .await;
        assert_eq!(list["counts"], json!({ "acknowledged": 1 }));
        assert_eq!(list["items"][0]["status"], json!("acknowledged"));
        let (_, pending) = server
            .get(
                &format!("/api/v1/alerts?status=pending&min_position={at}"),
                &op,
            )
            .await;
        assert_eq!(pending["items"], json!([]));

        // An empty tenant: zeros, not errors.
        let (_, empty) = server
            .get("/api/v1/dashboard", &other_empty(&server).await)
            .await;
        assert_eq!(
            (
                empty["today"]["calls"].clone(),
                empty["apps"].clone(),
                empty["recent_alerts"].clone()
            ),
            (json!(0), json!([]), json!([]))
        );
        assert_eq!(
            empty["budget"]["daily_tokens"],
            json!({ "used": 0, "limit": null, "share": null })
        );
    }

    async fn other_empty(server: &TestServer) -> String {
        server.tenant("empty").await.1
    }

    pub async fn a_rebuilt_dashboard_equals_the_incremental_one(server: TestServer) {
        let op = server.admin_key.clone();
        let agent = server.agent(&op, &["runs:write"], 10_000).await;
        let runs: Vec<Value> = (0..60)
            .map(|i| {
                run(
                    ["a", "b", "c"][i % 3],
                    if i % 7 == 0 { "timeout" } else { "success" },
                    100 + i as u64,
                    10 * i as u64,
                )
            })
            .collect();
        let last = post_runs(&server, &agent.token, &runs).await;
        let (_, me) = server.get("/api/v1/agents/me", &agent.token).await;
        let tenant = me["tenant_id"].as_str().unwrap_or_default().to_owned();
        let state = &server.state;
        // Let the alert policy raise its alerts and the projection apply them.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let head = state.store.head_position().await.unwrap_or_default();
        assert!(
            head >= last
                && state
                    .dashboard_progress
                    .wait_for(head, std::time::Duration::from_secs(10))
                    .await
        );
        let now = chrono::Utc::now();
        let before = (
            read(&state.database, &tenant, now).await.ok(),
            alerts(&state.database, &tenant, (None, None, None), None, 500)
                .await
                .ok(),
        );
        assert_eq!(before.0.as_ref().map(|d| d.today.calls), Some(60));
        assert_eq!(
            before.1.as_ref().map(Vec::len),
            Some(9),
            "one alert per timed-out run"
        );

        reset(&state.database, &Dashboard)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        catch_up(&*state.store, &state.database, &Dashboard, |_| {})
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let after = (
            read(&state.database, &tenant, now).await.ok(),
            alerts(&state.database, &tenant, (None, None, None), None, 500)
                .await
                .ok(),
        );
        assert_eq!(after, before, "rebuild gives the same dashboard and alerts");
    }

    on_every_backend!(
        the_dashboard_counts_runs_apps_health_alerts_and_budget,
        a_rebuilt_dashboard_equals_the_incremental_one
    );
}

mod run_log {
    use agentledger_projections::engine::{catch_up, reset};
    use agentledger_projections::run_log::{RunLog, dump};
    use agentledger_tests::{TestServer, on_every_backend};
    use reqwest::StatusCode;
    use serde_json::json;

    pub async fn runs_are_listed_filtered_and_shown_in_full(server: TestServer) {
        let op = server.admin_key.clone();
        let agent = server.agent(&op, &["runs:write"], 10_000).await;
        let mut last = json!(null);
        for i in 0..25 {
            let body = json!({
                "app_type": if i % 5 == 0 { "summary" } else { "moderation" }, "trigger_type": if i % 2 == 0 { "schedule" } else { "manual" },
                "model": "m", "prompt_tokens": 10, "completion_tokens": 5, "latency_ms": 7,
                "status": if i == 24 { "timeout" } else { "success" }, "error_message": if i == 24 { Some("slow") } else { None },
                "session_id": "s-1", "prompt": format!("prompt {i}"), "response": format!("response {i}")
            });
            let (status, recorded) = server
                .post("/api/v1/agents/me/runs", &agent.token, &body)
                .await;
            assert_eq!(status, StatusCode::CREATED);
            last = recorded;
        }
        let at = last["position"].as_u64().unwrap_or_default();
        let server = &server;
        let count = |q: String| async move {
            let (status, page) = server
                .get(
                    &format!("/api/v1/runs?limit=500&min_position={at}&{q}"),
                    &server.admin_key,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{page}");
            page["items"].as_array().map_or(0, Vec::len)
        };
        assert_eq!(count(String::new()).await, 25);
        assert_eq!(count("app_type=summary".into()).await, 5);
        assert_eq!(count("status=timeout".into()).await, 1);
        assert_eq!(
            count("trigger_type=manual&app_type=moderation".into()).await,
            10
        );
        let (_, first) = server.get("/api/v1/runs?limit=10", &op).await;
        let cursor = first["next_cursor"].as_i64().unwrap_or_default();
        let (_, second) = server
            .get(&format!("/api/v1/runs?limit=10&cursor={cursor}"), &op)
            .await;
        assert!(second["items"].as_array().is_some_and(
            |i| i.len() == 10 && i.iter().all(|r| r["position"].as_i64() < Some(cursor))
        ));
        assert!(
            first["items"][0].get("prompt").is_none(),
            "lists leave the texts out"
        );

        let run_id = last["event_id"].as_str().unwrap_or_default();
        let (status, run) = server.get(&format!("/api/v1/runs/{run_id}"), &op).await;
        assert_eq!(status, StatusCode::OK, "{run}");
        assert_eq!(
            (
                run["prompt"].clone(),
                run["response"].clone(),
                run["error_message"].clone()
            ),
            (json!("prompt 24"), json!("response 24"), json!("slow"))
        );
        let (_, other) = server.tenant("other").await;
        assert_eq!(
            server
                .get(&format!("/api/v1/runs/{run_id}"), &other)
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            server.get("/api/v1/runs", &other).await.1["items"],
            json!([])
        );

        let state = &server.state;
        let before = dump(&state.database).await.unwrap_or_default();
        reset(&state.database, &RunLog)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        catch_up(&*state.store, &state.database, &RunLog, |_| {})
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            dump(&state.database).await.unwrap_or_default(),
            before,
            "rebuild gives the same rows"
        );
    }

    on_every_backend!(runs_are_listed_filtered_and_shown_in_full);
}

mod observability {
    use agentledger_tests::{TestServer, on_every_backend};
    use reqwest::StatusCode;
    use serde_json::json;

    pub async fn ready_reports_lag_and_metrics_are_prometheus_text(server: TestServer) {
        let agent = server.agent(&server.admin_key, &["runs:write"], 600).await;
        let run = json!({ "app_type": "a", "trigger_type": "t", "model": "m", "prompt_tokens": 1, "completion_tokens": 1, "latency_ms": 1, "status": "success" });
        let (_, recorded) = server
            .post("/api/v1/agents/me/runs", &agent.token, &run)
            .await;
        let at = recorded["position"].as_u64().unwrap_or_default();
        server
            .get(
                &format!("/api/v1/dashboard?min_position={at}"),
                &server.admin_key,
            )
            .await;

        let (status, ready) = server.get("/ready", &server.admin_key).await;
        assert_eq!(status, StatusCode::OK);
        let projections = ready["projections"].as_array().cloned().unwrap_or_default();
        let names: Vec<_> = projections
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        for expected in ["task_queue", "operation_log", "dashboard", "run_log"] {
            assert!(names.contains(&expected), "{names:?}");
        }
        let dashboard = projections
            .iter()
            .find(|p| p["name"] == json!("dashboard"))
            .cloned()
            .unwrap_or_default();
        assert!(dashboard["position"].as_u64() >= Some(at));
        assert!(dashboard["lag"].as_u64().is_some());

        let response = server
            .http
            .get(server.url("/metrics"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status(), StatusCode::OK);
        let text = response.text().await.unwrap_or_default();
        for needle in [
            "agentledger_http_requests_total{method=\"POST\",route=\"/api/v1/agents/me/runs\",status=\"201\"} 1",
            "agentledger_http_request_seconds_bucket{method=\"GET\",route=\"/api/v1/dashboard\"",
            "agentledger_position{of=\"head\"}",
            "agentledger_projection_lag_events{projection=\"dashboard\"}",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
    }

    on_every_backend!(ready_reports_lag_and_metrics_are_prometheus_text);
}
