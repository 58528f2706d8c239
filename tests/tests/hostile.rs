//! One agent must not be able to stop read models for every tenant. Commands
//! with hostile strings (U+0000, control characters, long and odd Unicode)
//! and extreme numbers go through the HTTP API; each is either recorded or
//! refused with a problem (never a 5xx), and after every batch every model
//! reaches the log's head and every read of it answers. An event that gets
//! into the log anyway and cannot be applied stops its models loudly.

use std::time::Duration;

use agentledger_tests::{TestServer, on_every_backend};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Strings an attacker would try, with ordinary ones among them.
fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a\u{0}b".to_owned()),
        Just("\u{0}".to_owned()),
        Just("\u{1b}[31mred\u{1b}[0m".to_owned()),
        Just("line\nbreak\ttab\rreturn".to_owned()),
        Just("\u{85}\u{9f}\u{7f}".to_owned()),
        Just("\u{feff}\u{202e}\u{fffd}\u{10ffff}".to_owned()),
        Just("x".repeat(70 * 1024)),
        "[\\x00-\\x1f\\x7f-\\x9f]{1,4}",
        "[a-z_]{1,12}",
        any::<String>(),
    ]
}

fn extreme_u64() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(u64::MAX)),
        Just(json!(i64::MAX)),
        Just(json!(i64::MAX as u64 + 1)),
        Just(json!(86_400_000u64)),
        Just(json!(100_000_000u64)),
        Just(json!(-1)),
        Just(json!(1.5)),
        (0u64..10_000).prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
    ]
}

fn extreme_f64() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(f64::MAX)),
        Just(json!(1e300)),
        Just(json!(-0.0)),
        Just(json!(10_000.0)),
        Just(json!(1e-300)),
        (0.0f64..5.0).prop_map(|x| json!(x)),
        any::<f64>().prop_map(|x| json!(x)),
    ]
}

/// A JSON value nesting hostile strings, as request data or task input.
fn hostile_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        hostile_string().prop_map(Value::String),
        extreme_u64(),
        extreme_f64(),
        Just(Value::Null),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((hostile_string(), inner), 0..4)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

/// One command an agent or operator sends: method, path, and whose key.
#[derive(Debug, Clone)]
enum Command {
    Action(Value),
    Run(Value),
    Task(Value),
    Cache(String, Value),
}

fn command() -> impl Strategy<Value = Command> {
    let action = (
        hostile_string(),
        hostile_string(),
        proptest::option::of(hostile_string()),
        proptest::option::of(hostile_string()),
        proptest::option::of(extreme_f64()),
        proptest::option::of(extreme_u64()),
        proptest::option::of(hostile_json()),
    )
        .prop_map(
            |(action, resource_type, resource_id, reasoning, confidence, ms, data)| {
                Command::Action(json!({
                    "action": action, "resource_type": resource_type, "resource_id": resource_id,
                    "status": "success", "reasoning": reasoning, "confidence": confidence,
                    "execution_time_ms": ms, "request_data": data,
                }))
            },
        );
    let run = (
        hostile_string(),
        hostile_string(),
        extreme_u64(),
        extreme_u64(),
        extreme_u64(),
        extreme_f64(),
        proptest::option::of(hostile_string()),
        proptest::option::of(hostile_string()),
    )
        .prop_map(|(app_type, model, prompt, completion, latency, cost, error, response)| {
            Command::Run(json!({
                "app_type": app_type, "trigger_type": "schedule", "model": model,
                "prompt_tokens": prompt, "completion_tokens": completion, "latency_ms": latency,
                "cost_usd": cost, "status": "failed", "error_message": error, "response": response,
            }))
        });
    let task = (
        hostile_string(),
        hostile_json(),
        proptest::option::of(hostile_string()),
        any::<i32>(),
    )
        .prop_map(|(task_type, input, dedup_key, priority)| {
            Command::Task(json!({
                "task_type": task_type, "input": input, "dedup_key": dedup_key, "priority": priority,
            }))
        });
    // A path segment, so short enough for a URL.
    let name = hostile_string().prop_map(|s| s.chars().take(100).collect::<String>());
    let cache = (name, hostile_json())
        .prop_map(|(key, value)| Command::Cache(key, json!({ "value": value, "ttl_seconds": 60 })));
    prop_oneof![action, run, task, cache]
}

