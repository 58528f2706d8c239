//! Webhook subscriptions and cache entries over HTTP.

use agentledger_tests::{TestServer, on_every_backend};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn webhooks_refuse_internal_addresses_and_stay_in_their_tenant(server: TestServer) {
    let op = server.admin_key.clone();
    let body = json!({ "url": "https://hooks.example.com/agentledger", "event_types": ["AlertRaised", "TaskFailed"] });
    let (status, created) = server.post("/api/v1/webhooks", &op, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    // Standard Webhooks' form: `whsec_` and the base64 of 32 bytes.
    let secret = created["secret"].as_str().unwrap_or_default();
    assert!(
        secret.starts_with("whsec_") && secret.len() == 6 + 44,
        "{secret}"
    );
    let id = created["webhook_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let path = format!("/api/v1/webhooks/{id}");
    let (_, view) = server.get(&path, &op).await;
    assert_eq!(view["event_types"], json!(["AlertRaised", "TaskFailed"]));
    assert!(view.get("secret").is_none(), "the secret is shown once");

    for url in [
        "http://127.0.0.1/x",
        "http://169.254.169.254/latest",
        "http://10.0.0.8/",
        "http://localhost:8080/",
        "http://[::1]/",
        "file:///etc/passwd",
    ] {
        let (status, problem) = server
            .post(
                "/api/v1/webhooks",
                &op,
                &json!({ "url": url, "event_types": ["TaskFailed"] }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {problem}");
    }
    let (status, _) = server
        .call(
            Method::PUT,
            &path,
            Some(&op),
            Some(&json!({ "url": "http://192.168.0.1/", "event_types": ["TaskFailed"] })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (_, intruder) = server.tenant("intruder").await;
    assert_eq!(server.get(&path, &intruder).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        server
            .call(Method::DELETE, &path, Some(&intruder), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let agent = server.agent(&op, &["webhooks:manage"], 600).await;
    let (status, _) = server
        .call(
            Method::PUT,
            &path,
            Some(&agent.token),
            Some(&json!({ "url": "https://hooks.example.com/v2", "event_types": ["TaskFailed"] })),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "agents manage only the subscriptions they made, not an operator's"
    );
    let kept =
        |id: uuid::Uuid| agentledger_store::secrets::signing_secret(&server.state.database, id);
    let webhook_id = id.parse().unwrap_or_default();
    assert!(matches!(kept(webhook_id).await, Ok(Some(_))));
    assert_eq!(
        server.call(Method::DELETE, &path, Some(&op), None).await.0,
        StatusCode::OK
    );
    assert_eq!(server.get(&path, &op).await.0, StatusCode::NOT_FOUND);
    assert!(
        matches!(kept(webhook_id).await, Ok(None)),
        "a deleted subscription's secret is forgotten"
    );
    let plain = server.agent(&op, &[], 600).await;
    assert_eq!(
        server.post("/api/v1/webhooks", &plain.token, &body).await.0,
        StatusCode::FORBIDDEN
    );
}

/// Webhooks and task callbacks are held to the same outbound address policy:
/// IPv6 transition forms and reserved IPv4 blocks are refused like loopback.
async fn task_callbacks_and_webhooks_share_one_address_policy(server: TestServer) {
    let op = server.admin_key.clone();
    for url in [
        "http://169.254.169.254/",
        "http://[::7f00:1]/",
        "http://[64:ff9b::7f00:1]/",
        "http://192.0.0.8/",
    ] {
        let body = json!({ "task_type": "report", "callback_url": url });
        let (status, problem) = server.post("/api/v1/tasks", &op, &body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {problem}");
        assert_eq!(problem["type"], json!("/problems/validation"), "{url}");
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with("callback_url refused: ")),
            "{url}: {problem}"
        );
    }
    let body = json!({ "task_type": "report", "callback_url": "https://hooks.example.com/done" });
    let (status, created) = server.post("/api/v1/tasks", &op, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");

    let body = json!({ "url": "http://[2002:7f00:1::]/", "event_types": ["TaskFailed"] });
    let (status, problem) = server.post("/api/v1/webhooks", &op, &body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("webhook url refused: ")),
        "{problem}"
    );
}

async fn cache_entries_are_stored_read_and_invalidated(server: TestServer) {
    let op = server.admin_key.clone();
    let agent = server.agent(&op, &["cache:write"], 600).await;
    for (kind, target) in [("summary", "m1"), ("summary", "m2"), ("tags", "m1")] {
        let path = format!("/api/v1/agents/me/cache/{kind}/{target}");
        let (status, _) = server
            .call(
                Method::PUT,
                &path,
                Some(&agent.token),
                Some(&json!({ "value": { "kind": kind, "target": target }, "ttl_seconds": 600 })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, entry) = server
        .get("/api/v1/agents/me/cache/summary/m2", &agent.token)
        .await;
    assert_eq!(
        (status, entry["value"]["target"].clone()),
        (StatusCode::OK, json!("m2"))
    );

    // Another tenant's invalidation touches nothing here.
    let (_, intruder) = server.tenant("intruder").await;
    let (_, none) = server
        .post("/api/v1/cache/invalidate", &intruder, &json!({}))
        .await;
    assert_eq!(none["entries_invalidated"], json!(0));

    let (status, one) = server
        .post(
            "/api/v1/cache/invalidate",
            &op,
            &json!({ "cache_type": "summary", "target": "m1" }),
        )
        .await;
    assert_eq!(
        (status, one["entries_invalidated"].clone()),
        (StatusCode::OK, json!(1))
    );
    assert_eq!(
        server
            .get("/api/v1/agents/me/cache/summary/m1", &agent.token)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (_, by_type) = server
        .post(
            "/api/v1/cache/invalidate",
            &op,
            &json!({ "cache_type": "summary" }),
        )
        .await;
    assert_eq!(by_type["entries_invalidated"], json!(1));
    let (_, all) = server
        .post("/api/v1/cache/invalidate", &op, &json!({}))
        .await;
    assert_eq!(all["entries_invalidated"], json!(1));
    assert_eq!(
        server
            .get("/api/v1/agents/me/cache/tags/m1", &agent.token)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (status, _) = server
        .post("/api/v1/cache/invalidate", &op, &json!({ "target": "m1" }))
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a target needs its type"
    );
    let reader = server.agent(&op, &[], 600).await;
    let (status, _) = server
        .call(
            Method::PUT,
            "/api/v1/agents/me/cache/a/b",
            Some(&reader.token),
            Some(&json!({ "value": 1 })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// Agents manage the subscriptions they made and no other; operators manage
/// all of their tenant's; a subscription names event types that exist.
async fn agents_manage_only_their_own_subscriptions(server: TestServer) {
    let (_, op) = server.tenant("owners").await;
    let alice = server.agent(&op, &["webhooks:manage"], 600).await;
    let bob = server.agent(&op, &["webhooks:manage"], 600).await;
    let body = json!({ "url": "https://hooks.example.com/alice", "event_types": ["TaskFailed"] });
    let (status, made) = server.post("/api/v1/webhooks", &alice.token, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let id = made["webhook_id"].as_str().unwrap_or_default().to_owned();
    let path = format!("/api/v1/webhooks/{id}");
    let at = made["position"].as_u64().unwrap_or(0);

    let changed = json!({ "url": "https://hooks.example.com/bob", "event_types": ["TaskFailed"] });
    let (status, _) = server
        .call(Method::PUT, &path, Some(&bob.token), Some(&changed))
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "bob updated alice's subscription"
    );
    let (status, _) = server
        .call(Method::DELETE, &path, Some(&bob.token), None)
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "bob deleted alice's subscription"
    );
    let (status, _) = server.get(&path, &bob.token).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "bob sees alice's subscription"
    );

    let list = format!("/api/v1/webhooks?min_position={at}");
    let (status, bobs) = server.get(&list, &bob.token).await;
    assert_eq!((status, bobs), (StatusCode::OK, json!([])));
    let (status, alices) = server.get(&list, &alice.token).await;
    assert_eq!(status, StatusCode::OK, "{alices}");
    assert_eq!(alices.as_array().map(Vec::len), Some(1), "{alices}");
    assert_eq!(alices[0]["owner_agent_id"], json!(alice.agent_id));
    let (status, all) = server.get(&list, &op).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all.as_array().map(Vec::len), Some(1), "{all}");

    let (status, _) = server
        .call(Method::PUT, &path, Some(&alice.token), Some(&changed))
        .await;
    assert_eq!(status, StatusCode::OK);
    let unknown = json!({ "url": "https://hooks.example.com/x", "event_types": ["NoSuchEvent"] });
    let (status, problem) = server
        .post("/api/v1/webhooks", &alice.token, &unknown)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("NoSuchEvent")),
        "{problem}"
    );
    let (status, _) = server.call(Method::DELETE, &path, Some(&op), None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "an operator manages every subscription of the tenant"
    );
}

on_every_backend!(
    agents_manage_only_their_own_subscriptions,
    webhooks_refuse_internal_addresses_and_stay_in_their_tenant,
    task_callbacks_and_webhooks_share_one_address_policy,
    cache_entries_are_stored_read_and_invalidated,
);
