//! Commands to agents (pull model) and agent presence, over HTTP.

use std::time::Duration;

use agentledger_tests::{TestServer, header, on_every_backend};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn poll(server: &TestServer, token: &str) -> Vec<Value> {
    let (status, answer) = server.get("/api/v1/agents/me/commands", token).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["poll_interval_seconds"], json!(5));
    answer["commands"].as_array().cloned().unwrap_or_default()
}

/// The agent's command history, once the read model has every event so far.
async fn history(server: &TestServer, agent_id: &str) -> Vec<Value> {
    let head = server.state.store.head_position().await.unwrap_or_default();
    let (status, history) = server
        .get(
            &format!("/api/v1/agents/{agent_id}/commands?min_position={head}"),
            &server.admin_key,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{history}");
    history["items"].as_array().cloned().unwrap_or_default()
}

async fn commands_are_delivered_once_reported_and_finished(server: TestServer) {
    let op = server.admin_key.clone();
    let agent = server.agent(&op, &["commands:poll"], 600).await;
    let path = format!("/api/v1/agents/{}/commands", agent.agent_id);
    let (status, issued) = server
        .post(
            &path,
            &op,
            &json!({ "command": "restart", "args": { "service": "web" }, "timeout_seconds": 60 }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let command_id = issued["command_id"].as_str().unwrap_or_default().to_owned();

    let delivered = poll(&server, &agent.token).await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        (
            delivered[0]["command_id"].clone(),
            delivered[0]["args"].clone()
        ),
        (json!(command_id), json!({ "service": "web" }))
    );
    assert!(
        poll(&server, &agent.token).await.is_empty(),
        "delivered exactly once"
    );

    for (stream, chunk) in [
        ("stdout", "stopping\n"),
        ("stderr", "warn\n"),
        ("stdout", "started\n"),
    ] {
        let body = json!({ "stream": stream, "chunk": chunk });
        let (status, _) = server
            .post(
                &format!("/api/v1/agents/me/commands/{command_id}/output"),
                &agent.token,
                &body,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let result = json!({ "success": true, "exit_code": 0, "output": "ok" });
    let (status, _) = server
        .post(
            &format!("/api/v1/agents/me/commands/{command_id}/result"),
            &agent.token,
            &result,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, problem) = server
        .post(
            &format!("/api/v1/agents/me/commands/{command_id}/result"),
            &agent.token,
            &result,
        )
        .await;
    assert_eq!(
        (status, problem["current_state"].clone()),
        (StatusCode::CONFLICT, json!("succeeded"))
    );

    let (_, detail) = server
        .get(&format!("/api/v1/commands/{command_id}"), &op)
        .await;
    let events = detail["events"].as_array().cloned().unwrap_or_default();
    let types: Vec<_> = events
        .iter()
        .map(|e| e["event_type"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        types,
        [
            "CommandIssued",
            "CommandDelivered",
            "CommandOutputAppended",
            "CommandOutputAppended",
            "CommandOutputAppended",
            "CommandFinished"
        ]
    );
    let chunks: Vec<_> = events[2..5]
        .iter()
        .map(|e| (e["payload"]["seq"].clone(), e["payload"]["chunk"].clone()))
        .collect();
    assert_eq!(
        chunks,
        [
            (json!(0), json!("stopping\n")),
            (json!(1), json!("warn\n")),
            (json!(2), json!("started\n"))
        ]
    );

    // A template, issued with its own args, then with overriding ones; history is newest first.
    let template = json!({ "name": "flush cache", "command": "flush", "args": { "all": true }, "timeout_seconds": 30 });
    let (status, created) = server
        .post("/api/v1/command-templates", &op, &template)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let template_id = created["template_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    server
        .post(&path, &op, &json!({ "template_id": template_id }))
        .await;
    server
        .post(
            &path,
            &op,
            &json!({ "template_id": template_id, "args": { "all": false } }),
        )
        .await;
    let delivered = poll(&server, &agent.token).await;
    let args: Vec<_> = delivered.iter().map(|c| c["args"].clone()).collect();
    assert_eq!(args, [json!({ "all": true }), json!({ "all": false })]);
    let history = history(&server, &agent.agent_id).await;
    let statuses: Vec<_> = history.iter().map(|c| c["status"].clone()).collect();
    assert_eq!(
        statuses,
        [json!("delivered"), json!("delivered"), json!("succeeded")]
    );

    let (status, _) = server
        .call(
            Method::DELETE,
            &format!("/api/v1/command-templates/{template_id}"),
            Some(&op),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server
        .post(&path, &op, &json!({ "template_id": template_id }))
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a deleted template cannot be issued"
    );
    let (status, _) = server
        .post(
            &path,
            &op,
            &json!({ "command": "x", "template_id": template_id }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn unanswered_commands_time_out_and_silent_agents_go_offline(server: TestServer) {
    let op = server.admin_key.clone();
    let agent = server.agent(&op, &["commands:poll"], 600).await;
    let path = format!("/api/v1/agents/{}/commands", agent.agent_id);
    server
        .post(
            &path,
            &op,
            &json!({ "command": "slow", "timeout_seconds": 1 }),
        )
        .await;
    assert_eq!(poll(&server, &agent.token).await.len(), 1);
    let (_, detail) = server
        .get(&format!("/api/v1/agents/{}", agent.agent_id), &op)
        .await;
    assert_eq!(detail["online"], json!(true));

    // The test server times out commands and marks agents offline after 1 s.
    let mut last = (Value::Null, Value::Null);
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let status = history(&server, &agent.agent_id)
            .await
            .first()
            .map(|c| c["status"].clone())
            .unwrap_or_default();
        let online = server
            .get(&format!("/api/v1/agents/{}", agent.agent_id), &op)
            .await
            .1["online"]
            .clone();
        last = (status, online);
        if last == (json!("timed_out"), json!(false)) {
            break;
        }
    }
    assert_eq!(last, (json!("timed_out"), json!(false)));
    let (_, log) = server
        .get(
            &format!("/api/v1/streams/agent-{}/events", agent.agent_id),
            &op,
        )
        .await;
    let types: Vec<_> = log["events"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["event_type"].clone())
        .collect();
    let presence: Vec<_> = types
        .iter()
        .filter(|t| t.as_str().is_some_and(|t| t.starts_with("AgentWent")))
        .collect();
    assert_eq!(
        presence,
        [&json!("AgentWentOnline"), &json!("AgentWentOffline")],
        "two polls, one transition each way"
    );
    // Polling again brings it back online.
    poll(&server, &agent.token).await;
    let (_, detail) = server
        .get(&format!("/api/v1/agents/{}", agent.agent_id), &op)
        .await;
    assert_eq!(detail["online"], json!(true));
}

async fn commands_stay_inside_their_tenant(server: TestServer) {
    let owner_agent = server
        .agent(&server.admin_key, &["commands:poll"], 600)
        .await;
    let (_, intruder_key) = server.tenant("intruder").await;
    let intruder = server.agent(&intruder_key, &["commands:poll"], 600).await;
    let path = format!("/api/v1/agents/{}/commands", owner_agent.agent_id);
    let (status, _) = server
        .post(&path, &intruder_key, &json!({ "command": "rm" }))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        server.get(&path, &intruder_key).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, issued) = server
        .post(&path, &server.admin_key, &json!({ "command": "ok" }))
        .await;
    let command_id = issued["command_id"].as_str().unwrap_or_default();
    assert_eq!(
        server
            .get(&format!("/api/v1/commands/{command_id}"), &intruder_key)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert!(poll(&server, &intruder.token).await.is_empty());
    let body = json!({ "success": true });
    let (status, _) = server
        .post(
            &format!("/api/v1/agents/me/commands/{command_id}/result"),
            &intruder.token,
            &body,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Templates too: another tenant can neither read, change, delete nor issue them.
    let template = json!({ "name": "t", "command": "c", "timeout_seconds": 5 });
    let (_, created) = server
        .post("/api/v1/command-templates", &server.admin_key, &template)
        .await;
    let template_path = format!(
        "/api/v1/command-templates/{}",
        created["template_id"].as_str().unwrap_or_default()
    );
    assert_eq!(
        server.get(&template_path, &intruder_key).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server
            .call(
                Method::PUT,
                &template_path,
                Some(&intruder_key),
                Some(&template)
            )
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server
            .call(Method::DELETE, &template_path, Some(&intruder_key), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (_, own_agent) = server.tenant("intruder-2").await;
    let intruder_agent = server.agent(&own_agent, &[], 600).await;
    let issue = json!({ "template_id": created["template_id"] });
    let (status, _) = server
        .post(
            &format!("/api/v1/agents/{}/commands", intruder_agent.agent_id),
            &own_agent,
            &issue,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another tenant's template cannot be issued"
    );
    assert_eq!(
        server.get(&template_path, &server.admin_key).await.0,
        StatusCode::OK
    );

    let no_permission = server.agent(&server.admin_key, &[], 600).await;
    assert_eq!(
        server
            .get("/api/v1/agents/me/commands", &no_permission.token)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
}

async fn online_as_of(server: &TestServer, op: &str, agent_id: &str, position: u64) -> Value {
    let path = format!("/api/v1/agent-stats/{agent_id}?min_position={position}");
    let (status, stats) = server.get(&path, op).await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    stats["online"].clone()
}

/// Both polls answer with the position of what the poll did, so a reader
/// passing it as `min_position` sees the agent online at once; an empty task
/// poll (204, no body) carries it in a header.
async fn a_poll_answers_with_the_position_to_read_its_effects(server: TestServer) {
    let (_, op) = server.tenant("poll-position").await;
    let agent = server.agent(&op, &["commands:poll"], 600).await;
    let (status, answer) = server.get("/api/v1/agents/me/commands", &agent.token).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let position = answer["position"].as_u64().unwrap_or(0);
    assert!(position > 0, "{answer}");
    assert_eq!(
        online_as_of(&server, &op, &agent.agent_id, position).await,
        json!(true)
    );

    let worker = server.agent(&op, &["tasks:claim"], 600).await;
    let response = reqwest::Client::new()
        .get(server.url("/api/v1/agents/me/tasks/next"))
        .bearer_auth(&worker.token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let position: u64 = header(&response, "agentledger-position")
        .parse()
        .unwrap_or(0);
    assert!(position > 0, "an empty task poll names its position");
    assert_eq!(
        online_as_of(&server, &op, &worker.agent_id, position).await,
        json!(true)
    );
}

on_every_backend!(
    a_poll_answers_with_the_position_to_read_its_effects,
    commands_are_delivered_once_reported_and_finished,
    unanswered_commands_time_out_and_silent_agents_go_offline,
    commands_stay_inside_their_tenant,
);
