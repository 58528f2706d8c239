//! The OpenAPI document covers every route, with its auth and errors.

use agentledger_store::testing::TestDatabase;
use agentledger_tests::TestServer;
use reqwest::StatusCode;
use serde_json::Value;

const ROUTES: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/ready"),
    ("post", "/api/v1/streams/{stream_id}/events"),
    ("get", "/api/v1/streams/{stream_id}/events"),
    ("get", "/api/v1/events"),
    ("post", "/api/v1/tenants"),
    ("post", "/api/v1/api-keys"),
    ("delete", "/api/v1/api-keys/{key_id}"),
    ("post", "/api/v1/agents"),
    ("post", "/api/v1/agents/auth"),
    ("post", "/api/v1/agents/refresh"),
    ("get", "/api/v1/agents/me"),
    ("post", "/api/v1/agents/me/heartbeat"),
    ("get", "/api/v1/agents/{agent_id}"),
    ("post", "/api/v1/agents/{agent_id}/secret"),
    ("put", "/api/v1/agents/{agent_id}/permissions"),
    ("post", "/api/v1/agents/{agent_id}/disable"),
    ("post", "/api/v1/agents/{agent_id}/enable"),
    ("post", "/api/v1/agents/me/actions"),
    ("post", "/api/v1/agents/me/actions/batch"),
    ("post", "/api/v1/agents/me/runs"),
    ("post", "/api/v1/tasks"),
    ("get", "/api/v1/tasks/{task_id}"),
    ("post", "/api/v1/tasks/{task_id}/cancel"),
    ("post", "/api/v1/tasks/{task_id}/retry"),
    ("post", "/api/v1/tasks/{task_id}/progress"),
    ("post", "/api/v1/tasks/{task_id}/complete"),
    ("post", "/api/v1/tasks/{task_id}/fail"),
    ("get", "/api/v1/agents/me/tasks/next"),
    ("post", "/api/v1/agents/{agent_id}/commands"),
    ("get", "/api/v1/agents/{agent_id}/commands"),
    ("get", "/api/v1/commands/{command_id}"),
    ("get", "/api/v1/agents/me/commands"),
    ("post", "/api/v1/agents/me/commands/{command_id}/output"),
    ("post", "/api/v1/agents/me/commands/{command_id}/result"),
    ("post", "/api/v1/command-templates"),
    ("put", "/api/v1/command-templates/{template_id}"),
    ("delete", "/api/v1/command-templates/{template_id}"),
    ("get", "/api/v1/command-templates/{template_id}"),
    ("get", "/api/v1/alerts/{alert_id}"),
    ("post", "/api/v1/alerts/{alert_id}/acknowledge"),
    ("post", "/api/v1/alerts/{alert_id}/ignore"),
    ("get", "/api/v1/budget"),
    ("put", "/api/v1/budget"),
    ("post", "/api/v1/batches/estimate"),
    ("post", "/api/v1/batches/{batch_id}/confirm"),
    ("post", "/api/v1/webhooks"),
    ("put", "/api/v1/webhooks/{webhook_id}"),
    ("delete", "/api/v1/webhooks/{webhook_id}"),
    ("get", "/api/v1/webhooks/{webhook_id}"),
    ("put", "/api/v1/agents/me/cache/{cache_type}/{target}"),
    ("get", "/api/v1/agents/me/cache/{cache_type}/{target}"),
    ("post", "/api/v1/cache/invalidate"),
    ("get", "/api/v1/operations"),
    ("get", "/api/v1/operations/summary"),
    ("get", "/api/v1/dashboard"),
    ("get", "/api/v1/alerts"),
    ("get", "/api/v1/runs"),
    ("get", "/api/v1/runs/{run_id}"),
    ("get", "/api/v1/agent-stats"),
    ("get", "/api/v1/agent-stats/{agent_id}"),
    ("get", "/api/v1/tasks"),
    ("get", "/api/v1/tasks/{task_id}/history"),
    ("get", "/api/v1/tasks/skipped-duplicates"),
    ("get", "/api/v1/usage"),
    ("get", "/api/v1/webhooks"),
    ("get", "/api/v1/cache"),
    ("put", "/api/v1/tenants/{tenant_id}/time-zone"),
    ("get", "/api/v1/audit/verify"),
    ("get", "/api/v1/streams/{stream_id}/state"),
    ("get", "/api/v1/exports/{dataset}"),
];

const PUBLIC: &[&str] = &[
    "/health",
    "/ready",
    "/api/v1/agents/auth",
    "/api/v1/agents/refresh",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_documented_with_its_auth_and_errors() {
    let server = TestServer::start(TestDatabase::sqlite()).await;
    let response = server
        .http
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = response.json().await.unwrap_or_default();
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    let documented: usize = paths
        .values()
        .map(|p| p.as_object().map_or(0, |m| m.len()))
        .sum();
    assert_eq!(documented, ROUTES.len(), "documented operations vs routes");
    for (method, path) in ROUTES {
        let operation = &doc["paths"][path][method];
        assert!(operation.is_object(), "{method} {path} is not documented");
        let responses = operation["responses"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for status in ["400", "401", "404", "422"] {
            assert!(
                responses.contains_key(status),
                "{method} {path} lacks {status}"
            );
        }
        let problem = &responses["404"]["content"]["application/problem+json"];
        assert!(
            problem.is_object(),
            "{method} {path}: errors are problem documents"
        );
        let secured = operation["security"]
            .as_array()
            .is_some_and(|s| !s.is_empty());
        assert_eq!(secured, !PUBLIC.contains(path), "{method} {path} security");
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert!(schemes["operator_key"].is_object() && schemes["agent_token"].is_object());

    let docs = server
        .http
        .get(server.url("/docs"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(
        docs.text().await.unwrap_or_default().contains("openapi"),
        "the docs page loads the document"
    );
}
