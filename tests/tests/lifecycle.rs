//! Lifecycle commands (start, stop, restart, upgrade, a new certificate) and
//! their progress, over HTTP.

use agentledger_tests::{TestAgent, TestServer, on_every_backend};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A self-signed P-256 certificate for `agent.example.com`.
const CERTIFICATE: &str = "-----BEGIN CERTIFICATE-----
MIIBjjCCATWgAwIBAgIUXdGSv+T6OWtAOVaBbBh4Fj14Q0cwCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRYWdlbnQuZXhhbXBsZS5jb20wIBcNMjYxMjA3MDYzNjQ5WhgP
MjEyNjExMTMwNjM2NDlaMBwxGjAYBgNVBAMMEWFnZW50LmV4YW1wbGUuY29tMFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEsd8/+9qovXaFnwg76Zceu/Kwhzr0X8f9
e1ASVmoyQ+tAe3T/8I5Ca2Wzuj2P/+9xona5BqyOSlIrF18OF58QbKNTMFEwHQYD
VR0OBBYEFCCz7hBKSpPDYbxfuz8JqAK7Kf0CMB8GA1UdIwQYMBaAFCCz7hBKSpPD
Ybxfuz8JqAK7Kf0CMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIg
X6zT3/wihD9N5oDMxvTdEfrcgPFCY8xevsTVs1i03+wCIFt7Yw2L+WNJpFQn8kpA
rLwTzwmazPssILkhQOj/JEd9
-----END CERTIFICATE-----
";

/// `openssl x509 -noout -fingerprint -sha256` of it, lower case, no colons.
const FINGERPRINT: &str = "sha256:5a16d2a37ff5c4028344953dbdb298624f7b1dde79f8b695e132a9ad70f61012";

const PACKAGE: &str = "https://downloads.example.com/agent/2.4.1/agent.tar.gz";

fn checksum() -> String {
    format!("sha256:{}", "9c".repeat(32))
}

fn upgrade() -> Value {
    json!({ "action": "upgrade", "version": "2.4.1", "package_url": PACKAGE, "checksum": checksum() })
}

fn lifecycle_path(agent: &TestAgent) -> String {
    format!("/api/v1/agents/{}/lifecycle", agent.agent_id)
}

fn progress_path(command_id: &str) -> String {
    format!("/api/v1/agents/me/commands/{command_id}/progress")
}

/// Issues `body` to `agent` as `operator`: the new command's id.
async fn issue(server: &TestServer, operator: &str, agent: &TestAgent, body: &Value) -> String {
    let (status, issued) = server.post(&lifecycle_path(agent), operator, body).await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    issued["command_id"].as_str().unwrap_or_default().to_owned()
}

async fn poll(server: &TestServer, agent: &TestAgent) -> Vec<Value> {
    let (status, answer) = server.get("/api/v1/agents/me/commands", &agent.token).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["commands"].as_array().cloned().unwrap_or_default()
}

async fn report(
    server: &TestServer,
    agent: &TestAgent,
    command_id: &str,
    stage: &str,
    percent: u64,
) -> (StatusCode, Value) {
    let body = json!({ "stage": stage, "percent": percent });
    server
        .post(&progress_path(command_id), &agent.token, &body)
        .await
}

async fn finish(server: &TestServer, agent: &TestAgent, command_id: &str) -> StatusCode {
    let body = json!({ "success": true, "exit_code": 0 });
    let path = format!("/api/v1/agents/me/commands/{command_id}/result");
    server.post(&path, &agent.token, &body).await.0
}

/// The agent's command history as `operator` sees it, once the read model
/// has every event so far.
async fn history(server: &TestServer, operator: &str, agent: &TestAgent) -> Vec<Value> {
    let head = server.state.store.head_position().await.unwrap_or_default();
    let path = format!(
        "/api/v1/agents/{}/commands?min_position={head}",
        agent.agent_id
    );
    let (status, page) = server.get(&path, operator).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"].as_array().cloned().unwrap_or_default()
}

fn assert_validation(status: StatusCode, problem: &Value, mentions: &str) {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["type"], json!("/problems/validation"), "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains(mentions)),
        "{problem} does not mention `{mentions}`"
    );
}

