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
    ("post", "/api/v1/agents/{agent_id}/lifecycle"),
    ("post", "/api/v1/agents/me/commands/{command_id}/progress"),
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
    ("get", "/api/v1/tasks/{task_id}/output"),
    ("get", "/api/v1/stream"),
    ("get", "/api/v1/ws"),
    ("get", "/api/v1/webhooks/{webhook_id}/deliveries"),
    (
        "get",
        "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}",
    ),
    (
        "post",
        "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    ),
    ("post", "/api/v1/webhooks/{webhook_id}/ping"),
    ("post", "/api/v1/webhooks/{webhook_id}/replay"),
    ("post", "/api/v1/tools"),
    ("get", "/api/v1/tools"),
    ("put", "/api/v1/tools/{tool_id}"),
    ("get", "/api/v1/tools/{tool_id}"),
    ("get", "/api/v1/tools/{tool_id}/history"),
    ("post", "/api/v1/tools/{tool_id}/disable"),
    ("post", "/api/v1/tools/{tool_id}/enable"),
    ("post", "/api/v1/tools/{tool_id}/test"),
    ("post", "/api/v1/workflows"),
    ("get", "/api/v1/workflows"),
    ("get", "/api/v1/workflows/{workflow_id}"),
    ("put", "/api/v1/workflows/{workflow_id}/draft"),
    ("post", "/api/v1/workflows/{workflow_id}/publish"),
    ("post", "/api/v1/workflows/{workflow_id}/archive"),
    ("get", "/api/v1/workflows/{workflow_id}/versions/{version}"),
    ("get", "/api/v1/workflows/{workflow_id}/diff"),
    ("get", "/api/v1/agents"),
    ("post", "/api/v1/agents/{agent_id}/rename"),
    ("post", "/api/v1/agents/{agent_id}/retire"),
    ("patch", "/api/v1/budget"),
    ("delete", "/api/v1/budget"),
    ("get", "/api/v1/budgets"),
    ("get", "/api/v1/agents/{agent_id}/budget"),
    ("put", "/api/v1/agents/{agent_id}/budget"),
    ("patch", "/api/v1/agents/{agent_id}/budget"),
    ("delete", "/api/v1/agents/{agent_id}/budget"),
    ("get", "/api/v1/model-budgets/{model}"),
    ("put", "/api/v1/model-budgets/{model}"),
    ("patch", "/api/v1/model-budgets/{model}"),
    ("delete", "/api/v1/model-budgets/{model}"),
    ("get", "/api/v1/command-templates"),
    ("get", "/api/v1/tenants"),
    ("get", "/api/v1/api-keys"),
    ("post", "/api/v1/executions"),
    ("get", "/api/v1/executions"),
    ("get", "/api/v1/executions/{execution_id}"),
    ("post", "/api/v1/executions/{execution_id}/cancel"),
    ("post", "/api/v1/executions/{execution_id}/pause"),
    ("post", "/api/v1/executions/{execution_id}/resume"),
    ("post", "/api/v1/webhooks/{webhook_id}/disable"),
    ("post", "/api/v1/webhooks/{webhook_id}/enable"),
    ("get", "/api/v1/tasks/{task_id}/callbacks"),
    ("get", "/api/v1/callbacks/secret"),
    ("post", "/api/v1/agents/enroll"),
    ("post", "/api/v1/enrollment-tokens"),
    ("get", "/api/v1/enrollment-tokens"),
    ("delete", "/api/v1/enrollment-tokens/{token_id}"),
    ("get", "/api/v1/agent-presets"),
    ("post", "/api/v1/agent-presets/{name}/agents"),
    ("get", "/metrics"),
];

const PUBLIC: &[&str] = &[
    "/health",
    "/ready",
    "/api/v1/agents/auth",
    "/api/v1/agents/refresh",
    "/api/v1/agents/enroll",
    "/metrics",
];

async fn document(server: &TestServer) -> Value {
    let response = server
        .http
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_documented_with_its_auth_and_errors() {
    let server = TestServer::start(TestDatabase::sqlite()).await;
    let doc = document(&server).await;
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

/// Every operation of the document, as (method, path, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            all.push((method.clone(), path.clone(), operation.clone()));
        }
    }
    all
}

/// Every `$ref` anywhere under `value`, with where it was found.
fn references(value: &Value, at: &str, found: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                match (key.as_str(), item) {
                    ("$ref", Value::String(target)) => found.push((at.to_owned(), target.clone())),
                    _ => references(item, &format!("{at}/{key}"), found),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                references(item, &format!("{at}/{i}"), found);
            }
        }
        _ => {}
    }
}

