//! The web console: sessions, CSRF, roles and tenants over HTTP on every
//! backend, and the pages in a real browser (headless Chromium).

use std::time::Duration;

use agentledger_tests::browser::Browser;
use agentledger_tests::console::{ConsoleSession, sign_in_answer};
use agentledger_tests::{TestServer, on_every_backend};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The id of an `alk_<id>_<secret>` key.
fn key_id(key: &str) -> String {
    let simple = key.split('_').nth(1).unwrap_or_default();
    simple
        .parse::<uuid::Uuid>()
        .map(|id| id.to_string())
        .unwrap_or_default()
}

/// A pending alert of the operator's tenant, once the alert reactor raised one.
async fn pending_alert(server: &TestServer, key: &str) -> String {
    for _ in 0..200 {
        let (_, list) = server.get("/api/v1/alerts?status=pending", key).await;
        if let Some(id) = list["items"][0]["alert_id"].as_str() {
            return id.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no pending alert");
}

async fn alert_status(server: &TestServer, key: &str, alert_id: &str) -> Value {
    let (status, alert) = server.get(&format!("/api/v1/alerts/{alert_id}"), key).await;
    assert_eq!(status, StatusCode::OK, "{alert}");
    alert["status"].clone()
}

/// An alert of a tenant of its own, raised by a failed run.
async fn tenant_with_an_alert(server: &TestServer, name: &str) -> (String, String, String) {
    let (tenant_id, key) = server.tenant(name).await;
    let agent = server.agent(&key, &["runs:write"], 600).await;
    let run = json!({
        "app_type": "moderation", "trigger_type": "schedule", "model": "m-1", "prompt_tokens": 10,
        "completion_tokens": 0, "latency_ms": 5, "status": "failed", "error_message": "upstream 503"
    });
    let (status, answer) = server.post("/api/v1/agents/me/runs", &agent.token, &run).await;
    assert!(status.is_success(), "{answer}");
    let alert = pending_alert(server, &key).await;
    (tenant_id, key, alert)
}

async fn signing_in_gives_a_strict_cookie_that_signing_out_ends(server: TestServer) {
    let (_, key) = server.tenant("console sessions").await;
    for refused in ["alk_nope", "not a key\u{0}", &format!("{key}x"), &"k".repeat(100_000)] {
        let (status, cookie, page) = sign_in_answer(&server, refused).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{page}");
        assert!(cookie.is_none());
        assert!(page.contains("not an operator API key"), "{page}");
    }
    let agent = server.agent(&key, &["runs:write"], 600).await;
    let (status, _, _) = sign_in_answer(&server, &agent.token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, cookie, _) = sign_in_answer(&server, &key).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cookie = cookie.unwrap_or_default();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console", "Max-Age=43200"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    let tls = reqwest::Client::new()
        .post(server.url("/console/sign-in"))
        .header("Origin", &server.base)
        .header("X-Forwarded-Proto", "https")
        .form(&[("api_key", key.as_str())])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = tls;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let behind_tls = client
        .post(server.url("/console/sign-in"))
        .header("Origin", &server.base)
        .header("X-Forwarded-Proto", "https")
        .form(&[("api_key", key.as_str())])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let secure = agentledger_tests::header(&behind_tls, "set-cookie");
    assert!(secure.contains("; Secure"), "{secure}");

    let session = ConsoleSession::sign_in(&server, &key).await;
    let (status, page) = session.get("/console/overview").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("console sessions"), "the tenant is named");
    let (status, headers, _) = session.post("/console/sign-out", &[]).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(headers["hx-redirect"], "/console/sign-in");
    let (status, _) = session.get("/console/overview").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "the cookie opens nothing after sign-out");

    // Revoking the key ends the sessions it opened.
    let viewer = server.key(&server.tenant("revoked").await.0, "viewer").await;
    let session = ConsoleSession::sign_in(&server, &viewer).await;
    let path = format!("/api/v1/api-keys/{}", key_id(&viewer));
    let (status, answer) = server
        .call(reqwest::Method::DELETE, &path, Some(&server.admin_key), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, _) = session.get("/console/overview").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = session.get("/console/overview").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}