async fn an_upgrade_is_handed_over_reported_on_and_finished(server: TestServer) {
    let (_, op) = server.tenant("lifecycle-upgrade").await;
    let agent = server.agent(&op, &["commands:poll"], 600).await;
    let mut body = upgrade();
    body["timeout_seconds"] = json!(900);
    let command_id = issue(&server, &op, &agent, &body).await;

    let delivered = poll(&server, &agent).await;
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    let fields = json!({ "version": "2.4.1", "package_url": PACKAGE, "checksum": checksum() });
    assert_eq!(
        (
            delivered[0]["command_id"].clone(),
            delivered[0]["command"].clone(),
            delivered[0]["args"].clone(),
            delivered[0]["action"].clone(),
        ),
        (json!(command_id), json!("upgrade"), fields, upgrade())
    );

    for (stage, percent) in [("download", 30), ("install", 80)] {
        let (status, done) = report(&server, &agent, &command_id, stage, percent).await;
        assert_eq!(status, StatusCode::OK, "{done}");
        assert!(done["position"].as_u64().is_some_and(|p| p > 0), "{done}");
    }
    let row = history(&server, &op, &agent).await;
    assert_eq!(
        (
            row[0]["status"].clone(),
            row[0]["progress_stage"].clone(),
            row[0]["progress_percent"].clone()
        ),
        (json!("delivered"), json!("install"), json!(80))
    );

    assert_eq!(finish(&server, &agent, &command_id).await, StatusCode::OK);
    let (status, problem) = report(&server, &agent, &command_id, "cleanup", 100).await;
    assert_eq!(
        (status, problem["current_state"].clone()),
        (StatusCode::CONFLICT, json!("succeeded")),
        "{problem}"
    );

    let (status, detail) = server
        .get(&format!("/api/v1/commands/{command_id}"), &op)
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
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
            "CommandProgressReported",
            "CommandProgressReported",
            "CommandFinished"
        ]
    );
    assert_eq!(events[0]["payload"]["action"], upgrade());
    assert_eq!(events[0]["payload"]["timeout_seconds"], json!(900));
    let reports: Vec<_> = events[2..4].iter().map(|e| e["payload"].clone()).collect();
    assert_eq!(
        reports,
        [
            json!({ "stage": "download", "percent": 30 }),
            json!({ "stage": "install", "percent": 80 })
        ]
    );
    let row = history(&server, &op, &agent).await;
    assert_eq!(
        (
            row[0]["status"].clone(),
            row[0]["command"].clone(),
            row[0]["progress_stage"].clone(),
            row[0]["progress_percent"].clone()
        ),
        (
            json!("succeeded"),
            json!("upgrade"),
            json!("install"),
            json!(80)
        )
    );
}

