//! The HTTP surface as a client sees it, on SQLite and PostgreSQL.

use agentledger_tests::{TestServer, on_every_backend, read};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

fn event(tenant: Uuid, n: u32) -> Value {
    json!({
        "event_id": Uuid::now_v7(),
        "event_type": "ManualNote",
        "tenant_id": tenant,
        "actor": { "kind": "operator", "id": "op-1" },
        "correlation_id": Uuid::now_v7(),
        "payload": { "n": n },
    })
}

async fn post(server: &TestServer, path: &str, body: &Value) -> (StatusCode, Value) {
    server.post(path, &server.admin_key, body).await
}

async fn get(server: &TestServer, path: &str) -> (StatusCode, Value) {
    server.get(path, &server.admin_key).await
}

async fn health_and_readiness(server: TestServer) {
    let (status, body) = get(&server, "/health").await;
    assert_eq!((status, &body["status"]), (StatusCode::OK, &json!("ok")));
    let (status, body) = get(&server, "/ready").await;
    assert_eq!(status, StatusCode::OK);
    // The first start wrote the installation, the default tenant and the admin key.
    assert_eq!(body["store"]["head_position"], json!(3));
    // Each model, reactor and in-memory follower under a name of its own.
    let names: Vec<&str> = body["projections"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|model| model["name"].as_str())
        .collect();
    let unique: std::collections::BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(unique.len(), names.len(), "{names:?}");
    assert!(unique.contains("execution_engine") && unique.contains("executions"));
}

async fn head(server: &TestServer) -> u64 {
    get(server, "/ready").await.1["store"]["head_position"]
        .as_u64()
        .unwrap_or_default()
}

