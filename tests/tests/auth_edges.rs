//! Login and token edges: what the login and refresh budgets count, failures
//! for agent ids that do not exist, token lifetimes, disabled agents, the
//! `Bearer` scheme's case, and secret rotation across tenants.
//!
//! The server tells callers apart by their socket address, so a client bound
//! to another loopback address (127.0.0.2, …) acts as another machine.

use std::net::IpAddr;

use agentledger_commands::tokens::{Claims, TokenIssuer};
use agentledger_tests::{JWT_SECRET, TestServer, on_every_backend, read};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

const LOGIN: &str = "/api/v1/agents/auth";
const REFRESH: &str = "/api/v1/agents/refresh";

/// A client whose connections come from `address`.
fn client_from(address: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(Some(IpAddr::from(address)))
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"))
}

async fn post_from(
    server: &TestServer,
    client: &reqwest::Client,
    path: &str,
    body: &Value,
) -> (StatusCode, Value) {
    read(client.post(server.url(path)).json(body).send().await).await
}

async fn login_from(
    server: &TestServer,
    client: &reqwest::Client,
    agent_id: &str,
    secret: &str,
) -> (StatusCode, Value) {
    let body = json!({ "agent_id": agent_id, "secret": secret });
    post_from(server, client, LOGIN, &body).await
}

const WRONG_SECRET: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// More attempts than any budget lets through in the time a test takes.
const BOUND: usize = 200;

/// Sends attempts (numbered from 0) until one is answered 429; every answer
/// before must be `expected`. Returns how many there were: at least `budget`
/// on a server that counts what it should, and more only when the run was
/// slow enough for the budget to refill a little meanwhile.
async fn until_limited<F, Fut>(budget: usize, expected: StatusCode, mut attempt: F) -> usize
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = (StatusCode, Value)>,
{
    for n in 0..BOUND {
        let (status, body) = attempt(n).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(body["type"], json!("/problems/rate-limited"));
            return n;
        }
        assert_eq!(status, expected, "attempt {n} of {budget}: {body}");
    }
    panic!("no 429 after {BOUND} attempts (budget {budget})");
}

async fn head(server: &TestServer) -> u64 {
    let (status, ready) = server.call(Method::GET, "/ready", None, None).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    ready["store"]["head_position"].as_u64().unwrap_or_default()
}