/// What `#/components/...` points at (`Value::Null` when nothing).
fn resolve<'a>(doc: &'a Value, target: &str) -> &'a Value {
    target.strip_prefix("#/").map_or(&Value::Null, |pointer| {
        doc.pointer(&format!("/{pointer}")).unwrap_or(&Value::Null)
    })
}

/// Whether `schema` (inline, by reference, or one arm of `oneOf` next to
/// `null`) is a string of format `uuid`.
fn is_uuid(doc: &Value, schema: &Value) -> bool {
    if let Some(target) = schema["$ref"].as_str() {
        return is_uuid(doc, resolve(doc, target));
    }
    if let Some(arms) = schema["oneOf"].as_array() {
        let mut typed = arms.iter().filter(|a| a["type"] != "null");
        return match (typed.next(), typed.next()) {
            (Some(only), None) => is_uuid(doc, only),
            _ => false,
        };
    }
    schema["format"] == "uuid"
}

/// Ids that are not UUIDs: stream ids (`agent-…`), names the client chooses
/// (resources, members, sessions), and actors (system components have names).
const TEXT_IDS: &[&str] = &[
    "stream_id",
    "resource_id",
    "member_id",
    "session_id",
    "actor_id",
];

fn is_id(name: &str) -> bool {
    name.ends_with("_id") && !TEXT_IDS.contains(&name)
}

/// What client generators and validators need of the document: tools such
/// as openapi-spec-validator and openapi-python-client refuse a document
/// without these, or generate a client that sends the wrong requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_holds_what_client_generators_need() {
    let server = TestServer::start(TestDatabase::sqlite()).await;
    let doc = document(&server).await;
    let mut problems = Vec::new();
    let mut operation_ids = std::collections::BTreeSet::new();

    for (method, path, operation) in operations(&doc) {
        let at = format!("{method} {path}");
        match operation["operationId"].as_str() {
            Some(id) if operation_ids.insert(id.to_owned()) => {}
            other => problems.push(format!("{at}: operationId {other:?} is missing or taken")),
        }

        // Path parameters are exactly the template's, and only they are `in: path`.
        let template: std::collections::BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        let parameters = operation["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let in_path: std::collections::BTreeSet<&str> = parameters
            .iter()
            .filter(|p| p["in"] == "path")
            .filter_map(|p| p["name"].as_str())
            .collect();
        if in_path != template {
            problems.push(format!(
                "{at}: path parameters {in_path:?}, template {template:?}"
            ));
        }
        for parameter in &parameters {
            let name = parameter["name"].as_str().unwrap_or_default();
            if is_id(name) && !is_uuid(&doc, &parameter["schema"]) {
                problems.push(format!("{at}: parameter `{name}` is not `format: uuid`"));
            }
            if name == "limit"
                && !(parameter["schema"]["minimum"].is_number()
                    && parameter["schema"]["maximum"].is_number())
            {
                problems.push(format!("{at}: `limit` has no bounds"));
            }
        }

        let responses = operation["responses"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (status, response) in &responses {
            if response["description"].as_str().is_none_or(str::is_empty) {
                problems.push(format!("{at}: response {status} has no description"));
            }
        }
        // A JSON body can be too large or not JSON at all.
        if operation["requestBody"]["content"]["application/json"].is_object() {
            for status in ["413", "415"] {
                if !responses.contains_key(status) {
                    problems.push(format!("{at}: takes JSON but does not document {status}"));
                }
            }
        }
    }

    let mut found = Vec::new();
    references(&doc, "#", &mut found);
    assert!(!found.is_empty(), "the document uses references");
    for (at, target) in found {
        if resolve(&doc, &target).is_null() {
            problems.push(format!("{at}: `{target}` does not resolve"));
        }
    }

    for (name, schema) in doc["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
    {
        let mut parts = vec![schema.clone()];
        parts.extend(schema["allOf"].as_array().cloned().unwrap_or_default());
        for part in parts {
            for (field, property) in part["properties"].as_object().into_iter().flatten() {
                if is_id(field) && !is_uuid(&doc, property) {
                    problems.push(format!("schema {name}: `{field}` is not `format: uuid`"));
                }
            }
        }
    }

    let metrics = &doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"];
    if !metrics["text/plain"].is_object() {
        problems.push(format!(
            "/metrics is not documented as text/plain: {metrics}"
        ));
    }

    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