async fn append_then_read_back(server: TestServer) {
    let base = head(&server).await;
    let tenant = Uuid::now_v7();
    let events = vec![event(tenant, 1), event(tenant, 2)];
    let body = json!({ "expected_version": "no_stream", "events": events });
    let (status, first) = post(&server, "/api/v1/streams/notes-1/events", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["position"], json!(base + 2));
    assert_eq!(first["deduplicated"], json!(false));

    // The same request again is a retry: same answer, 200, nothing written.
    let (status, again) = post(&server, "/api/v1/streams/notes-1/events", &body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["events"], first["events"]);
    assert_eq!(again["deduplicated"], json!(true));

    let (status, page) = get(&server, "/api/v1/streams/notes-1/events").await;
    assert_eq!(status, StatusCode::OK);
    let stored = page["events"].as_array().cloned().unwrap_or_default();
    assert_eq!(stored.len(), 2);
    for (sent, got) in events.iter().zip(&stored) {
        for field in [
            "event_id",
            "event_type",
            "tenant_id",
            "actor",
            "correlation_id",
            "payload",
        ] {
            assert_eq!(sent[field], got[field], "{field}");
        }
        assert_eq!(got["hash"].as_str().map(str::len), Some(64));
    }

    let (_, more) = post(
        &server,
        "/api/v1/streams/notes-2/events",
        &json!({ "events": [event(Uuid::now_v7(), 3)] }),
    )
    .await;
    assert_eq!(more["position"], json!(base + 3));
    // An aggregate's stream takes only that aggregate's events: its state is
    // folded from them.
    let (status, refused) = post(
        &server,
        &format!("/api/v1/streams/agent-{}/events", Uuid::now_v7()),
        &json!({ "events": [event(tenant, 4)] }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let (_, log) = get(
        &server,
        &format!("/api/v1/events?tenant_id={tenant}&limit=1"),
    )
    .await;
    assert_eq!(log["events"].as_array().map(Vec::len), Some(1));
    assert_eq!(log["next"], json!(base + 2));
    let (_, log) = get(
        &server,
        &format!("/api/v1/events?types=ManualNote&from_position={}", base + 2),
    )
    .await;
    let positions: Vec<_> = log["events"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["position"].clone())
        .collect();
    assert_eq!(positions, [json!(base + 2), json!(base + 3)]);
    let (_, ready) = get(&server, "/ready").await;
    assert_eq!(ready["store"]["head_position"], json!(base + 3));
}

async fn bad_requests_are_problems_and_write_nothing(server: TestServer) {
    let base = head(&server).await;
    let tenant = Uuid::now_v7();
    let path = "/api/v1/streams/s/events";
    let (status, _) = post(&server, path, &json!({ "events": [event(tenant, 0)] })).await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, problem) = post(
        &server,
        path,
        &json!({ "expected_version": "no_stream", "events": [event(tenant, 1)] }),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(problem["type"], json!("/problems/wrong-expected-version"));
    assert_eq!(problem["current_version"], json!(0));
    let (status, _) = post(
        &server,
        path,
        &json!({ "expected_version": 5, "events": [event(tenant, 1)] }),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);

    let (status, problem) = post(
        &server,
        path,
        &json!({ "events": [event(tenant, 1)], "surprise": true }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("surprise")),
        "{problem}"
    );
    let mut unknown_in_event = event(tenant, 1);
    unknown_in_event["colour"] = json!("red");
    let (status, _) = post(&server, path, &json!({ "events": [unknown_in_event] })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = post(
        &server,
        path,
        &json!({ "expected_version": "sometimes", "events": [event(tenant, 1)] }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, problem) = post(&server, path, &json!({ "events": [] })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["type"], json!("/problems/invalid-append"));

    let raw = server
        .http
        .post(server.url(path))
        .bearer_auth(&server.admin_key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await;
    assert_eq!(read(raw).await.0, StatusCode::BAD_REQUEST);
    // serde would read the struct from an array, field by field.
    let (status, problem) = post(&server, path, &json!([null, [event(tenant, 1)]])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(problem["type"], json!("/problems/invalid-body"));
    // An integer is written as one: `5.0` is refused, not rounded.
    let (status, problem) = post(
        &server,
        path,
        &json!({ "expected_version": 5.0, "events": [event(tenant, 1)] }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    let text = server
        .http
        .post(server.url(path))
        .bearer_auth(&server.admin_key)
        .body("{}")
        .send()
        .await;
    assert_eq!(read(text).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = json!({ "events": [{ "event_type": "Big", "tenant_id": tenant, "actor": { "kind": "system", "id": "x" }, "payload": "x".repeat(5 * 1024 * 1024) }] });
    let (status, problem) = post(&server, path, &huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(problem["type"], json!("/problems/body-too-large"));

    assert_eq!(
        get(&server, "/api/v1/events?limit=0").await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(&server, "/api/v1/events?from_position=minus-one")
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(&server, "/api/v1/events?tenant_id=nope").await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(&server, "/api/v1/streams/missing/events").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&server, "/no/such/route").await.0,
        StatusCode::NOT_FOUND
    );
    let wrong_method = server
        .http
        .delete(server.url(path))
        .bearer_auth(&server.admin_key)
        .send()
        .await;
    assert_eq!(read(wrong_method).await.0, StatusCode::METHOD_NOT_ALLOWED);

    // Only the first append was written.
    let (_, ready) = get(&server, "/ready").await;
    assert_eq!(ready["store"]["head_position"], json!(base + 1));
}

/// A time that is not RFC 3339 is refused with the format it must have.
async fn a_time_in_another_format_is_refused_with_the_format_expected(server: TestServer) {
    for path in [
        "/api/v1/operations?from=2026-12-01",
        "/api/v1/runs?to=yesterday",
        "/api/v1/events?from=2026-12-01T10:00:00",
    ] {
        let (status, problem) = get(&server, path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {problem}");
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains("RFC 3339") && d.contains("2026-12-01T00:00:00Z")),
            "{path}: {problem}"
        );
    }
    // A day that does not read is told the form a day has
    let path = "/api/v1/usage?from=2026-12-07T00:00:00Z";
    let (status, problem) = get(&server, path).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("a day alone, such as 2026-12-01")),
        "{problem}"
    );
}

on_every_backend!(
    a_time_in_another_format_is_refused_with_the_format_expected,
    health_and_readiness,
    append_then_read_back,
    bad_requests_are_problems_and_write_nothing
);