async fn writes_need_the_sessions_csrf_token_and_a_role_that_writes(server: TestServer) {
    let (tenant_id, key, alert) = tenant_with_an_alert(&server, "console writes").await;
    let path = format!("/console/alerts/{alert}/acknowledge");
    let operator = ConsoleSession::sign_in(&server, &key).await;
    let other = ConsoleSession::sign_in(&server, &key).await;
    assert_ne!(operator.csrf, other.csrf, "each session has its own token");
    let refused = [
        (None, Some(server.base.as_str())),
        (Some("0".repeat(64)), Some(server.base.as_str())),
        (Some(other.csrf.clone()), Some(server.base.as_str())),
        (Some(operator.csrf.clone()), Some("https://evil.example")),
    ];
    for (csrf, origin) in refused {
        let (status, _, page) = operator
            .post_with(&path, &[("note", "forged")], csrf.as_deref(), origin)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
        assert_eq!(alert_status(&server, &key, &alert).await, json!("pending"));
    }

    // A viewer sees no write button, and a write it forges is refused.
    let viewer = server.key(&tenant_id, "viewer").await;
    let viewing = ConsoleSession::sign_in(&server, &viewer).await;
    let (status, page) = viewing.get("/console/alerts").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&alert), "the viewer sees the alert");
    assert!(!page.contains("data-write"), "no write button for a viewer");
    let (status, _, page) = viewing.post(&path, &[("note", "by a viewer")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert_eq!(alert_status(&server, &key, &alert).await, json!("pending"));

    let (status, page) = operator.get("/console/alerts").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("data-write"), "an operator gets the buttons");
    let (status, headers, page) = operator.post(&path, &[("note", "seen \u{1F440}")]).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{page}");
    assert_eq!(headers["hx-refresh"], "true");
    assert_eq!(alert_status(&server, &key, &alert).await, json!("acknowledged"));
    let (_, page) = operator.get("/console/alerts?status=acknowledged").await;
    assert!(page.contains(&alert), "the page shows it as the API does");
}

async fn another_tenants_objects_are_not_found(server: TestServer) {
    let (_, key_a) = server.tenant("tenant a").await;
    let (_, _, alert_b) = tenant_with_an_alert(&server, "tenant b").await;
    let session = ConsoleSession::sign_in(&server, &key_a).await;
    let (status, _, page) = session.post(&format!("/console/alerts/{alert_b}/acknowledge"), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{page}");
    let (status, page) = session.get("/console/no-such-view").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{page}");
    // An operator cannot switch tenant; an admin can, to one that exists.
    let (status, _, _) = session
        .post("/console/tenant", &[("tenant_id", &uuid::Uuid::new_v4().to_string())])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let admin = ConsoleSession::sign_in(&server, &server.admin_key).await;
    let (status, _, _) = admin
        .post("/console/tenant", &[("tenant_id", &uuid::Uuid::new_v4().to_string())])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn hostile_filters_get_a_clear_page(server: TestServer) {
    let (_, key) = server.tenant("hostile console").await;
    let session = ConsoleSession::sign_in(&server, &key).await;
    for path in [
        "/console/operations?agent_id=not-a-uuid",
        "/console/operations?from=yesterday",
        "/console/operations?cursor=x",
        "/console/operations?from=2026-03-29T02:30&to=1e400",
    ] {
        let (status, page) = session.get(path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {page}");
        assert!(page.contains("400"), "{page}");
    }
    for path in [
        "/console/operations?action=%00%01%1b&resource_type=%F0%9F%91%80",
        "/console/operations?cursor=-9223372036854775808",
        "/console/alerts?source=%00&severity=%E2%80%AE",
        &format!("/console/operations?action={}", "a".repeat(10_000)),
    ] {
        let (status, page) = session.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        assert!(page.contains("No operation matches") || page.contains("No alert matches"), "{page}");
    }
}

on_every_backend!(
    signing_in_gives_a_strict_cookie_that_signing_out_ends,
    writes_need_the_sessions_csrf_token_and_a_role_that_writes,
    another_tenants_objects_are_not_found,
    hostile_filters_get_a_clear_page,
);
