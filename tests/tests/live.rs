//! Live feeds over SSE and WebSocket, task output, and long polls for
//! commands, over HTTP. SSE is parsed with `eventsource-stream` and the
//! WebSocket spoken with `tokio-tungstenite`, not with the server's code.

use std::time::Duration;

use agentledger_tests::live::{Sse, position, receive, tenant_positions, websocket};
use agentledger_tests::{TestServer, on_every_backend};
use futures::SinkExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

fn action(verb: &str) -> Value {
    json!({ "action": verb, "resource_type": "post", "status": "success" })
}

async fn reconnecting_with_the_last_id_misses_nothing_and_repeats_nothing(server: TestServer) {
    let (tenant_id, op) = server.tenant("live").await;
    let agent = server.agent(&op, &["actions:write"], 6000).await;
    let start = server.state.store.head_position().await.unwrap_or_default();

    let writer = {
        let http = server.http.clone();
        let url = server.url("/api/v1/agents/me/actions");
        let token = agent.token.clone();
        tokio::spawn(async move {
            for i in 0..200 {
                let response = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&action(&format!("write-{i}")))
                    .send()
                    .await;
                assert!(response.is_ok_and(|r| r.status() == StatusCode::CREATED));
            }
        })
    };

    let mut seen: Vec<u64> = Vec::new();
    for _ in 0..10 {
        let last = seen.last().copied().unwrap_or(start);
        let mut feed = Sse::open(&server, &op, "", Some(last)).await;
        for _ in 0..12 {
            let Some(event) = feed.next(Duration::from_secs(5)).await else {
                break;
            };
            seen.push(event.id.parse().unwrap_or_default());
        }
    }
    writer.await.unwrap_or_else(|e| panic!("{e}"));
    let expected = tenant_positions(&server, &tenant_id, start).await;
    let end = expected.last().copied().unwrap_or_default();
    if seen.last().copied().unwrap_or(start) < end {
        let last = seen.last().copied().unwrap_or(start);
        let mut feed = Sse::open(&server, &op, &format!("?after={last}"), None).await;
        let rest = feed.until(|e| position(e) >= end).await;
        seen.extend(rest.iter().map(position));
    }
    assert!(
        seen.len() > 120,
        "the reconnects saw the writes as they came"
    );
    assert_eq!(
        seen, expected,
        "every event once, in order, across 10 reconnects"
    );
}

