//! The reactors stop before an event the alert policy cannot read, instead
//! of passing over it: their checkpoint stays just before it, and nothing
//! after it is reacted to.

use std::time::Duration;

use agentledger_domain::Actor;
use agentledger_domain::reports::RUNS;
use agentledger_projections::reactor_checkpoint;
use agentledger_store::{ExpectedVersion, NewEvent};
use agentledger_tests::{TestServer, on_every_backend};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

async fn checkpoint(server: &TestServer) -> Option<u64> {
    reactor_checkpoint::load(&server.state.database, "alerts_and_batches")
        .await
        .ok()
        .flatten()
        .map(|(position, _)| position)
}

async fn raised_subjects(server: &TestServer) -> Vec<Value> {
    let raised = server.raised_alerts().await;
    raised.into_iter().map(|a| a["subject"].clone()).collect()
}

async fn an_undecodable_event_stops_the_reactors_before_it(server: TestServer) {
    let (tenant_id, _) = server.tenant("reactor-stop").await;
    let tenant: Uuid = tenant_id.parse().unwrap_or_default();
    let agent = Uuid::now_v7();
    let run =
        |payload: Value| NewEvent::new(tenant, Actor::system("test"), "LlmRunRecorded", payload);
    let broken = run(json!({ "agent_id": agent, "prompt_tokens": "many" }));
    let failed = run(json!({
        "agent_id": agent, "app_type": "moderation", "trigger_type": "t", "member_id": null,
        "model": "m", "prompt_tokens": 1, "completion_tokens": 1, "cost_micros": 1,
        "latency_ms": 1, "status": "failed", "error_message": "boom", "session_id": null,
        "prompt": null, "response": null,
    }));
    let after = failed.event_id;
    let appended = server
        .state
        .store
        .append(
            &RUNS.stream(agent),
            ExpectedVersion::Any,
            vec![broken, failed],
        )
        .await;
    let stopped_before = match appended {
        Ok(outcome) => outcome.last_position() - 2,
        Err(e) => panic!("append: {e}"),
    };

    // The reactors save what came before the event and stop there.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while checkpoint(&server).await != Some(stopped_before) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reactors did not stop at {stopped_before}: {:?}",
            checkpoint(&server).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Retrying, they go no further: the failed run after it raises nothing.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(checkpoint(&server).await, Some(stopped_before));
    let subject = json!(format!("run:{after}"));
    assert!(!raised_subjects(&server).await.contains(&subject));

    // And they say so where a stopped read model does.
    let (status, ready) = server.get("/ready", &server.admin_key).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
    assert!(ready.to_string().contains("alerts_and_batches"), "{ready}");
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("agentledger_projection_stalled{projection=\"alerts_and_batches\"} 1"),
        "{metrics}"
    );
}

on_every_backend!(an_undecodable_event_stops_the_reactors_before_it);
