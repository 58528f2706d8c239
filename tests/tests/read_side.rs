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
