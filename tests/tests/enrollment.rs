//! Self-registration over HTTP: operators create enrollment tokens (with a
//! kind and permissions, or a preset), agents enroll with them and no other
//! credentials until a token expires, is revoked or is used up (one refusal
//! for all), tokens are listed without secrets; and agents are registered
//! from presets. Both backends.

use agentledger_tests::{TestServer, on_every_backend};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const TOKENS: &str = "/api/v1/enrollment-tokens";
const ENROLL: &str = "/api/v1/agents/enroll";

fn items(page: &Value) -> Vec<Value> {
    page["items"].as_array().cloned().unwrap_or_default()
}

fn text(value: &Value, field: &str) -> String {
    value[field].as_str().unwrap_or_default().to_owned()
}

async fn head(server: &TestServer) -> u64 {
    server.state.store.head_position().await.unwrap_or_default()
}

/// A new token of `key`'s tenant: (token id, token).
async fn new_token(server: &TestServer, key: &str, body: Value) -> (String, String) {
    let (status, made) = server.post(TOKENS, key, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    (text(&made, "token_id"), text(&made, "token"))
}

async fn enroll(server: &TestServer, body: Value) -> (StatusCode, Value) {
    server.call(Method::POST, ENROLL, None, Some(&body)).await
}

/// Logs the agent in with its secret and reads it back as itself.
async fn me(server: &TestServer, enrolled: &Value) -> Value {
    let login = json!({ "agent_id": enrolled["agent_id"], "secret": enrolled["secret"] });
    let (status, tokens) = server
        .call(Method::POST, "/api/v1/agents/auth", None, Some(&login))
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let (status, me) = server
        .get("/api/v1/agents/me", &text(&tokens, "access_token"))
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    me
}

/// The tokens of `key`'s tenant once the list has the log up to now.
async fn listed(server: &TestServer, key: &str) -> Value {
    let at = head(server).await;
    let (status, page) = server
        .get(&format!("{TOKENS}?min_position={at}"), key)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page
}

async fn a_token_enrolls_agents_until_its_uses_run_out(server: TestServer) {
    let (tenant, op) = server.tenant("enrolling").await;
    let body = json!({
        "label": "moderators rollout",
        "max_uses": 2,
        "expires_in_seconds": 3600,
        "kind": "moderator",
        "permissions": ["runs:write", "actions:write"],
    });
    let (token_id, token) = new_token(&server, &op, body).await;
    assert!(token.starts_with("ale_"), "{token}");

    let (status, first) = enroll(&server, json!({ "token": token, "name": "mod-1" })).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let agent = me(&server, &first).await;
    assert_eq!(agent["tenant_id"], json!(tenant));
    assert_eq!(agent["name"], "mod-1");
    assert_eq!(agent["kind"], "moderator");
    assert_eq!(agent["permissions"], json!(["actions:write", "runs:write"]));

    // A kind the token does not give is refused, and spends no use.
    let other_kind = json!({ "token": token, "name": "mod-x", "kind": "writer" });
    let (status, problem) = enroll(&server, other_kind).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");

    let same_kind = json!({ "token": token, "name": "mod-2", "kind": "moderator" });
    let (status, second) = enroll(&server, same_kind).await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_ne!(first["agent_id"], second["agent_id"]);
    assert_eq!(me(&server, &second).await["name"], "mod-2");

    // Used up: refused as any bad token is, without saying why.
    let (status, used_up) = enroll(&server, json!({ "token": token, "name": "mod-3" })).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{used_up}");
    let unknown_id = format!("ale_{}_{}", "0".repeat(32), &token[token.len() - 64..]);
    let wrong_secret = format!("{}{}", &token[..token.len() - 64], "0".repeat(64));
    for bad in [unknown_id.as_str(), wrong_secret.as_str(), "ale_nope", ""] {
        let (status, problem) = enroll(&server, json!({ "token": bad, "name": "x" })).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}: {problem}");
        assert_eq!(problem["detail"], used_up["detail"], "one refusal for all");
    }

    // Listed with its uses, never its secret.
    let page = listed(&server, &op).await;
    let row = items(&page)
        .into_iter()
        .find(|t| t["token_id"] == json!(token_id))
        .unwrap_or_default();
    assert_eq!(row["label"], "moderators rollout");
    assert_eq!(
        (row["uses"].clone(), row["uses_left"].clone()),
        (json!(2), json!(0))
    );
    assert_eq!(row["status"], "used_up");
    assert_eq!(row["kind"], "moderator");
    assert!(row["last_used_at"].is_string(), "{row}");
    let shown = page.to_string();
    assert!(!shown.contains(&token[token.len() - 64..]), "{shown}");
    assert!(!shown.contains("hash"), "{shown}");

    // The enrolled agents are ordinary agents of the tenant.
    let (status, stream) = server
        .get(
            &format!("/api/v1/streams/agent-{}/events", text(&first, "agent_id")),
            &server.admin_key,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stream["events"][0]["event_type"], "AgentRegistered");
}