async fn a_feed_shows_only_the_callers_tenant_and_an_agent_only_its_own(server: TestServer) {
    let (_, op_a) = server.tenant("a").await;
    let (tenant_b, op_b) = server.tenant("b").await;
    let x = server.agent(&op_a, &["commands:poll"], 600).await;
    let y = server.agent(&op_a, &["commands:poll"], 600).await;
    let mut tenant_a = Sse::open(&server, &op_a, "", None).await;
    let mut tenant_b_feed = Sse::open(&server, &op_b, "", None).await;
    let mut agent_x = Sse::open(&server, &x.token, "", None).await;
    let mut only_issues = Sse::open(&server, &op_a, "?types=CommandIssued", None).await;

    let issue = |agent: &str| {
        (
            format!("/api/v1/agents/{agent}/commands"),
            json!({ "command": "restart", "timeout_seconds": 60 }),
        )
    };
    let (path, body) = issue(&y.agent_id);
    let (status, to_y) = server.post(&path, &op_a, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{to_y}");
    let (path, body) = issue(&x.agent_id);
    let (status, to_x) = server.post(&path, &op_a, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{to_x}");
    let x_stream = format!(
        "command-{}",
        to_x["command_id"].as_str().unwrap_or_default()
    );
    let y_stream = format!(
        "command-{}",
        to_y["command_id"].as_str().unwrap_or_default()
    );
    // Then something in tenant B, which only B's feed may show.
    let (status, _) = server
        .post(
            "/api/v1/agents",
            &op_b,
            &json!({ "name": "b-agent", "kind": "worker", "permissions": [] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let seen_by_x = agent_x.until(|e| e["stream_id"] == json!(x_stream)).await;
    assert!(
        seen_by_x.iter().all(|e| e["stream_id"] != json!(y_stream)),
        "an agent does not see another agent's commands: {seen_by_x:?}"
    );
    // The poll delivers the command: the agent's feed shows the delivery too.
    let (status, _) = server.get("/api/v1/agents/me/commands", &x.token).await;
    assert_eq!(status, StatusCode::OK);
    agent_x
        .until(|e| e["stream_id"] == json!(x_stream) && e["event_type"] == "CommandDelivered")
        .await;

    let seen_by_a = tenant_a.until(|e| e["stream_id"] == json!(x_stream)).await;
    assert!(seen_by_a.iter().any(|e| e["stream_id"] == json!(y_stream)));
    let issues = only_issues
        .until(|e| e["stream_id"] == json!(x_stream))
        .await;
    assert!(issues.iter().all(|e| e["event_type"] == "CommandIssued"));
    assert_eq!(issues.len(), 2, "{issues:?}");

    let seen_by_b = tenant_b_feed
        .until(|e| e["event_type"] == "AgentRegistered")
        .await;
    assert!(
        seen_by_b.iter().all(|e| e["tenant_id"] == json!(tenant_b)),
        "tenant B sees none of A's events: {seen_by_b:?}"
    );

    // Asking wrongly is a problem, before any stream opens.
    for (query, last_id, status) in [
        ("?types=NoSuchEvent", None, StatusCode::UNPROCESSABLE_ENTITY),
        ("?stream=task", None, StatusCode::BAD_REQUEST),
        ("?after=-1", None, StatusCode::BAD_REQUEST),
        (
            "?tenant_id=00000000-0000-0000-0000-000000000000",
            None,
            StatusCode::BAD_REQUEST,
        ),
        ("", Some("x1"), StatusCode::BAD_REQUEST),
    ] {
        let mut request = server
            .http
            .get(server.url(&format!("/api/v1/stream{query}")))
            .bearer_auth(&op_a);
        if let Some(id) = last_id {
            request = request.header("Last-Event-ID", id);
        }
        let (got, problem) = agentledger_tests::read(request.send().await).await;
        assert_eq!(got, status, "{query}: {problem}");
    }
    let (status, _) = server
        .call(reqwest::Method::GET, "/api/v1/stream", None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn a_tasks_output_is_kept_in_order_and_streamed_as_it_comes(server: TestServer) {
    let (_, op) = server.tenant("output").await;
    let (_, other) = server.tenant("other").await;
    let agent = server.agent(&op, &["tasks:claim"], 600).await;
    let (status, created) = server
        .post("/api/v1/tasks", &op, &json!({ "task_type": "write" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let task_id = created["task_id"].as_str().unwrap_or_default().to_owned();
    let (status, _) = server
        .get("/api/v1/agents/me/tasks/next", &agent.token)
        .await;
    assert_eq!(status, StatusCode::OK);

    let query = format!("?stream=task-{task_id}&types=TaskProgressed");
    let mut watched_by_operator = Sse::open(&server, &op, &query, None).await;
    let mut watched_by_agent = Sse::open(&server, &agent.token, &query, None).await;
    let chunks = ["The answer", " is", " 42.\n"];
    for (i, chunk) in chunks.iter().enumerate() {
        let (status, body) = server
            .post(
                &format!("/api/v1/tasks/{task_id}/progress"),
                &agent.token,
                &json!({ "percent": 30 * (i + 1), "output_chunk": chunk }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    for feed in [&mut watched_by_operator, &mut watched_by_agent] {
        let streamed = feed
            .until(|e| e["payload"]["output_chunk"] == json!(chunks[2]))
            .await;
        let texts: Vec<&str> = streamed
            .iter()
            .filter_map(|e| e["payload"]["output_chunk"].as_str())
            .collect();
        assert_eq!(texts, chunks);
    }

    let path = format!("/api/v1/tasks/{task_id}/output");
    let (status, all) = server.get(&path, &op).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let texts: Vec<&str> = all["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["text"].as_str())
        .collect();
    assert_eq!(texts, chunks);
    assert_eq!(all["next_cursor"], Value::Null);
    let (_, first) = server.get(&format!("{path}?limit=2"), &agent.token).await;
    assert_eq!(first["items"].as_array().map(Vec::len), Some(2));
    let cursor = first["next_cursor"].as_i64().unwrap_or_default();
    let (_, rest) = server
        .get(&format!("{path}?limit=2&cursor={cursor}"), &op)
        .await;
    assert_eq!(rest["items"][0]["text"], json!(chunks[2]));
    assert_eq!(rest["items"].as_array().map(Vec::len), Some(1));
    assert!(
        rest["items"][0]["reported_at"]
            .as_str()
            .is_some_and(|t| t.contains('T'))
    );

    let (status, _) = server.get(&path, &other).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another tenant's task");
    let (status, _) = server.get(&format!("{path}?limit=501"), &op).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn a_waiting_agent_gets_a_command_as_soon_as_it_is_issued(server: TestServer) {
    let op = server.admin_key.clone();
    let agent = server.agent(&op, &["commands:poll"], 600).await;
    let waiting = {
        let http = server.http.clone();
        let url = server.url("/api/v1/agents/me/commands?wait=25");
        let token = agent.token.clone();
        tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            let (status, answer) =
                agentledger_tests::read(http.get(&url).bearer_auth(&token).send().await).await;
            (status, answer, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, issued) = server
        .post(
            &format!("/api/v1/agents/{}/commands", agent.agent_id),
            &op,
            &json!({ "command": "ping" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let (status, answer, waited) = waiting.await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["commands"][0]["command_id"], issued["command_id"]);
    assert!(
        waited < Duration::from_secs(20),
        "the poll answered when the command came, not at the end of its wait ({waited:?})"
    );
    // Nothing to wait for: the poll ends when its wait does, empty.
    let (status, answer) = server
        .get("/api/v1/agents/me/commands?wait=1", &agent.token)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["commands"], json!([]));
    for wrong in ["31", "-1", "1.5", "99999999999999999999"] {
        let (status, problem) = server
            .get(
                &format!("/api/v1/agents/me/commands?wait={wrong}"),
                &agent.token,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{wrong}: {problem}");
    }
}

async fn a_websocket_feed_resumes_and_refuses_like_the_sse_one(server: TestServer) {
    let (tenant_id, op) = server.tenant("ws").await;
    let agent = server.agent(&op, &["actions:write"], 600).await;
    let start = server.state.store.head_position().await.unwrap_or_default();
    for verb in ["one", "two", "three"] {
        let (status, _) = server
            .post("/api/v1/agents/me/actions", &agent.token, &action(verb))
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let expected = tenant_positions(&server, &tenant_id, start).await;

    let mut socket = websocket(&server, &op).await;
    let subscribe = json!({ "resume_after": start });
    socket
        .send(Message::Text(subscribe.to_string().into()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let subscribed = receive(&mut socket).await;
    assert_eq!(
        subscribed,
        Some(json!({ "kind": "subscribed", "after": start }))
    );
    let mut got = Vec::new();
    while got.len() < expected.len() {
        let message = receive(&mut socket).await.unwrap_or_default();
        assert_eq!(message["kind"], "event", "{message}");
        got.push(position(&message["event"]));
    }
    assert_eq!(got, expected);
    // A live one after the backfill.
    let (status, done) = server
        .post("/api/v1/agents/me/actions", &agent.token, &action("four"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let live = receive(&mut socket).await.unwrap_or_default();
    assert_eq!(live["event"]["payload"]["action"], "four", "{live}");
    assert!(position(&live["event"]) <= done["position"].as_u64().unwrap_or_default());
    let _ = socket.close(None).await;

    for (first, status) in [
        (json!({ "types": ["NoSuchEvent"] }).to_string(), 422),
        (json!({ "tenant_id": tenant_id }).to_string(), 400),
        ("not json\u{0}".to_owned(), 400),
    ] {
        let mut socket = websocket(&server, &op).await;
        socket
            .send(Message::Text(first.clone().into()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let refused = receive(&mut socket).await.unwrap_or_default();
        assert_eq!(refused["kind"], "error", "{first}: {refused}");
        assert_eq!(refused["problem"]["status"], json!(status), "{refused}");
        assert!(
            refused["problem"]["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("/problems/"))
        );
        assert_eq!(receive(&mut socket).await, None, "closed after the error");
    }
}

/// One tenant cannot take every feed slot: past its share its next feed is
/// refused (503), another tenant's is not until all are taken, and a closed
/// feed gives its slot back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_slots_are_shared_between_tenants() {
    let options = agentledger_tests::Options {
        live_feeds: Some((3, 2)),
        ..agentledger_tests::Options::default()
    };
    let server =
        TestServer::start_with_options(agentledger_store::testing::TestDatabase::sqlite(), options)
            .await;
    let (_, a) = server.tenant("greedy").await;
    let (_, b) = server.tenant("patient").await;
    let open = |key: String| {
        let request = server
            .http
            .get(server.url("/api/v1/stream"))
            .bearer_auth(key)
            .timeout(Duration::from_secs(10));
        async move {
            let response = request.send().await.unwrap_or_else(|e| panic!("{e}"));
            let status = response.status();
            if status.is_success() {
                (status, Some(response), Value::Null)
            } else {
                (status, None, response.json().await.unwrap_or_default())
            }
        }
    };
    let (_, first_of_a, _) = open(a.clone()).await;
    let (_, _second_of_a, _) = open(a.clone()).await;
    let (status, _, problem) = open(a.clone()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("this tenant")),
        "{problem}"
    );
    let (status, _first_of_b, _) = open(b.clone()).await;
    assert_eq!(status, StatusCode::OK, "another tenant still gets one");
    let (status, _, problem) = open(b.clone()).await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "all taken: {problem}"
    );

    drop(first_of_a);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, opened, _) = open(b.clone()).await;
        if opened.is_some() {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            tokio::time::Instant::now() < deadline,
            "a closed feed gives its slot back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

on_every_backend!(
    reconnecting_with_the_last_id_misses_nothing_and_repeats_nothing,
    a_feed_shows_only_the_callers_tenant_and_an_agent_only_its_own,
    a_tasks_output_is_kept_in_order_and_streamed_as_it_comes,
    a_waiting_agent_gets_a_command_as_soon_as_it_is_issued,
    a_websocket_feed_resumes_and_refuses_like_the_sse_one,
);