async fn start_stop_restart_and_a_certificate_travel_as_commands(server: TestServer) {
    let (_, op) = server.tenant("lifecycle-kinds").await;
    let agent = server.agent(&op, &["commands:poll"], 600).await;
    for action in ["start", "stop", "restart"] {
        issue(&server, &op, &agent, &json!({ "action": action })).await;
    }
    let certificate = json!({ "action": "update_certificate", "certificate_pem": CERTIFICATE });
    issue(&server, &op, &agent, &certificate).await;

    let delivered = poll(&server, &agent).await;
    let names: Vec<_> = delivered.iter().map(|c| c["command"].clone()).collect();
    assert_eq!(
        names,
        [
            json!("start"),
            json!("stop"),
            json!("restart"),
            json!("update_certificate")
        ]
    );
    assert_eq!(delivered[0]["args"], json!({}));
    assert_eq!(delivered[0]["action"], json!({ "action": "start" }));
    assert_eq!(
        delivered[3]["args"],
        json!({ "certificates": 1, "fingerprint": FINGERPRINT }),
        "the PEM is the action's, not repeated in the args"
    );
    assert_eq!(delivered[3]["action"], certificate);

    // A plain command is handed over as before, without an action, and
    // takes no progress report.
    let (status, plain) = server
        .post(
            &format!("/api/v1/agents/{}/commands", agent.agent_id),
            &op,
            &json!({ "command": "flush" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{plain}");
    let delivered = poll(&server, &agent).await;
    assert!(
        delivered.len() == 1 && delivered[0].get("action").is_none(),
        "{delivered:?}"
    );
    let plain_id = plain["command_id"].as_str().unwrap_or_default();
    let (status, problem) = report(&server, &agent, plain_id, "flush", 50).await;
    assert_validation(status, &problem, "lifecycle");
}

async fn lifecycle_commands_refuse_what_breaks_their_rules(server: TestServer) {
    let (_, op) = server.tenant("lifecycle-rules").await;
    let agent = server.agent(&op, &["commands:poll"], 600).await;
    let path = lifecycle_path(&agent);

    let mut bad_checksum = upgrade();
    bad_checksum["checksum"] = json!("sha256:1234");
    let mut ftp = upgrade();
    ftp["package_url"] = json!("ftp://downloads.example.com/agent.tar.gz");
    let with_key = json!({
        "action": "update_certificate",
        "certificate_pem": format!(
            "{CERTIFICATE}-----BEGIN PRIVATE KEY-----\nMAMCAQE=\n-----END PRIVATE KEY-----\n"
        )
    });
    for (body, mentions) in [
        (bad_checksum, "checksum"),
        (ftp, "https or http"),
        (with_key, "private key"),
    ] {
        let (status, problem) = server.post(&path, &op, &body).await;
        assert_validation(status, &problem, mentions);
    }
    let (status, log) = server
        .get(
            "/api/v1/events?types=CommandIssued&limit=1000",
            &server.admin_key,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    assert!(
        !log.to_string().contains("PRIVATE KEY"),
        "a refused key is never stored"
    );
    let (status, _) = server
        .post(&path, &op, &json!({ "action": "reboot" }))
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "an action the API does not know"
    );
    for misspelt in [
        json!({ "action": "restart", "timeout_second": 60 }),
        json!({ "action": "restart", "certificate_pem": "x" }),
    ] {
        let (status, _) = server.post(&path, &op, &misspelt).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "a field the action does not take: {misspelt}"
        );
    }

    let command_id = issue(&server, &op, &agent, &json!({ "action": "restart" })).await;
    let (status, problem) = report(&server, &agent, &command_id, "stopping", 10).await;
    assert_eq!(
        (status, problem["current_state"].clone()),
        (StatusCode::CONFLICT, json!("issued")),
        "no progress before the agent was handed the command: {problem}"
    );
    assert_eq!(poll(&server, &agent).await.len(), 1);
    let (status, problem) = report(&server, &agent, &command_id, "stopping", 101).await;
    assert_validation(status, &problem, "percent");
    let (status, problem) = report(&server, &agent, &command_id, "stop\u{0}ping", 10).await;
    assert_validation(status, &problem, "U+0000");
    let (status, problem) = report(&server, &agent, &command_id, "", 10).await;
    assert_validation(status, &problem, "stage");
    let (status, _) = report(&server, &agent, &command_id, "stopping", 10).await;
    assert_eq!(status, StatusCode::OK);
}

async fn lifecycle_commands_stay_with_their_agent_and_tenant(server: TestServer) {
    let (tenant, op) = server.tenant("lifecycle-owner").await;
    let agent = server.agent(&op, &["commands:poll"], 600).await;
    let neighbour = server.agent(&op, &["commands:poll"], 600).await;
    let (_, intruder_key) = server.tenant("lifecycle-intruder").await;
    let intruder = server.agent(&intruder_key, &["commands:poll"], 600).await;

    let viewer = server.key(&tenant, "viewer").await;
    let (status, problem) = server
        .post(&lifecycle_path(&agent), &viewer, &upgrade())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    let (status, problem) = server
        .post(&lifecycle_path(&agent), &intruder_key, &upgrade())
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");

    let command_id = issue(&server, &op, &agent, &upgrade()).await;
    assert!(poll(&server, &intruder).await.is_empty());
    assert!(poll(&server, &neighbour).await.is_empty());
    assert_eq!(poll(&server, &agent).await.len(), 1);
    for other in [&neighbour, &intruder] {
        let (status, problem) = report(&server, other, &command_id, "download", 5).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    }
    let (status, _) = report(&server, &agent, &command_id, "download", 5).await;
    assert_eq!(status, StatusCode::OK);
    // An operator reports no progress: only the agent knows how far it got.
    let (status, problem) = server
        .post(
            &progress_path(&command_id),
            &op,
            &json!({ "stage": "download", "percent": 6 }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
}

on_every_backend!(
    an_upgrade_is_handed_over_reported_on_and_finished,
    start_stop_restart_and_a_certificate_travel_as_commands,
    lifecycle_commands_refuse_what_breaks_their_rules,
    lifecycle_commands_stay_with_their_agent_and_tenant,
);
