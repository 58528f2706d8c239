//! The lists of what tenants are made of, over HTTP: agents with filters,
//! command templates, tenants and API keys (admins; never a secret), each
//! paged by keyset and kept to its tenant.

use agentledger_tests::{TestServer, on_every_backend};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn items(page: &Value) -> Vec<Value> {
    page["items"].as_array().cloned().unwrap_or_default()
}

/// The page's items' values of `field`.
fn field(page: &Value, field: &str) -> Vec<String> {
    items(page)
        .iter()
        .map(|i| i[field].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn register(server: &TestServer, key: &str, name: &str, kind: &str) -> String {
    let body =
        json!({ "name": name, "kind": kind, "permissions": [], "rate_limit_per_minute": 60 });
    let (status, made) = server.post("/api/v1/agents", key, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    made["agent_id"].as_str().unwrap_or_default().to_owned()
}

async fn list(server: &TestServer, path: &str, key: &str, position: u64) -> Value {
    let join = if path.contains('?') { '&' } else { '?' };
    let (status, page) = server
        .get(&format!("{path}{join}min_position={position}"), key)
        .await;
    assert_eq!(status, StatusCode::OK, "{path}: {page}");
    page
}

async fn head(server: &TestServer) -> u64 {
    server.state.store.head_position().await.unwrap_or_default()
}

async fn agents_and_templates_are_listed_with_filters_and_pages(server: TestServer) {
    let (tenant, op) = server.tenant("listed").await;
    let (_, other) = server.tenant("unlisted").await;
    let first = register(&server, &op, "first", "writer").await;
    let second = register(&server, &op, "second", "writer").await;
    let third = register(&server, &op, "third", "reviewer").await;
    register(&server, &other, "elsewhere", "writer").await;
    let (status, _) = server
        .post(&format!("/api/v1/agents/{second}/disable"), &op, &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let at = head(&server).await;

    let all = list(&server, "/api/v1/agents", &op, at).await;
    assert_eq!(
        field(&all, "agent_id"),
        [third.as_str(), second.as_str(), first.as_str()]
    );
    assert_eq!(items(&all)[0]["online"], false);
    for (query, expected) in [
        ("?enabled=true", vec![third.as_str(), first.as_str()]),
        ("?enabled=false", vec![second.as_str()]),
        ("?kind=writer", vec![second.as_str(), first.as_str()]),
        ("?kind=writer&enabled=true", vec![first.as_str()]),
        ("?online=true", Vec::<&str>::new()),
        (
            "?online=false",
            vec![third.as_str(), second.as_str(), first.as_str()],
        ),
    ] {
        let page = list(&server, &format!("/api/v1/agents{query}"), &op, at).await;
        assert_eq!(field(&page, "agent_id"), expected, "{query}");
    }
    let page = list(&server, "/api/v1/agents?limit=2", &op, at).await;
    assert_eq!(field(&page, "agent_id"), [third.as_str(), second.as_str()]);
    let cursor = page["next_cursor"].as_i64().unwrap_or_default();
    let rest = list(
        &server,
        &format!("/api/v1/agents?limit=2&cursor={cursor}"),
        &op,
        at,
    )
    .await;
    assert_eq!(field(&rest, "agent_id"), [first.as_str()]);
    assert!(rest["next_cursor"].is_null(), "{rest}");

    // Another tenant's operator sees its own agent only, and not this tenant.
    let theirs = list(&server, "/api/v1/agents", &other, at).await;
    assert_eq!(field(&theirs, "name"), ["elsewhere"]);
    let (status, _) = server
        .get(&format!("/api/v1/agents?tenant_id={tenant}"), &other)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server.get("/api/v1/agents?online=maybe", &op).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Renamed and retired: a retired agent keeps its history, cannot log in
    // or be enabled again, and another tenant cannot retire it.
    let path = format!("/api/v1/agents/{first}");
    let (status, _) = server
        .post(
            &format!("{path}/rename"),
            &op,
            &json!({ "name": "first-renamed" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, problem) = server
        .post(
            &format!("{path}/rename"),
            &op,
            &json!({ "name": "bad\u{7}" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let retire = format!("{path}/retire");
    let (status, _) = server.call(Method::POST, &retire, Some(&other), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server.call(Method::DELETE, &path, Some(&op), None).await;
    assert_eq!(
        status,
        StatusCode::METHOD_NOT_ALLOWED,
        "retiring is not a DELETE"
    );
    let body = json!({ "reason": "replaced by a newer model" });
    for _ in 0..2 {
        let (status, _) = server
            .call(Method::POST, &retire, Some(&op), Some(&body))
            .await;
        assert_eq!(status, StatusCode::OK, "retiring again changes nothing");
    }
    let (status, _) = server
        .post(&format!("{path}/enable"), &op, &json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, agent) = server.get(&path, &op).await;
    assert_eq!(
        (status, agent["retired"].clone()),
        (StatusCode::OK, json!("replaced by a newer model"))
    );
    let at = head(&server).await;
    let page = list(&server, "/api/v1/agents?enabled=false", &op, at).await;
    let retired = items(&page)
        .into_iter()
        .find(|a| a["agent_id"] == json!(first))
        .unwrap_or_default();
    assert_eq!(retired["name"], "first-renamed");
    assert!(retired["retired_at"].is_string(), "{retired}");
    let (status, stream) = server
        .get(
            &format!("/api/v1/streams/agent-{first}/events"),
            &server.admin_key,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        stream["events"][0]["event_type"], "AgentRegistered",
        "history kept"
    );

    // Templates: a deleted one is no longer listed.
    let mut templates = Vec::new();
    for name in ["restart", "report"] {
        let body = json!({ "name": name, "command": name, "args": { "now": true } });
        let (status, made) = server.post("/api/v1/command-templates", &op, &body).await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        templates.push(made["template_id"].as_str().unwrap_or_default().to_owned());
    }
    let path = format!("/api/v1/command-templates/{}", templates[0]);
    let (status, _) = server.call(Method::DELETE, &path, Some(&op), None).await;
    assert!(status.is_success(), "{status}");
    let at = head(&server).await;
    let page = list(&server, "/api/v1/command-templates", &op, at).await;
    assert_eq!(field(&page, "template_id"), [templates[1].as_str()]);
    assert_eq!(items(&page)[0]["args"], json!(r#"{"now":true}"#));
    let theirs = list(&server, "/api/v1/command-templates", &other, at).await;
    assert_eq!(items(&theirs), Vec::<Value>::new());
}

async fn admins_list_tenants_and_keys_without_secrets(server: TestServer) {
    let (tenant, op) = server.tenant("keyed").await;
    let viewer = server.key(&tenant, "viewer").await;
    let at = head(&server).await;

    let tenants = list(&server, "/api/v1/tenants", &server.admin_key, at).await;
    assert_eq!(field(&tenants, "tenant_id").first(), Some(&tenant));
    assert_eq!(items(&tenants)[0]["name"], "keyed");
    assert!(
        items(&tenants).len() >= 2,
        "and the default tenant: {tenants}"
    );

    let path = format!("/api/v1/api-keys?tenant_id={tenant}");
    let keys = list(&server, &path, &server.admin_key, at).await;
    let roles: Vec<String> = field(&keys, "role");
    assert_eq!(roles, ["viewer", "operator"]);
    let text = keys.to_string();
    for secret in [&op, &viewer] {
        assert!(
            !text.contains(secret.as_str()),
            "a key's secret is never listed"
        );
    }
    assert!(!text.contains("hash"), "{text}");

    // A revoked key is listed only when asked for.
    let viewer_id = field(&keys, "key_id")[0].clone();
    let (status, _) = server
        .call(
            Method::DELETE,
            &format!("/api/v1/api-keys/{viewer_id}"),
            Some(&server.admin_key),
            None,
        )
        .await;
    assert!(status.is_success(), "{status}");
    let at = head(&server).await;
    let keys = list(&server, &path, &server.admin_key, at).await;
    assert_eq!(field(&keys, "role"), ["operator"]);
    let with_revoked = format!("{path}&revoked=true");
    let keys = list(&server, &with_revoked, &server.admin_key, at).await;
    assert_eq!(field(&keys, "role"), ["viewer", "operator"]);
    assert!(items(&keys)[0]["revoked_at"].is_string(), "{keys}");

    // Only admins.
    for path in ["/api/v1/tenants", "/api/v1/api-keys"] {
        let (status, problem) = server.get(path, &op).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {problem}");
    }
}

async fn a_retired_agent_cannot_log_in_and_its_tokens_stop(server: TestServer) {
    let (_, op) = server.tenant("retiring").await;
    let agent = server.agent(&op, &["actions:write"], 600).await;
    let (status, _) = server.get("/api/v1/agents/me", &agent.token).await;
    assert_eq!(status, StatusCode::OK);
    let path = format!("/api/v1/agents/{}", agent.agent_id);
    let (status, _) = server
        .call(Method::POST, &format!("{path}/retire"), Some(&op), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server.get("/api/v1/agents/me", &agent.token).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "its token stopped at once"
    );
    let login = json!({ "agent_id": agent.agent_id, "secret": agent.secret });
    let (status, _) = server
        .call(Method::POST, "/api/v1/agents/auth", None, Some(&login))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let refresh = json!({ "refresh_token": agent.refresh_token });
    let (status, _) = server
        .call(Method::POST, "/api/v1/agents/refresh", None, Some(&refresh))
        .await;
    assert!(status.is_client_error(), "{status}");
    // It is given no command it could never poll for
    for (what, body) in [
        ("commands", json!({ "command": "flush" })),
        ("lifecycle", json!({ "action": "restart" })),
    ] {
        let (status, problem) = server.post(&format!("{path}/{what}"), &op, &body).await;
        assert_eq!(status, StatusCode::CONFLICT, "{what}: {problem}");
    }
}

on_every_backend!(
    agents_and_templates_are_listed_with_filters_and_pages,
    admins_list_tenants_and_keys_without_secrets,
    a_retired_agent_cannot_log_in_and_its_tokens_stop,
);