async fn concurrent_enrollments_take_no_more_than_the_uses(server: TestServer) {
    let (_, op) = server.tenant("racing").await;
    let body = json!({ "label": "race", "max_uses": 2, "kind": "worker" });
    let (token_id, token) = new_token(&server, &op, body).await;
    let server = &server;
    let attempts = (0..6).map(|n| {
        let body = json!({ "token": token, "name": format!("racer-{n}") });
        async move { enroll(server, body).await.0 }
    });
    let statuses = futures::future::join_all(attempts).await;
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!((created, refused), (2, 4), "{statuses:?}");
    let page = listed(server, &op).await;
    let row = items(&page)
        .into_iter()
        .find(|t| t["token_id"] == json!(token_id))
        .unwrap_or_default();
    assert_eq!(row["uses"], 2);
}

async fn expired_and_revoked_tokens_enroll_no_one(server: TestServer) {
    let (_, op) = server.tenant("lapsing").await;
    for (body, why) in [
        (
            json!({ "label": "old", "max_uses": 1, "expires_at": "2020-01-01T00:00:00Z" }),
            "an expiry in the past",
        ),
        (
            json!({ "label": "both", "max_uses": 1, "expires_at": "2999-01-01T00:00:00Z", "expires_in_seconds": 60 }),
            "two expiries",
        ),
        (
            json!({ "label": "far", "max_uses": 1, "expires_in_seconds": 91 * 86_400 }),
            "more than 90 days",
        ),
        (json!({ "label": "none", "max_uses": 0 }), "no use"),
        (
            json!({ "label": "many", "max_uses": 1001 }),
            "too many uses",
        ),
        (
            json!({ "label": "root", "max_uses": 1, "permissions": ["root"] }),
            "an unknown permission",
        ),
        (
            json!({ "label": "bad\u{0}", "max_uses": 1 }),
            "a NUL in the label",
        ),
    ] {
        let (status, problem) = server.post(TOKENS, &op, &body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{why}: {problem}");
    }

    let brief =
        json!({ "label": "brief", "max_uses": 5, "kind": "worker", "expires_in_seconds": 1 });
    let (brief_id, brief) = new_token(&server, &op, brief).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (status, problem) = enroll(&server, json!({ "token": brief, "name": "late" })).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");

    let body = json!({ "label": "revoked", "max_uses": 5, "kind": "worker" });
    let (revoked_id, revoked) = new_token(&server, &op, body).await;
    let path = format!("{TOKENS}/{revoked_id}");
    for _ in 0..2 {
        let (status, done) = server.call(Method::DELETE, &path, Some(&op), None).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "revoking again changes nothing: {done}"
        );
    }
    let (status, problem) = enroll(&server, json!({ "token": revoked, "name": "late" })).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");

    let page = listed(&server, &op).await;
    let status_of = |id: &str| {
        items(&page)
            .into_iter()
            .find(|t| t["token_id"] == json!(id))
            .map(|t| (text(&t, "status"), t["revoked_at"].is_string()))
    };
    assert_eq!(
        status_of(brief_id.as_str()),
        Some(("expired".to_owned(), false))
    );
    assert_eq!(
        status_of(revoked_id.as_str()),
        Some(("revoked".to_owned(), true))
    );
}

