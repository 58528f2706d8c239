//! Executions over HTTP: a published workflow version run with an input,
//! its agent steps done as tasks by agents of the step's kind, its tool
//! steps as calls of a real HTTP receiver and a real MCP server on
//! loopback; outputs handed on, tokens and cost summed from the runs its
//! tasks reported, retries, deadlines, pause, resume and cancel; the
//! progress on the live feed; a restart mid-execution; and refusals.

use std::time::Duration;

use agentledger_domain::delivery::RetrySchedule;
use agentledger_store::testing::TestDatabase;
use agentledger_tests::live::{Sse, receive, websocket};
use agentledger_tests::receiver::{Receiver, Reply};
use agentledger_tests::{Options, TestAgent, TestServer};
use futures::SinkExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// A server whose outbound policy allows loopback (the tools run here).
async fn server(db: TestDatabase) -> TestServer {
    let options = Options {
        loopback_deliveries: Some(RetrySchedule::default()),
        ..Options::default()
    };
    TestServer::start_with_options(db, options).await
}

const AGENT: &[&str] = &["tasks:claim", "runs:write"];

fn agent_step(key: &str, kind: &str, input: Value, timeout_seconds: u32, retries: u32) -> Value {
    json!({
        "key": key,
        "action": { "type": "agent", "agent_kind": kind, "task_type": key },
        "input": input,
        "timeout_seconds": timeout_seconds,
        "retries": retries
    })
}

