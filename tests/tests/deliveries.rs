//! Webhook delivery over HTTP to a real receiver on loopback (the test
//! server allows loopback targets, with a short retry schedule): signatures
//! checked with the receiver's own HMAC, retries on schedule under one
//! `webhook-id`, `Retry-After`, 410 disabling the subscription, redirects not
//! followed, a hanging receiver timed out, a restart mid-retry, and a time
//! range replayed.

use std::time::Duration;

use agentledger_domain::delivery::RetrySchedule;
use agentledger_store::testing::TestDatabase;
use agentledger_tests::receiver::{Receiver, Reply};
use agentledger_tests::{Options, TestServer};
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A server delivering to loopback, with the waits of `schedule`.
async fn server(db: TestDatabase, schedule: &[u64]) -> TestServer {
    let options = Options {
        loopback_deliveries: Some(RetrySchedule(schedule.to_vec())),
        ..Options::default()
    };
    TestServer::start_with_options(db, options).await
}

/// Subscribes `url` to `types`: (webhook id, secret).
async fn subscribe(server: &TestServer, key: &str, url: &str, types: &[&str]) -> (String, String) {
    let (status, made) = server
        .post(
            "/api/v1/webhooks",
            key,
            &json!({ "url": url, "event_types": types }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let secret = made["secret"].as_str().unwrap_or_default().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (
        made["webhook_id"].as_str().unwrap_or_default().to_owned(),
        secret,
    )
}

/// `POST /api/v1/webhooks/{id}/{action}` without a body: its status.
async fn on_webhook(server: &TestServer, key: &str, webhook_id: &str, action: &str) -> StatusCode {
    let path = format!("/api/v1/webhooks/{webhook_id}/{action}");
    server.post(&path, key, &json!(null)).await.0
}

async fn create_task(server: &TestServer, key: &str) -> (String, u64) {
    let (status, created) = server
        .post("/api/v1/tasks", key, &json!({ "task_type": "hooked" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    (
        created["task_id"].as_str().unwrap_or_default().to_owned(),
        created["position"].as_u64().unwrap_or_default(),
    )
}

/// The deliveries listed at `path` once every model has the log up to now.
async fn listed(server: &TestServer, key: &str, path: &str) -> Vec<Value> {
    server.models_reach(None).await;
    let (status, page) = server.get(path, key).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"].as_array().cloned().unwrap_or_default()
}

/// The subscription's deliveries once every model has the log up to now.
async fn deliveries(server: &TestServer, key: &str, webhook_id: &str) -> Vec<Value> {
    listed(
        server,
        key,
        &format!("/api/v1/webhooks/{webhook_id}/deliveries"),
    )
    .await
}

/// Waits (at most 20 s) until the subscription's newest delivery has `status`.
async fn settled(server: &TestServer, key: &str, webhook_id: &str, status: &str) -> Value {
    let path = format!("/api/v1/webhooks/{webhook_id}/deliveries");
    newest_becomes(server, key, &path, status).await
}

/// Waits (at most 20 s) until the newest delivery listed at `path` has `status`.
async fn newest_becomes(server: &TestServer, key: &str, path: &str, status: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let list = listed(server, key, path).await;
        if let Some(newest) = list.first()
            && newest["status"] == status
        {
            return newest.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no delivery became {status}: {list:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn attempts(
    server: &TestServer,
    key: &str,
    webhook_id: &str,
    delivery_id: &str,
) -> Vec<Value> {
    let (status, events) = server
        .get(
            &format!("/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}"),
            key,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{events}");
    events.as_array().cloned().unwrap_or_default()
}

fn types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect()
}

async fn deliveries_are_signed_as_the_standard_says_and_listed(db: TestDatabase) {
    let server = server(db, &[0]).await;
    let (receiver, base) = Receiver::start().await;
    let (_, op) = server.tenant("hooks").await;
    let (_, other) = server.tenant("other").await;
    let (webhook_id, secret) =
        subscribe(&server, &op, &format!("{base}/in"), &["TaskCreated"]).await;
    let (task_id, _) = create_task(&server, &op).await;

    let got = receiver.wait_for(1).await;
    let delivery = &got[0];
    assert_eq!(delivery.path, "/in");
    assert!(
        delivery.signed_with(&secret),
        "the signature verifies: {delivery:?}"
    );
    assert!(!delivery.signed_with("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
    let sent_at: i64 = delivery
        .header("webhook-timestamp")
        .parse()
        .unwrap_or_default();
    assert!((Utc::now().timestamp() - sent_at).abs() < 60);
    assert_eq!(delivery.header("content-type"), "application/json");
    let body = delivery.json();
    assert_eq!(body["type"], "TaskCreated");
    assert_eq!(body["data"]["stream_id"], json!(format!("task-{task_id}")));
    assert!(
        body["timestamp"]
            .as_str()
            .is_some_and(|t| t.parse::<DateTime<Utc>>().is_ok())
    );

    let listed = settled(&server, &op, &webhook_id, "succeeded").await;
    assert_eq!(listed["delivery_id"], json!(delivery.header("webhook-id")));
    assert_eq!(
        (
            listed["attempts"].clone(),
            listed["last_status_code"].clone()
        ),
        (json!(1), json!(204))
    );
    assert_eq!(listed["event_type"], "TaskCreated");
    let delivery_id = listed["delivery_id"].as_str().unwrap_or_default();
    let stream = attempts(&server, &op, &webhook_id, delivery_id).await;
    assert_eq!(
        types(&stream),
        [
            "WebhookDeliveryScheduled",
            "WebhookDeliveryAttempted",
            "WebhookDeliverySucceeded"
        ]
    );

    // A ping goes to this subscription alone, whatever it subscribed to.
    let status = on_webhook(&server, &op, &webhook_id, "ping").await;
    assert_eq!(status, StatusCode::OK);
    let got = receiver.wait_for(2).await;
    assert_eq!(got[1].json()["type"], "WebhookPinged");
    assert!(got[1].signed_with(&secret));

    // Redelivery: the same id, a new round.
    let path = format!("/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver");
    let (status, _) = server.post(&path, &op, &json!(null)).await;
    assert_eq!(status, StatusCode::OK);
    let got = receiver.wait_for(3).await;
    assert_eq!(got[2].header("webhook-id"), delivery_id);
    assert_eq!(got[2].json(), got[0].json(), "the same event");

    // Another tenant sees none of it.
    for path in [
        format!("/api/v1/webhooks/{webhook_id}/deliveries"),
        format!("/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}"),
    ] {
        let (status, _) = server.get(&path, &other).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _) = server.post(&path, &other, &json!(null)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn failures_are_retried_on_schedule_under_one_id_and_gone_disables(db: TestDatabase) {
    let server = server(db, &[0, 1, 2, 2]).await;
    let (receiver, base) = Receiver::start().await;
    let (_, op) = server.tenant("retries").await;
    let (webhook_id, secret) =
        subscribe(&server, &op, &format!("{base}/in"), &["TaskCreated"]).await;
    receiver.script([
        Reply::Status(500),
        Reply::RetryAfter(503, 3),
        Reply::Status(200),
    ]);
    create_task(&server, &op).await;

    let got = receiver.wait_for(3).await;
    let ids: Vec<String> = got.iter().map(|r| r.header("webhook-id")).collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "one id for every attempt: {ids:?}"
    );
    assert!(got.iter().all(|r| r.signed_with(&secret)));
    let listed = settled(&server, &op, &webhook_id, "succeeded").await;
    assert_eq!(listed["attempts"], json!(3));
    let stream = attempts(&server, &op, &webhook_id, &ids[0]).await;
    assert_eq!(
        types(&stream),
        [
            "WebhookDeliveryScheduled",
            "WebhookDeliveryAttempted",
            "WebhookDeliveryFailed",
            "WebhookDeliveryAttempted",
            "WebhookDeliveryFailed",
            "WebhookDeliveryAttempted",
            "WebhookDeliverySucceeded",
        ]
    );
    // The waits: 1 s (give or take a tenth) after the first failure, and the
    // 3 s the receiver asked for after the second (more than the schedule's 2).
    let time = |e: &Value, field: &str| {
        e["payload"][field]
            .as_str()
            .and_then(|t| t.parse::<DateTime<Utc>>().ok())
            .unwrap_or_default()
    };
    for (failed, wait_ms) in [(2, 1000), (4, 3000)] {
        let waited = time(&stream[failed], "next_attempt_at")
            - stream[failed]["occurred_at"]
                .as_str()
                .and_then(|t| t.parse::<DateTime<Utc>>().ok())
                .unwrap_or_default();
        let waited = waited.num_milliseconds();
        assert!(
            (wait_ms * 9 / 10 - 50..=wait_ms * 11 / 10 + 50).contains(&waited),
            "waited {waited} ms where the schedule says {wait_ms}: {}",
            stream[failed]
        );
        assert_eq!(
            stream[failed]["payload"]["failure"]["status_code"],
            json!(if failed == 2 { 500 } else { 503 })
        );
    }

    // 410: no more attempts, and the subscription stops.
    receiver.script([Reply::Status(410)]);
    create_task(&server, &op).await;
    receiver.wait_for(4).await;
    let gone = settled(&server, &op, &webhook_id, "exhausted").await;
    assert_eq!(
        (gone["attempts"].clone(), gone["last_status_code"].clone()),
        (json!(1), json!(410))
    );
    let (_, listed) = server.get("/api/v1/webhooks", &op).await;
    let reason = listed[0]["disabled_reason"].clone();
    assert!(
        reason.as_str().is_some_and(|r| r.contains("410")),
        "{listed}"
    );
    create_task(&server, &op).await;
    assert_eq!(
        deliveries(&server, &op, &webhook_id).await.len(),
        2,
        "none while disabled"
    );
    let status = on_webhook(&server, &op, &webhook_id, "ping").await;
    assert_eq!(status, StatusCode::CONFLICT);

    let status = on_webhook(&server, &op, &webhook_id, "enable").await;
    assert_eq!(status, StatusCode::OK);
    create_task(&server, &op).await;
    receiver.wait_for(5).await;
    assert_eq!(
        settled(&server, &op, &webhook_id, "succeeded").await["attempts"],
        json!(1)
    );
    assert_eq!(
        receiver.received().len(),
        5,
        "the task made while disabled was not sent"
    );
}

async fn redirects_are_not_followed_and_a_silent_receiver_times_out(db: TestDatabase) {
    let server = server(db, &[0]).await;
    let (receiver, base) = Receiver::start().await;
    let (_, op) = server.tenant("odd receivers").await;
    let (webhook_id, _) = subscribe(&server, &op, &format!("{base}/in"), &["TaskCreated"]).await;

    receiver.script([Reply::Redirect("/elsewhere")]);
    create_task(&server, &op).await;
    let moved = settled(&server, &op, &webhook_id, "exhausted").await;
    assert_eq!(moved["last_status_code"], json!(302));
    assert!(
        moved["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("redirects are not followed"))
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        receiver.received().iter().all(|r| r.path == "/in"),
        "the redirect was not followed"
    );

    // The test server gives receivers 2 s.
    receiver.script([Reply::Hang(Duration::from_secs(5))]);
    create_task(&server, &op).await;
    let silent = loop {
        let list = deliveries(&server, &op, &webhook_id).await;
        if list.len() == 2 && list[0]["status"] == "exhausted" {
            break list[0].clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(silent["last_status_code"], Value::Null);
    assert!(
        silent["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("no answer within 2 s")),
        "{silent}"
    );
}

async fn a_restart_between_attempts_loses_no_delivery(db: TestDatabase) {
    let server = server(db, &[0, 2]).await;
    let (receiver, base) = Receiver::start().await;
    let (_, op) = server.tenant("restarts").await;
    let (webhook_id, secret) =
        subscribe(&server, &op, &format!("{base}/in"), &["TaskCreated"]).await;
    receiver.script([Reply::Status(500)]);
    create_task(&server, &op).await;
    receiver.wait_for(1).await;
    settled(&server, &op, &webhook_id, "pending").await;

    let server = server.restart().await;
    let got = receiver.wait_for(2).await;
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"));
    assert!(got[1].signed_with(&secret));
    let done = settled(&server, &op, &webhook_id, "succeeded").await;
    assert_eq!(done["attempts"], json!(2));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        receiver.received().len(),
        2,
        "nothing sent twice after the restart"
    );
}

async fn a_task_calls_back_when_it_ends(db: TestDatabase) {
    let server = server(db, &[0]).await;
    let (receiver, base) = Receiver::start().await;
    let (_, op) = server.tenant("callbacks").await;
    let (_, other) = server.tenant("other").await;
    let agent = server.agent(&op, &["tasks:claim"], 600).await;
    let asked = json!({ "task_type": "called", "callback_url": format!("{base}/done") });
    let (status, created) = server.post("/api/v1/tasks", &op, &asked).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let task_id = created["task_id"].as_str().unwrap_or_default().to_owned();
    let (status, _) = server
        .get("/api/v1/agents/me/tasks/next", &agent.token)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server
        .post(
            &format!("/api/v1/tasks/{task_id}/complete"),
            &agent.token,
            &json!({ "result": { "answer": 42 } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let got = receiver.wait_for(1).await;
    let (status, secret) = server.get("/api/v1/callbacks/secret", &op).await;
    assert_eq!(status, StatusCode::OK, "{secret}");
    let secret = secret["secret"].as_str().unwrap_or_default();
    assert!(
        got[0].signed_with(secret),
        "signed with the tenant's callback secret"
    );
    assert_eq!(got[0].path, "/done");
    let body = got[0].json();
    assert_eq!(body["type"], "TaskCompleted");
    assert_eq!(body["data"]["stream_id"], json!(format!("task-{task_id}")));
    assert_eq!(body["data"]["payload"]["result"], json!({ "answer": 42 }));

    let callbacks = format!("/api/v1/tasks/{task_id}/callbacks");
    let done = newest_becomes(&server, &op, &callbacks, "succeeded").await;
    assert_eq!(done["delivery_id"], json!(got[0].header("webhook-id")));
    let (status, _) = server.get(&callbacks, &other).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another tenant's task");
    let (_, theirs) = server.get("/api/v1/callbacks/secret", &other).await;
    assert_ne!(
        theirs["secret"].as_str(),
        Some(secret),
        "a secret per tenant"
    );

    // A task without a callback calls nothing when it ends.
    let (status, plain) = server
        .post("/api/v1/tasks", &op, &json!({ "task_type": "quiet" }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let plain_id = plain["task_id"].as_str().unwrap_or_default();
    let (status, _) = server
        .post(
            &format!("/api/v1/tasks/{plain_id}/cancel"),
            &op,
            &json!(null),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        listed(&server, &op, &format!("/api/v1/tasks/{plain_id}/callbacks"))
            .await
            .is_empty()
    );
    assert_eq!(receiver.received().len(), 1);
}

async fn an_agents_subscription_gets_only_what_concerns_it(db: TestDatabase) {
    let server = server(db, &[0]).await;
    let (receiver, base) = Receiver::start().await;
    let (_, op) = server.tenant("agent hooks").await;
    let x = server
        .agent(&op, &["webhooks:manage", "commands:poll"], 600)
        .await;
    let y = server.agent(&op, &["commands:poll"], 600).await;
    let (webhook_id, secret) =
        subscribe(&server, &x.token, &format!("{base}/x"), &["CommandIssued"]).await;
    let issue = |agent: &str| {
        (
            format!("/api/v1/agents/{agent}/commands"),
            json!({ "command": "restart" }),
        )
    };
    let (path, body) = issue(&y.agent_id);
    let (status, _) = server.post(&path, &op, &body).await;
    assert_eq!(status, StatusCode::CREATED);
    let (path, body) = issue(&x.agent_id);
    let (status, to_x) = server.post(&path, &op, &body).await;
    assert_eq!(status, StatusCode::CREATED);

    let got = receiver.wait_for(1).await;
    assert!(got[0].signed_with(&secret));
    assert_eq!(
        got[0].json()["data"]["stream_id"],
        json!(format!(
            "command-{}",
            to_x["command_id"].as_str().unwrap_or_default()
        ))
    );
    server.models_reach(None).await;
    assert_eq!(deliveries(&server, &x.token, &webhook_id).await.len(), 1);
    assert_eq!(receiver.received().len(), 1, "nothing of another agent's");
}

async fn a_subscription_failing_for_too_long_is_disabled_with_an_alert(db: TestDatabase) {
    let options = Options {
        loopback_deliveries: Some(RetrySchedule(vec![0, 1, 1, 1, 1, 1])),
        disable_after: Some(Duration::from_secs(2)),
        ..Options::default()
    };
    let server = TestServer::start_with_options(db, options).await;
    let (receiver, base) = Receiver::start().await;
    receiver.script((0..10).map(|_| Reply::Status(503)));
    let (_, op) = server.tenant("failing").await;
    let (webhook_id, _) = subscribe(&server, &op, &format!("{base}/down"), &["TaskCreated"]).await;
    create_task(&server, &op).await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let reason = loop {
        let (_, listed) = server.get("/api/v1/webhooks", &op).await;
        if let Some(reason) = listed[0]["disabled_reason"].as_str() {
            break reason.to_owned();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not disabled: {listed}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        reason.contains("every delivery has failed since"),
        "{reason}"
    );
    // Its waiting delivery is cancelled, not sent again.
    settled(&server, &op, &webhook_id, "cancelled").await;
    server.models_reach(None).await;
    let alerts = server.raised_alerts().await;
    assert!(
        alerts.iter().any(|a| a["source"] == "webhook"
            && a["title"].as_str().is_some_and(|t| t.contains(&webhook_id))),
        "{alerts:?}"
    );
    // A subscription disabled by its manager raises none.
    let (other_id, _) = subscribe(&server, &op, &format!("{base}/other"), &["TaskCreated"]).await;
    let (status, _) = server
        .post(
            &format!("/api/v1/webhooks/{other_id}/disable"),
            &op,
            &json!({ "reason": "maintenance" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    server.models_reach(None).await;
    let after = server.raised_alerts().await;
    assert!(
        !after
            .iter()
            .any(|a| a["title"].as_str().is_some_and(|t| t.contains(&other_id)))
    );
}

async fn a_time_range_is_replayed_under_the_first_ids(db: TestDatabase) {
    let server = server(db, &[0]).await;
    let (receiver, base) = Receiver::start().await;
    let (_, op) = server.tenant("replays").await;
    let (_, other) = server.tenant("bystander").await;
    let pause = || tokio::time::sleep(Duration::from_millis(20));
    let task_of = |got: &agentledger_tests::receiver::Received| {
        got.json()["data"]["stream_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };

    let start = Utc::now();
    pause().await;
    let (before, _) = create_task(&server, &op).await;
    create_task(&server, &other).await;
    pause().await;
    let (webhook_id, secret) =
        subscribe(&server, &op, &format!("{base}/in"), &["TaskCreated"]).await;
    let (delivered, _) = create_task(&server, &op).await;
    let first = receiver.wait_for(1).await;
    assert_eq!(task_of(&first[0]), format!("task-{delivered}"));
    settled(&server, &op, &webhook_id, "succeeded").await;
    let body = json!({ "reason": "receiver down for maintenance" });
    let (status, _) = server
        .post(
            &format!("/api/v1/webhooks/{webhook_id}/disable"),
            &op,
            &body,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (missed, _) = create_task(&server, &op).await;
    pause().await;
    let middle = Utc::now();
    pause().await;
    create_task(&server, &op).await;
    let replay = format!("/api/v1/webhooks/{webhook_id}/replay");
    let range = json!({ "from": start, "to": middle });

    // A disabled subscription would cancel what it is sent: refused.
    let (status, problem) = server.post(&replay, &op, &range).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(
        on_webhook(&server, &op, &webhook_id, "enable").await,
        StatusCode::OK
    );

    let (status, done) = server.post(&replay, &op, &range).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    // Deliveries are made side by side: their order is not promised.
    let got = receiver.wait_for(4).await;
    let mut replayed: Vec<String> = got[1..].iter().map(task_of).collect();
    replayed.sort();
    let mut expected = [&before, &delivered, &missed].map(|t| format!("task-{t}"));
    expected.sort();
    assert_eq!(
        replayed, expected,
        "the range's events of this tenant, and no other"
    );
    assert!(got.iter().all(|d| d.signed_with(&secret)));
    let again = got[1..]
        .iter()
        .find(|d| task_of(d) == format!("task-{delivered}"));
    assert_eq!(
        again.map(|d| d.header("webhook-id")),
        Some(first[0].header("webhook-id")),
        "a delivered event is sent again under its first id"
    );
    assert_eq!(again.map(|d| d.json()), Some(first[0].json()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 4, "nothing after the range");
    let listed = deliveries(&server, &op, &webhook_id).await;
    assert_eq!(listed.len(), 3, "one delivery per event: {listed:?}");

    // Bad ranges and other callers change nothing.
    let backwards = json!({ "from": middle, "to": start });
    for (key, body, expected) in [
        (&op, backwards, StatusCode::UNPROCESSABLE_ENTITY),
        (
            &op,
            json!({ "from": "2026-13-01T00:00:00Z", "to": middle }),
            StatusCode::BAD_REQUEST,
        ),
        (
            &op,
            json!({ "from": "\u{0}", "to": middle }),
            StatusCode::BAD_REQUEST,
        ),
        (&op, json!({ "from": start }), StatusCode::BAD_REQUEST),
        (&other, range.clone(), StatusCode::NOT_FOUND),
    ] {
        let (status, problem) = server.post(&replay, key, &body).await;
        assert_eq!(status, expected, "{body}: {problem}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 4);
}

agentledger_tests::on_every_database!(
    deliveries_are_signed_as_the_standard_says_and_listed,
    failures_are_retried_on_schedule_under_one_id_and_gone_disables,
    redirects_are_not_followed_and_a_silent_receiver_times_out,
    a_restart_between_attempts_loses_no_delivery,
    a_task_calls_back_when_it_ends,
    an_agents_subscription_gets_only_what_concerns_it,
    a_subscription_failing_for_too_long_is_disabled_with_an_alert,
    a_time_range_is_replayed_under_the_first_ids,
);