/// Percent-encodes every byte that is not unreserved, NUL included.
fn segment(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every read an operator makes of what the agent reported answers 200.
async fn every_read_answers(server: &TestServer, key: &str) {
    for path in [
        "/api/v1/dashboard",
        "/api/v1/operations",
        "/api/v1/operations/summary",
        "/api/v1/runs",
        "/api/v1/tasks",
        "/api/v1/agent-stats",
        "/api/v1/usage?period=month&by=model",
        "/api/v1/usage?period=day&by=tenant",
        "/api/v1/cache",
        "/api/v1/alerts",
    ] {
        let (status, body) = server.get(path, key).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
}

async fn hostile_commands_never_stop_a_read_model(server: TestServer) {
    let (_, key) = server.tenant("hostile").await;
    let agent = server
        .agent(
            &key,
            &["actions:write", "runs:write", "tasks:create", "cache:write"],
            100_000,
        )
        .await;
    let mut runner = TestRunner::new(Config {
        cases: 24,
        ..Config::default()
    });
    let batch = prop::collection::vec(command(), 8..16);
    let (mut recorded, mut refused) = (0, 0);
    for _ in 0..24 {
        let commands = match batch.new_tree(&mut runner) {
            Ok(tree) => tree.current(),
            Err(e) => panic!("cannot generate commands: {e}"),
        };
        for command in &commands {
            let (method, path, token, body) = match command {
                Command::Action(body) => (
                    Method::POST,
                    "/api/v1/agents/me/actions".to_owned(),
                    &agent.token,
                    body,
                ),
                Command::Run(body) => (
                    Method::POST,
                    "/api/v1/agents/me/runs".to_owned(),
                    &agent.token,
                    body,
                ),
                Command::Task(body) => {
                    (Method::POST, "/api/v1/tasks".to_owned(), &agent.token, body)
                }
                Command::Cache(name, body) => (
                    Method::PUT,
                    format!(
                        "/api/v1/agents/me/cache/{}/{}",
                        segment(name),
                        segment(name)
                    ),
                    &agent.token,
                    body,
                ),
            };
            let (status, answer) = server.call(method, &path, Some(token), Some(body)).await;
            assert!(
                !status.is_server_error(),
                "{path} answered {status} to {body}: {answer}"
            );
            if status.is_success() {
                recorded += 1;
            } else {
                refused += 1;
            }
        }
        server.models_reach(None).await;
        every_read_answers(&server, &key).await;
    }
    // The generator must exercise both outcomes, or it tests nothing.
    assert!(
        recorded > 0 && refused > 0,
        "recorded {recorded}, refused {refused}"
    );
}

/// Two runs at the largest latency, tokens and cost a run may report, many
/// times over: the day's sums stay exact integers and the dashboard answers.
async fn the_largest_allowed_numbers_do_not_overflow_a_sum(server: TestServer) {
    let (_, key) = server.tenant("big-numbers").await;
    let agent = server.agent(&key, &["runs:write"], 100_000).await;
    let run = json!({
        "app_type": "big", "trigger_type": "schedule", "model": "m",
        "prompt_tokens": 100_000_000u64, "completion_tokens": 100_000_000u64,
        "latency_ms": 86_400_000u64, "cost_usd": 10_000.0, "status": "success",
    });
    for _ in 0..3 {
        let (status, body) = server
            .post("/api/v1/agents/me/runs", &agent.token, &run)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    for (field, value) in [
        ("latency_ms", json!(u64::MAX)),
        ("latency_ms", json!(86_400_001u64)),
        ("prompt_tokens", json!(100_000_001u64)),
        ("cost_usd", json!(10_000.01)),
    ] {
        let mut over = run.clone();
        over[field] = value;
        let (status, body) = server
            .post("/api/v1/agents/me/runs", &agent.token, &over)
            .await;
        assert!(status.is_client_error(), "{field}: {status} {body}");
    }
    server.models_reach(None).await;
    let (status, dashboard) = server.get("/api/v1/dashboard", &key).await;
    assert_eq!(status, StatusCode::OK, "{dashboard}");
    assert_eq!(
        dashboard["today"]["tokens"],
        json!(600_000_000u64),
        "{dashboard}"
    );
    let (status, usage) = server
        .get("/api/v1/usage?period=month&by=tenant", &key)
        .await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    every_read_answers(&server, &key).await;
}

/// In depth: runs that got into the log without the maxima (an older
/// version's, or written straight into the database) with the largest
/// numbers JSON holds are summed up to the cap, not past it, on both
/// backends, and every read answers.
async fn sums_stop_at_the_cap_even_for_events_past_the_maxima(server: TestServer) {
    let (tenant_id, key) = server.tenant("past-the-maxima").await;
    let tenant: uuid::Uuid = tenant_id.parse().unwrap_or_default();
    let run = |n: u64| {
        agentledger_store::NewEvent::new(
            tenant,
            agentledger_domain::Actor::system("test"),
            "LlmRunRecorded".to_owned(),
            json!({
                "agent_id": uuid::Uuid::now_v7(), "app_type": "huge", "trigger_type": "t",
                "member_id": null, "model": "m", "prompt_tokens": u64::MAX,
                "completion_tokens": u64::MAX, "cost_micros": i64::MAX, "latency_ms": u64::MAX - n,
                "status": "success", "error_message": null, "session_id": null,
                "prompt": null, "response": null,
            }),
        )
    };
    let appended = server
        .state
        .store
        .append(
            &format!("runs-{tenant}"),
            agentledger_store::ExpectedVersion::Any,
            vec![run(0), run(1), run(2)],
        )
        .await;
    if let Err(e) = appended {
        panic!("append: {e}");
    }
    server.models_reach(None).await;
    let cap = json!((1u64 << 53) - 1);
    let (status, dashboard) = server.get("/api/v1/dashboard", &key).await;
    assert_eq!(status, StatusCode::OK, "{dashboard}");
    assert_eq!(dashboard["today"]["tokens"], cap, "{dashboard}");
    assert_eq!(
        dashboard["today"]["cost_usd"],
        json!(agentledger_projections::wire::dollars((1 << 53) - 1)),
        "{dashboard}"
    );
    let (status, usage) = server.get("/api/v1/usage?by=model", &key).await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    assert_eq!(usage["items"][0]["total_tokens"], cap, "{usage}");
    every_read_answers(&server, &key).await;
}

/// NUL is refused wherever a string goes, with the field named.
async fn nul_is_refused_with_a_problem_naming_the_field(server: TestServer) {
    let (_, key) = server.tenant("nul").await;
    let agent = server
        .agent(&key, &["actions:write", "tasks:create"], 100_000)
        .await;
    let action = json!({ "action": "a\u{0}b", "resource_type": "post", "status": "success" });
    let (status, problem) = server
        .post("/api/v1/agents/me/actions", &agent.token, &action)
        .await;
    assert!(status.is_client_error(), "{problem}");
    let text = problem.to_string();
    assert!(
        text.contains("action must not contain") && text.contains("U+0000"),
        "{problem}"
    );
    let deep = json!({ "action": "ok", "resource_type": "post", "status": "success",
                       "request_data": { "items": [{ "name": "x\u{0}" }] } });
    let (status, problem) = server
        .post("/api/v1/agents/me/actions", &agent.token, &deep)
        .await;
    assert!(status.is_client_error(), "{problem}");
    assert!(
        problem.to_string().contains("/request_data/items/0/name"),
        "{problem}"
    );
    let task = json!({ "task_type": "t", "input": { "k\u{0}": 1 } });
    let (status, problem) = server.post("/api/v1/tasks", &agent.token, &task).await;
    assert!(status.is_client_error(), "{problem}");
    // An admin's raw append is held to the same rule, and to the catalogue.
    let raw = |payload: Value, event_type: &str| {
        json!({ "expected_version": "any", "events": [{
            "event_type": event_type, "tenant_id": uuid::Uuid::now_v7(),
            "actor": { "kind": "operator", "id": "admin" }, "payload": payload }] })
    };
    for body in [
        raw(json!({ "note": "a\u{0}" }), "SomethingElse"),
        raw(json!({ "action": 1 }), "ActionRecorded"),
    ] {
        let (status, problem) = server
            .post("/api/v1/streams/custom-1/events", &server.admin_key, &body)
            .await;
        assert!(status.is_client_error(), "{problem}");
    }
    server.models_reach(None).await;
}

/// An event that reached the log without the checks (written by an older
/// version, or straight into the database) and cannot be applied stops its
/// models loudly: `/ready` answers 503 naming them, `/metrics` shows them
/// stalled, a critical alert is raised, and the other models go on.
async fn an_event_a_model_cannot_apply_stops_it_loudly(server: TestServer) {
    let (tenant_id, key) = server.tenant("broken").await;
    let bad = agentledger_store::NewEvent::new(
        tenant_id.parse().unwrap_or_default(),
        agentledger_domain::Actor::system("test"),
        "ActionRecorded".to_owned(),
        json!({ "agent_id": "not an id", "action": 7 }),
    );
    let appended = server
        .state
        .store
        .append(
            "report-broken",
            agentledger_store::ExpectedVersion::Any,
            vec![bad],
        )
        .await;
    let position = match appended {
        Ok(outcome) => outcome.last_position(),
        Err(e) => panic!("append: {e}"),
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let ready = loop {
        let (status, ready) = server.get("/ready", &server.admin_key).await;
        // The stalled model leaves the group of models that follow the log
        // together and the rest retry without it: wait until they have.
        let model = |name: &str| {
            ready["projections"]
                .as_array()
                .and_then(|models| models.iter().find(|m| m["name"] == name))
                .cloned()
                .unwrap_or_default()
        };
        if status == StatusCode::SERVICE_UNAVAILABLE
            && model("operation_log")["stalled"].is_object()
            && model("dashboard")["position"].as_u64() >= Some(position)
        {
            break ready;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no model reported the stall: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(ready["type"], "/problems/read-model-stalled", "{ready}");
    let models = ready["projections"].as_array().cloned().unwrap_or_default();
    let operation_log = models
        .iter()
        .find(|m| m["name"] == "operation_log")
        .cloned()
        .unwrap_or_default();
    assert!(
        operation_log["stalled"]["after"].as_u64() < Some(position),
        "{ready}"
    );
    assert!(
        operation_log["stalled"]["error"]
            .as_str()
            .is_some_and(|e| e.contains(&format!("position {position}"))),
        "{ready}"
    );
    // Models that do not apply actions went past it.
    let dashboard = models
        .iter()
        .find(|m| m["name"] == "dashboard")
        .cloned()
        .unwrap_or_default();
    assert!(
        dashboard["stalled"].is_null() && dashboard["position"].as_u64() >= Some(position),
        "{ready}"
    );

    let text = server.metrics().await;
    assert!(
        text.contains("agentledger_projection_stalled{projection=\"operation_log\"} 1"),
        "{text}"
    );
    assert!(text.contains("agentledger_projection_stalled{projection=\"dashboard\"} 0"));

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, alerts) = server
            .get("/api/v1/alerts?source=read_model", &server.admin_key)
            .await;
        assert_eq!(status, StatusCode::OK, "{alerts}");
        if alerts
            .to_string()
            .contains("Read model operation_log stopped")
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no alert: {alerts}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Reads of a stalled model still answer, from what it had.
    let (status, body) = server.get("/api/v1/operations", &key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

on_every_backend!(
    hostile_commands_never_stop_a_read_model,
    the_largest_allowed_numbers_do_not_overflow_a_sum,
    sums_stop_at_the_cap_even_for_events_past_the_maxima,
    nul_is_refused_with_a_problem_naming_the_field,
    an_event_a_model_cannot_apply_stops_it_loudly,
);