fn edge(from: &str, to: &str) -> Value {
    json!({ "from": from, "to": to })
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// A workflow of `draft`, published: its id.
async fn published(server: &TestServer, key: &str, draft: Value) -> String {
    let body = json!({ "name": "flow", "draft": draft });
    let (status, made) = server.post("/api/v1/workflows", key, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let id = text(&made["workflow_id"]);
    let (status, done) = server
        .post(&format!("/api/v1/workflows/{id}/publish"), key, &json!({}))
        .await;
    assert_eq!(
        (status, done["version"].clone()),
        (StatusCode::OK, json!(1))
    );
    id
}

async fn start(server: &TestServer, key: &str, workflow: &str, input: Value) -> String {
    let body = json!({ "workflow_id": workflow, "version": 1, "input": input });
    let (status, started) = server.post("/api/v1/executions", key, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    text(&started["execution_id"])
}

/// The execution once `done` holds of it (20 s at most).
async fn until(server: &TestServer, key: &str, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, execution) = server.get(&format!("/api/v1/executions/{id}"), key).await;
        assert_eq!(status, StatusCode::OK, "{execution}");
        if done(&execution) {
            return execution;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the execution did not get there: {execution}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn step<'a>(execution: &'a Value, key: &str) -> &'a Value {
    execution["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["step"] == key))
        .unwrap_or(&Value::Null)
}

/// The next task the agent may claim, waiting up to 20 s for one.
async fn claim(server: &TestServer, agent: &TestAgent) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, task) = server
            .get("/api/v1/agents/me/tasks/next", &agent.token)
            .await;
        if status == StatusCode::OK {
            return task;
        }
        assert_eq!(status, StatusCode::NO_CONTENT, "{task}");
        assert!(tokio::time::Instant::now() < deadline, "no task came");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn nothing_to_claim(server: &TestServer, agent: &TestAgent) {
    let (status, task) = server
        .get("/api/v1/agents/me/tasks/next", &agent.token)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{task}");
}

/// Completes the task: the position of it.
async fn complete(server: &TestServer, agent: &TestAgent, task: &Value, result: Value) -> u64 {
    let path = format!("/api/v1/tasks/{}/complete", text(&task["task_id"]));
    let (status, done) = server
        .post(&path, &agent.token, &json!({ "result": result }))
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    done["position"].as_u64().unwrap_or_default()
}

fn run(task_id: &str, prompt_tokens: u64, cost_usd: f64) -> Value {
    json!({
        "app_type": "moderation", "trigger_type": "workflow", "model": "m-1",
        "prompt_tokens": prompt_tokens, "completion_tokens": 20, "cost_usd": cost_usd,
        "latency_ms": 300, "status": "success", "task_id": task_id
    })
}

async fn steps_run_through_tools_and_agents_and_hand_their_outputs_on(db: TestDatabase) {
    let server = server(db).await;
    let (_, op) = server.tenant("orchestrators").await;
    let (_, other) = server.tenant("elsewhere").await;
    let (receiver, base) = Receiver::start().await;
    receiver.script([Reply::Json(200, json!({ "history": "clean" }))]);
    let mcp = agentledger_tests::mcp::start().await;
    let tool = |name: &str, kind: &str, endpoint: String| {
        json!({ "name": name, "input_schema": { "type": "object", "required": ["post"] },
                "kind": kind, "endpoint": endpoint })
    };
    let (_, lookup) = server
        .post(
            "/api/v1/tools",
            &op,
            &tool("lookup", "http", format!("{base}/lookup")),
        )
        .await;
    let mut arithmetic = tool("arithmetic", "mcp", mcp);
    arithmetic["input_schema"] = json!({ "type": "object" });
    let (_, arithmetic) = server.post("/api/v1/tools", &op, &arithmetic).await;
    let draft = json!({
        "steps": [
            { "key": "lookup", "action": { "type": "tool", "tool_id": lookup["tool_id"] },
              "input": { "post": "$input.post" }, "timeout_seconds": 10, "retries": 0 },
            { "key": "add", "action": { "type": "tool", "tool_id": arithmetic["tool_id"], "mcp_tool": "add" },
              "input": { "a": "$input.n", "b": 2 }, "timeout_seconds": 10, "retries": 0 },
            agent_step("review", "moderator",
                json!({ "history": "$steps.lookup.output.history", "sum": "$steps.add.output" }), 60, 0),
        ],
        "edges": [edge("lookup", "review"), edge("add", "review")]
    });
    let workflow = published(&server, &op, draft).await;
    let moderator = server.agent_of_kind(&op, "moderator", AGENT, 600).await;
    let writer = server.agent_of_kind(&op, "writer", AGENT, 600).await;

    let id = start(&server, &op, &workflow, json!({ "post": "p-7", "n": 3 })).await;
    let mut feed = Sse::open(&server, &op, &format!("?correlation_id={id}"), Some(0)).await;
    let task = claim(&server, &moderator).await;
    assert_eq!(
        task["input"],
        json!({ "history": "clean", "sum": 5 }),
        "{task}"
    );
    assert_eq!(task["step"]["execution_id"], json!(id));
    assert_eq!(task["agent_kind"], "moderator");
    let sent = receiver.received();
    assert_eq!(
        (sent.len(), sent.first().map(|r| r.json())),
        (1, Some(json!({ "post": "p-7" }))),
        "the HTTP tool was sent the step's input"
    );
    nothing_to_claim(&server, &writer).await;

    let task_id = text(&task["task_id"]);
    // A run names only a task its agent holds.
    let (status, refused) = server
        .post(
            "/api/v1/agents/me/runs",
            &writer.token,
            &run(&task_id, 1, 0.0),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    for (tokens, cost) in [(100, 0.01), (50, 0.005)] {
        let (status, recorded) = server
            .post(
                "/api/v1/agents/me/runs",
                &moderator.token,
                &run(&task_id, tokens, cost),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{recorded}");
    }
    complete(&server, &moderator, &task, json!({ "decision": "keep" })).await;

    let done = until(&server, &op, &id, |e| e["status"] == "completed").await;
    assert_eq!(
        (
            done["prompt_tokens"].clone(),
            done["completion_tokens"].clone(),
            done["runs"].clone()
        ),
        (json!(150), json!(40), json!(2)),
        "{done}"
    );
    assert!(
        (done["cost_usd"].as_f64().unwrap_or_default() - 0.015).abs() < 1e-9,
        "{done}"
    );
    let review = step(&done, "review");
    assert_eq!(
        (
            review["status"].clone(),
            review["task_id"].clone(),
            review["runs"].clone()
        ),
        (json!("succeeded"), json!(task_id), json!(2))
    );
    assert_eq!(review["output"], json!(r#"{"decision":"keep"}"#));
    assert_eq!(step(&done, "add")["output"], json!("5"));
    assert_eq!(step(&done, "add")["runs"], json!(0));
    for key in ["lookup", "add", "review"] {
        let s = step(&done, key);
        assert!(
            s["started_at"].is_string() && s["ended_at"].is_string(),
            "{s}"
        );
        assert_eq!(s["attempts"], json!(1));
    }
    assert!(done["ended_at"].is_string());

    // The live feed showed it from its start to its end.
    let seen = feed
        .until(|e| e["event_type"] == "ExecutionCompleted")
        .await;
    let types: Vec<&str> = seen
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    for expected in [
        "ExecutionStarted",
        "StepStarted",
        "StepSucceeded",
        "TaskCreated",
    ] {
        assert!(types.contains(&expected), "{expected} not in {types:?}");
    }
    // And so does the WebSocket, from the start of the log.
    let mut socket = websocket(&server, &op).await;
    let subscribe = json!({ "resume_after": 0, "correlation_id": id });
    socket
        .send(Message::Text(subscribe.to_string().into()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        receive(&mut socket).await.map(|m| m["kind"].clone()),
        Some(json!("subscribed"))
    );
    let mut over_ws = Vec::new();
    while over_ws.last() != Some(&json!("ExecutionCompleted")) {
        let message = receive(&mut socket).await.unwrap_or_default();
        over_ws.push(message["event"]["event_type"].clone());
    }
    assert_eq!(over_ws.len(), seen.len(), "{over_ws:?}");

    // Lists, with filters; other tenants see nothing of it.
    for (query, expected) in [
        (String::new(), 1),
        (format!("?workflow_id={workflow}"), 1),
        ("?status=completed".to_owned(), 1),
        ("?status=running".to_owned(), 0),
    ] {
        let (status, page) = server.get(&format!("/api/v1/executions{query}"), &op).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(
            page["items"].as_array().map(Vec::len),
            Some(expected),
            "{query}: {page}"
        );
    }
    let (status, problem) = server.get("/api/v1/executions?status=done", &op).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    let (status, page) = server.get("/api/v1/executions", &other).await;
    assert_eq!((status, page["items"].clone()), (StatusCode::OK, json!([])));
    for (method, path) in [
        (Method::GET, format!("/api/v1/executions/{id}")),
        (Method::POST, format!("/api/v1/executions/{id}/cancel")),
        (Method::POST, format!("/api/v1/executions/{id}/pause")),
    ] {
        let (status, problem) = server.call(method, &path, Some(&other), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {problem}");
    }
    let (status, problem) = server
        .post(
            "/api/v1/executions",
            &other,
            &json!({ "workflow_id": workflow, "version": 1 }),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another tenant's workflow: {problem}"
    );
}

async fn attempts_retry_time_out_pause_resume_and_cancel(db: TestDatabase) {
    let server = server(db).await;
    let (tenant, op) = server.tenant("retriers").await;
    let draft = json!({
        "steps": [
            agent_step("first", "worker", json!({ "n": "$input.n" }), 1, 1),
            agent_step("second", "worker", json!({ "from": "$steps.first.output" }), 60, 0),
        ],
        "edges": [edge("first", "second")]
    });
    let workflow = published(&server, &op, draft).await;
    let agent = server.agent_of_kind(&op, "worker", AGENT, 600).await;

    // Nobody takes the first attempt: it times out, its task is cancelled
    // and a second attempt starts; that one fails and the execution with it.
    let id = start(&server, &op, &workflow, json!({ "n": 1 })).await;
    let timed_out = until(&server, &op, &id, |e| step(e, "first")["attempts"] == 2).await;
    assert!(
        text(&step(&timed_out, "first")["error"]).contains("no result within 1 s"),
        "{timed_out}"
    );
    let first_task = claim(&server, &agent).await;
    assert_eq!(first_task["step"]["attempt"], json!(2), "{first_task}");
    let seen = first_task["position"].as_u64().unwrap_or_default();
    let (_, tasks) = server
        .get(
            &format!("/api/v1/tasks?status=cancelled&min_position={seen}"),
            &op,
        )
        .await;
    assert_eq!(tasks["items"].as_array().map(Vec::len), Some(1), "{tasks}");
    let path = format!("/api/v1/tasks/{}/fail", text(&first_task["task_id"]));
    let (status, _) = server
        .post(&path, &agent.token, &json!({ "error": "disk full" }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let failed = until(&server, &op, &id, |e| e["status"] == "failed").await;
    assert_eq!(failed["failed_step"], "first");
    assert!(text(&failed["error"]).contains("disk full"), "{failed}");
    assert_eq!(step(&failed, "second")["status"], "waiting");

    // Paused, a step under way finishes but the next does not start.
    let id = start(&server, &op, &workflow, json!({ "n": 2 })).await;
    let task = claim(&server, &agent).await;
    let (status, _) = server
        .post(&format!("/api/v1/executions/{id}/pause"), &op, &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    complete(&server, &agent, &task, json!({ "ok": true })).await;
    let paused = until(&server, &op, &id, |e| {
        step(e, "first")["status"] == "succeeded"
    })
    .await;
    assert_eq!(paused["status"], "paused");
    tokio::time::sleep(Duration::from_millis(300)).await;
    nothing_to_claim(&server, &agent).await;
    let (status, _) = server
        .post(&format!("/api/v1/executions/{id}/resume"), &op, &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let second = claim(&server, &agent).await;
    assert_eq!(second["input"], json!({ "from": { "ok": true } }));

    // Cancelled, its open task is cancelled too, and it stays cancelled.
    let (status, _) = server
        .post(
            &format!("/api/v1/executions/{id}/cancel"),
            &op,
            &json!({ "reason": "not needed" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let cancelled = until(&server, &op, &id, |e| e["status"] == "cancelled").await;
    assert_eq!(cancelled["error"], "not needed");
    let task_path = format!("/api/v1/tasks/{}", text(&second["task_id"]));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, task) = server.get(&task_path, &op).await;
        if task["status"] == "cancelled" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{task}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for action in ["pause", "resume"] {
        let (status, problem) = server
            .post(
                &format!("/api/v1/executions/{id}/{action}"),
                &op,
                &json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{action}: {problem}");
    }

    // Refusals: a version never published, an archived workflow, an input
    // no read model can keep, a viewer.
    let (status, problem) = server
        .post(
            "/api/v1/executions",
            &op,
            &json!({ "workflow_id": workflow, "version": 9 }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    let (status, problem) = server
        .post(
            "/api/v1/executions",
            &op,
            &json!({ "workflow_id": workflow, "version": 1, "input": { "a": "x\u{0}y" } }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let big = "x".repeat(300 * 1024);
    let (status, problem) = server
        .post(
            "/api/v1/executions",
            &op,
            &json!({ "workflow_id": workflow, "version": 1, "input": { "a": big } }),
        )
        .await;
    assert!(
        matches!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY | StatusCode::PAYLOAD_TOO_LARGE
        ),
        "{status} {problem}"
    );
    let viewer = server.key(&tenant, "viewer").await;
    let (status, problem) = server
        .post(
            "/api/v1/executions",
            &viewer,
            &json!({ "workflow_id": workflow, "version": 1 }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    let (status, _) = server
        .post(
            &format!("/api/v1/workflows/{workflow}/archive"),
            &op,
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, problem) = server
        .post(
            "/api/v1/executions",
            &op,
            &json!({ "workflow_id": workflow, "version": 1 }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
}

async fn a_failing_tool_is_retried_and_a_restart_loses_no_step(db: TestDatabase) {
    let server = server(db).await;
    let (_, op) = server.tenant("restarters").await;
    let (receiver, base) = Receiver::start().await;
    receiver.script([Reply::Status(503), Reply::Json(200, json!({ "rows": 3 }))]);
    let body = json!({ "name": "count", "input_schema": { "type": "object" },
                       "kind": "http", "endpoint": format!("{base}/count") });
    let (_, count) = server.post("/api/v1/tools", &op, &body).await;
    let draft = json!({
        "steps": [
            { "key": "count", "action": { "type": "tool", "tool_id": count["tool_id"] },
              "input": {}, "timeout_seconds": 10, "retries": 1 },
            agent_step("report", "worker", json!({ "rows": "$steps.count.output.rows" }), 60, 0),
        ],
        "edges": [edge("count", "report")]
    });
    let workflow = published(&server, &op, draft).await;
    let agent = server.agent_of_kind(&op, "worker", AGENT, 600).await;
    let id = start(&server, &op, &workflow, json!({})).await;
    let task = claim(&server, &agent).await;
    assert_eq!(task["input"], json!({ "rows": 3 }));
    let (_, execution) = server.get(&format!("/api/v1/executions/{id}"), &op).await;
    let count = step(&execution, "count");
    assert_eq!(count["attempts"], json!(2), "{execution}");
    assert!(text(&count["error"]).contains("503"), "{execution}");

    // The server stops with the task claimed and starts again: the
    // engine goes on from its checkpoint and the execution completes.
    let server = server.restart().await;
    let completed = complete(&server, &agent, &task, json!("sent")).await;
    let done = until(&server, &op, &id, |e| e["status"] == "completed").await;
    assert_eq!(step(&done, "report")["attempts"], json!(1));
    let (_, tasks) = server
        .get(&format!("/api/v1/tasks?min_position={completed}"), &op)
        .await;
    assert_eq!(
        tasks["items"].as_array().map(Vec::len),
        Some(1),
        "one task, made once: {tasks}"
    );
    assert_eq!(receiver.received().len(), 2);
}

agentledger_tests::on_every_database!(
    steps_run_through_tools_and_agents_and_hand_their_outputs_on,
    attempts_retry_time_out_pause_resume_and_cancel,
    a_failing_tool_is_retried_and_a_restart_loses_no_step,
);