async fn only_the_tenants_operators_manage_its_tokens(server: TestServer) {
    let (tenant, op) = server.tenant("guarded").await;
    let (_, other) = server.tenant("elsewhere").await;
    let viewer = server.key(&tenant, "viewer").await;
    let body = json!({ "label": "mine", "max_uses": 1, "kind": "worker" });
    let (token_id, token) = new_token(&server, &op, body.clone()).await;
    let path = format!("{TOKENS}/{token_id}");

    let (status, _) = server.post(TOKENS, &viewer, &body).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = server.get(TOKENS, &viewer).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = server
        .call(Method::DELETE, &path, Some(&viewer), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, problem) = server.call(Method::DELETE, &path, Some(&other), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    let theirs = listed(&server, &other).await;
    assert_eq!(items(&theirs), Vec::<Value>::new());
    let (status, _) = server
        .get(&format!("{TOKENS}?tenant_id={tenant}"), &other)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let missing = format!("{TOKENS}/{}", uuid_like());
    let (status, _) = server.call(Method::DELETE, &missing, Some(&op), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server.call(Method::POST, TOKENS, None, Some(&body)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Still unspent: the refusals above touched nothing.
    let (status, enrolled) = enroll(&server, json!({ "token": token, "name": "kept" })).await;
    assert_eq!(status, StatusCode::CREATED, "{enrolled}");
}

fn uuid_like() -> &'static str {
    "0190a4c2-7d3e-7000-8000-000000000000"
}

async fn hostile_enrollments_are_refused_without_spending_the_token(server: TestServer) {
    let (_, op) = server.tenant("hostile").await;
    let body = json!({ "label": "open", "max_uses": 1 });
    let (_, token) = new_token(&server, &op, body).await;
    for (body, expected) in [
        (
            json!({ "token": token, "name": "nul\u{0}name", "kind": "worker" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "token": token, "name": "bell\u{7}", "kind": "worker" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "token": token, "name": " ", "kind": "worker" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "token": token, "name": "x".repeat(101), "kind": "worker" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "token": token, "name": "kindless" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "token": token, "name": "k", "kind": "esc\u{1b}" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "token": token, "name": "k", "kind": "worker", "admin": true }),
            StatusCode::BAD_REQUEST,
        ),
        (json!({ "name": "tokenless" }), StatusCode::BAD_REQUEST),
        (
            json!({ "token": 7, "name": "typed" }),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (status, problem) = enroll(&server, body.clone()).await;
        assert_eq!(status, expected, "{body}: {problem}");
    }
    let (status, problem) = server
        .call(
            Method::POST,
            ENROLL,
            None,
            Some(&json!(["not", "an", "object"])),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");

    let body = json!({ "token": token, "name": "finally", "kind": "worker" });
    let (status, enrolled) = enroll(&server, body).await;
    assert_eq!(status, StatusCode::CREATED, "{enrolled}");
    assert_eq!(me(&server, &enrolled).await["kind"], "worker");
}

async fn agents_are_registered_from_presets(server: TestServer) {
    let (tenant, op) = server.tenant("presets").await;
    let viewer = server.key(&tenant, "viewer").await;
    let (status, presets) = server.get("/api/v1/agent-presets", &viewer).await;
    assert_eq!(status, StatusCode::OK, "{presets}");
    let presets = presets.as_array().cloned().unwrap_or_default();
    assert_eq!(presets.len(), 5, "{presets:?}");
    let analytics = presets
        .iter()
        .find(|p| p["name"] == "analytics-ai")
        .cloned()
        .unwrap_or_default();
    assert_eq!(analytics["kind"], "analyst");
    assert_eq!(analytics["app_type"], "analytics");
    assert!(analytics["description"].is_string(), "{analytics}");
    let mut permissions: Vec<String> = analytics["permissions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| p.as_str().unwrap_or_default().to_owned())
        .collect();
    permissions.sort_unstable();
    assert!(!permissions.is_empty());

    let path = "/api/v1/agent-presets/analytics-ai/agents";
    let (status, made) = server.post(path, &op, &json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let agent = me(&server, &made).await;
    assert_eq!(agent["tenant_id"], json!(tenant));
    assert_eq!(agent["name"], "analytics-ai");
    assert_eq!(agent["kind"], "analyst");
    assert_eq!(agent["permissions"], json!(permissions));
    let (status, named) = server.post(path, &op, &json!({ "name": "numbers" })).await;
    assert_eq!(status, StatusCode::CREATED, "{named}");
    assert_eq!(me(&server, &named).await["name"], "numbers");
    let (status, bodiless) = server.call(Method::POST, path, Some(&op), None).await;
    assert_eq!(status, StatusCode::CREATED, "{bodiless}");

    let (status, problem) = server
        .post(
            "/api/v1/agent-presets/no-such-preset/agents",
            &op,
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    let (status, _) = server.post(path, &viewer, &json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, problem) = server.post(path, &op, &json!({ "name": "nul\u{0}" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");

    // A token naming a preset enrolls agents of the preset's kind and
    // permissions; it cannot also name its own.
    let body = json!({ "label": "analysts", "max_uses": 1, "preset": "analytics-ai" });
    let (token_id, token) = new_token(&server, &op, body).await;
    let (status, enrolled) = enroll(&server, json!({ "token": token, "name": "an-1" })).await;
    assert_eq!(status, StatusCode::CREATED, "{enrolled}");
    let agent = me(&server, &enrolled).await;
    assert_eq!(agent["kind"], "analyst");
    assert_eq!(agent["permissions"], json!(permissions));
    let page = listed(&server, &op).await;
    let row = items(&page)
        .into_iter()
        .find(|t| t["token_id"] == json!(token_id))
        .unwrap_or_default();
    assert_eq!(row["preset"], "analytics-ai");
    for body in [
        json!({ "label": "both", "max_uses": 1, "preset": "analytics-ai", "kind": "analyst" }),
        json!({ "label": "nothing", "max_uses": 1, "preset": "no-such-preset" }),
    ] {
        let (status, problem) = server.post(TOKENS, &op, &body).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {problem}"
        );
    }
}

on_every_backend!(
    a_token_enrolls_agents_until_its_uses_run_out,
    concurrent_enrollments_take_no_more_than_the_uses,
    expired_and_revoked_tokens_enroll_no_one,
    only_the_tenants_operators_manage_its_tokens,
    hostile_enrollments_are_refused_without_spending_the_token,
    agents_are_registered_from_presets,
);