/// A counter's value in `/metrics`; 0 when it is not there.
async fn metric(server: &TestServer, series: &str) -> f64 {
    let text = server.metrics().await;
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn events_of_type(server: &TestServer, event_type: &str) -> Vec<Value> {
    let (status, log) = server
        .get(
            &format!("/api/v1/events?types={event_type}&limit=1000"),
            &server.admin_key,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    log["events"].as_array().cloned().unwrap_or_default()
}

/// Only failures spend the per-address budget: a fleet behind one address
/// (a NAT, or every agent logging in again after a restart) all get in.
async fn many_agents_behind_one_address_all_log_in(server: TestServer) {
    let agents = futures::future::join_all(
        (0..35).map(|_| server.agent(&server.admin_key, &["tasks:claim"], 600)),
    )
    .await;
    let server = server.restart().await;
    for agent in &agents {
        let (status, tokens) =
            login_from(&server, &server.http, &agent.agent_id, &agent.secret).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
    }
}

/// Someone who knows an agent's id and fails from their own address spends
/// that address's budget for the agent, not the agent's everywhere.
async fn failures_from_one_address_do_not_lock_the_agent_out_elsewhere(server: TestServer) {
    let agent = server.agent(&server.admin_key, &["tasks:claim"], 600).await;
    let attacker = client_from([127, 0, 0, 1]);
    let refused = until_limited(10, StatusCode::UNAUTHORIZED, |_| {
        login_from(&server, &attacker, &agent.agent_id, WRONG_SECRET)
    })
    .await;
    assert!(refused >= 10, "the first login did not count: {refused}");

    let elsewhere = client_from([127, 0, 0, 2]);
    let (status, tokens) = login_from(&server, &elsewhere, &agent.agent_id, &agent.secret).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");

    // One address spraying ids is held to its own budget of failures, which
    // its successes do not spend.
    let sprayer = client_from([127, 0, 0, 3]);
    let (status, _) = login_from(&server, &sprayer, &agent.agent_id, &agent.secret).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<String> = (0..200).map(|_| Uuid::now_v7().to_string()).collect();
    let refused = until_limited(30, StatusCode::UNAUTHORIZED, |n| {
        login_from(&server, &sprayer, &ids[n], WRONG_SECRET)
    })
    .await;
    assert!(refused >= 30, "the success did not count: {refused}");
    let (status, _) = login_from(&server, &elsewhere, &agent.agent_id, &agent.secret).await;
    assert_eq!(status, StatusCode::OK, "other addresses are not held back");
}

/// Failed logins for ids no agent has leave the log alone (anyone could
/// grow it without credentials) and show in `/metrics`; failures for an
/// agent that exists stay audit facts on its stream.
async fn failed_logins_for_unknown_agents_are_counted_not_appended(server: TestServer) {
    let unknown = "agentledger_login_failures_total{reason=\"unknown_agent\"}";
    let wrong = "agentledger_login_failures_total{reason=\"wrong_secret\"}";
    let before = (head(&server).await, metric(&server, unknown).await);
    for _ in 0..3 {
        let (status, problem) = login_from(
            &server,
            &server.http,
            &Uuid::now_v7().to_string(),
            WRONG_SECRET,
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
        assert_eq!(problem["detail"], json!("invalid agent credentials"));
    }
    assert_eq!(head(&server).await, before.0, "the log did not grow");
    assert!(
        events_of_type(&server, "AgentAuthenticationFailed")
            .await
            .is_empty()
    );
    assert_eq!(metric(&server, unknown).await, before.1 + 3.0);

    let agent = server.agent(&server.admin_key, &["tasks:claim"], 600).await;
    let wrong_before = metric(&server, wrong).await;
    let (status, problem) = login_from(&server, &server.http, &agent.agent_id, WRONG_SECRET).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        problem["detail"],
        json!("invalid agent credentials"),
        "the answer does not tell a wrong secret from an unknown id"
    );
    assert_eq!(metric(&server, wrong).await, wrong_before + 1.0);
    let recorded = events_of_type(&server, "AgentAuthenticationFailed").await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        recorded[0]["stream_id"],
        json!(format!("agent-{}", agent.agent_id))
    );
}

/// Each agent gets a budget of refreshes, and each address one of failed
/// refreshes; neither can be spent by someone else's failures.
async fn refreshes_are_rate_limited(server: TestServer) {
    let agent = server.agent(&server.admin_key, &["tasks:claim"], 600).await;
    let forger = client_from([127, 0, 0, 4]);
    let forged: Vec<Value> = (0..200)
        .map(|n| json!({ "refresh_token": format!("alr_{n}") }))
        .collect();
    let refused = until_limited(30, StatusCode::UNAUTHORIZED, |n| {
        post_from(&server, &forger, REFRESH, &forged[n])
    })
    .await;
    assert!(refused >= 30, "{refused}");

    // The agent refreshes from another address, the forger's failures aside.
    let mut refresh_token = agent.refresh_token.clone();
    let mut refreshed = 0;
    let retry_after = loop {
        let response = server
            .http
            .post(server.url(REFRESH))
            .json(&json!({ "refresh_token": refresh_token }))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let retry_after = agentledger_tests::header(&response, "retry-after");
        let (status, tokens) = read(Ok(response)).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            break retry_after;
        }
        assert_eq!(status, StatusCode::OK, "{refreshed}: {tokens}");
        refresh_token = tokens["refresh_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        refreshed += 1;
        assert!(refreshed <= BOUND, "refreshes are never limited");
    };
    assert!(refreshed >= 10, "{refreshed}");
    assert!(
        retry_after.parse::<u64>().is_ok_and(|s| s >= 1),
        "{retry_after}"
    );
    // Logins have budgets of their own.
    let (status, tokens) = login_from(&server, &server.http, &agent.agent_id, &agent.secret).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
}

/// A token signed with the right key but claiming to live ten years is
/// refused: no access token outlives the 15 minutes the server gives.
async fn access_tokens_claiming_a_long_life_are_refused(server: TestServer) {
    let agent = server.agent(&server.admin_key, &["tasks:claim"], 600).await;
    let issuer = TokenIssuer::new(JWT_SECRET);
    let claims: Claims = issuer
        .verify(&agent.token)
        .unwrap_or_else(|e| panic!("the server's token: {e}"));
    let sign = |claims: &Claims| issuer.sign(claims).unwrap_or_else(|e| panic!("sign: {e}"));
    let (status, me) = server.get("/api/v1/agents/me", &sign(&claims)).await;
    assert_eq!(status, StatusCode::OK, "the same claims, signed here: {me}");
    let decade = Claims {
        exp: claims.exp + 10 * 365 * 24 * 3600,
        ..claims.clone()
    };
    let (status, problem) = server.get("/api/v1/agents/me", &sign(&decade)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    let backdated = Claims {
        iat: claims.iat - 10 * 365 * 24 * 3600,
        exp: claims.exp + 10 * 365 * 24 * 3600,
        ..claims
    };
    let (status, _) = server.get("/api/v1/agents/me", &sign(&backdated)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// Enabling a disabled agent does not bring back its access and refresh
/// tokens: it logs in again.
async fn tokens_from_before_a_disable_stay_dead_after_enabling(server: TestServer) {
    let agent = server.agent(&server.admin_key, &["tasks:claim"], 600).await;
    let disable = format!("/api/v1/agents/{}/disable", agent.agent_id);
    let enable = format!("/api/v1/agents/{}/enable", agent.agent_id);
    for path in [&disable, &enable] {
        let (status, done) = server
            .call(Method::POST, path, Some(&server.admin_key), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{path}: {done}");
    }
    let (status, problem) = server.get("/api/v1/agents/me", &agent.token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    let (status, _) = server
        .call(
            Method::POST,
            REFRESH,
            None,
            Some(&json!({ "refresh_token": agent.refresh_token })),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, tokens) = login_from(&server, &server.http, &agent.agent_id, &agent.secret).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let token = tokens["access_token"].as_str().unwrap_or_default();
    let (status, me) = server.get("/api/v1/agents/me", token).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["enabled"], json!(true));
}

/// RFC 9110 makes the authentication scheme case-insensitive.
async fn the_bearer_scheme_is_case_insensitive(server: TestServer) {
    let agent = server.agent(&server.admin_key, &["tasks:claim"], 600).await;
    let agent_path = format!("/api/v1/agents/{}", agent.agent_id);
    for (scheme, path, token) in [
        ("bearer", "/api/v1/agents/me", &agent.token),
        ("BEARER", "/api/v1/agents/me", &agent.token),
        ("bearer", agent_path.as_str(), &server.admin_key),
        ("bEaReR", agent_path.as_str(), &server.admin_key),
    ] {
        let response = server
            .http
            .get(server.url(path))
            .header("authorization", format!("{scheme} {token}"))
            .send()
            .await;
        let (status, body) = read(response).await;
        assert_eq!(status, StatusCode::OK, "{scheme} on {path}: {body}");
        assert_eq!(body["agent_id"], json!(agent.agent_id));
    }
    for malformed in [
        "Basic abc".to_owned(),
        format!("Bearer{}", agent.token),
        "bearer ".to_owned(),
    ] {
        let response = server
            .http
            .get(server.url("/api/v1/agents/me"))
            .header("authorization", malformed.as_str())
            .send()
            .await;
        let (status, _) = read(response).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{malformed}");
    }
}

/// Rotating the secret of another tenant's agent answers 404 like an id no
/// agent has, and changes nothing: the tenant is checked before any new
/// secret is made.
async fn rotating_another_tenants_agent_secret_is_not_found(server: TestServer) {
    let agent = server.agent(&server.admin_key, &["tasks:claim"], 600).await;
    let (_, intruder_key) = server.tenant("intruder").await;
    let before = events_of_type(&server, "AgentSecretRotated").await.len();
    for agent_id in [agent.agent_id.clone(), Uuid::now_v7().to_string()] {
        let (status, problem) = server
            .post(
                &format!("/api/v1/agents/{agent_id}/secret"),
                &intruder_key,
                &json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
        assert_eq!(problem["type"], json!("/problems/not-found"));
        assert_eq!(problem["detail"], json!("agent not found"));
    }
    assert_eq!(
        events_of_type(&server, "AgentSecretRotated").await.len(),
        before
    );
    let (status, _) = login_from(&server, &server.http, &agent.agent_id, &agent.secret).await;
    assert_eq!(status, StatusCode::OK, "the secret is unchanged");
}

on_every_backend!(
    many_agents_behind_one_address_all_log_in,
    failures_from_one_address_do_not_lock_the_agent_out_elsewhere,
    failed_logins_for_unknown_agents_are_counted_not_appended,
    refreshes_are_rate_limited,
    access_tokens_claiming_a_long_life_are_refused,
    tokens_from_before_a_disable_stay_dead_after_enabling,
    the_bearer_scheme_is_case_insensitive,
    rotating_another_tenants_agent_secret_is_not_found,
);
