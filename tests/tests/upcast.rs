//! An event stored under an older schema of its type is read as the current
//! one everywhere the log is read: the aggregate that owns it loads, the read
//! models apply it without stopping, and the alert policy sees its fields.
//! `AgentWentOffline` v1 carried `last_seen`; v2 carries `last_seen_at`.

use std::time::Duration;

use agentledger_domain::agent::Agent;
use agentledger_domain::{Actor, Aggregate};
use agentledger_store::{ExpectedVersion, NewEvent};
use agentledger_tests::{TestServer, on_every_backend};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

/// The alert raised about the event `cause`, once the reactors get to it.
async fn alert_caused_by(server: &TestServer, cause: Uuid) -> Value {
    let subject = json!(format!("offline:{cause}"));
    for _ in 0..200 {
        let raised = server.raised_alerts().await;
        if let Some(alert) = raised.into_iter().find(|a| a["subject"] == subject) {
            return alert;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no alert about {subject}");
}

async fn a_v1_event_in_the_log_is_read_as_the_current_type(server: TestServer) {
    // Given an online agent
    let (tenant_id, op) = server.tenant("old-events").await;
    let agent = server.agent(&op, &["commands:poll"], 600).await;
    let (status, polled) = server.get("/api/v1/agents/me/commands", &agent.token).await;
    assert_eq!(status, StatusCode::OK, "{polled}");

    // When an offline event in its first shape is put straight into the log
    let stream = format!("agent-{}", agent.agent_id);
    let mut old = NewEvent::new(
        tenant_id.parse().unwrap_or_default(),
        Actor::system("presence-monitor"),
        "AgentWentOffline",
        json!({ "last_seen": "2026-01-02T03:04:05Z" }),
    );
    old.schema_version = 1;
    let event_id = old.event_id;
    let appended = server
        .state
        .store
        .append(&stream, ExpectedVersion::Any, vec![old])
        .await;
    let position = match appended {
        Ok(outcome) => outcome.last_position(),
        Err(e) => panic!("append: {e}"),
    };

    // Then it stays stored as it was written
    let (_, stored) = server
        .get(
            &format!("/api/v1/streams/{stream}/events"),
            &server.admin_key,
        )
        .await;
    let last = stored["events"]
        .as_array()
        .and_then(|events| events.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (&last["schema_version"], &last["payload"]["last_seen"]),
        (&json!(1), &json!("2026-01-02T03:04:05Z")),
        "{stored}"
    );

    // And the agent's aggregate loads with it folded in
    let loaded = match server.state.handler.load_stream::<Agent>(&stream).await {
        Ok(loaded) => loaded,
        Err(e) => panic!("the agent does not load: {e}"),
    };
    assert!(!loaded.state.online);
    assert_eq!(loaded.version, last["stream_version"].as_u64());

    // And an auditor's past state of the stream folds it too
    let (status, past) = server
        .get(
            &format!("/api/v1/streams/{stream}/state"),
            &server.admin_key,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{past}");
    assert_eq!(past["state"]["online"], json!(false), "{past}");

    // And every read model applies it: the agent is shown offline
    server.models_reach(Some(position)).await;
    let path = format!(
        "/api/v1/agent-stats/{}?min_position={position}",
        agent.agent_id
    );
    let (status, stats) = server.get(&path, &op).await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!(stats["online"], json!(false), "{stats}");

    // And the alert policy reads the old field under its new name
    let alert = alert_caused_by(&server, event_id).await;
    assert_eq!(
        alert["detail"],
        json!("last seen 2026-01-02 03:04:05 UTC"),
        "{alert}"
    );
}

/// A raw append is checked at the version it will be stored at: a v1 payload
/// without the v1 field, or a version this build does not know, is refused
/// with the reason.
async fn raw_appends_are_checked_at_their_schema_version(server: TestServer) {
    let (tenant_id, _) = server.tenant("raw-versions").await;
    let stream = Agent::stream_id(agentledger_domain::ids::AgentId::new());
    let raw = |version: Option<i32>, payload: Value| {
        json!({ "events": [{
            "event_type": "AgentWentOffline", "schema_version": version, "tenant_id": tenant_id,
            "actor": { "kind": "operator", "id": "admin" }, "payload": payload }] })
    };
    let path = format!("/api/v1/streams/{stream}/events");
    let current = json!({ "last_seen_at": "2026-01-02T03:04:05Z" });
    for (body, refusal) in [
        (raw(Some(9), current.clone()), "schema version 9"),
        (raw(None, current.clone()), "has no `last_seen`"),
    ] {
        let (status, problem) = server.post(&path, &server.admin_key, &body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert!(problem.to_string().contains(refusal), "{problem}");
    }
    for body in [
        raw(Some(2), current),
        raw(None, json!({ "last_seen": "2026-01-02T03:04:05Z" })),
    ] {
        let (status, answer) = server.post(&path, &server.admin_key, &body).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }
    let position = server
        .state
        .store
        .read_stream(&stream, 0, 10)
        .await
        .ok()
        .and_then(|events| events.last().map(|e| e.position))
        .unwrap_or(u64::MAX);
    server.models_reach(Some(position)).await;
}

on_every_backend!(
    a_v1_event_in_the_log_is_read_as_the_current_type,
    raw_appends_are_checked_at_their_schema_version,
);
