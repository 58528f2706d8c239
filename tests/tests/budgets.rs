//! Budgets of the tenant, of an agent and of a model: limits per day and
//! month of the tenant, warning thresholds alerting once per period each,
//! and the hard stop that holds an agent's task claims and run reports back
//! until the period rolls over (on a clock the test moves) or the limit is
//! raised.

use std::time::Duration;

use agentledger_commands::alerts::alert_id;
use agentledger_domain::delivery::RetrySchedule;
use agentledger_store::testing::TestDatabase;
use agentledger_tests::receiver::Receiver;
use agentledger_tests::{
    Options, TestAgent, TestServer, header, on_every_backend, on_every_database,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn run(model: &str, tokens: u64, cost_usd: f64) -> Value {
    json!({
        "app_type": "moderation", "trigger_type": "schedule", "model": model, "prompt_tokens": tokens,
        "completion_tokens": 0, "cost_usd": cost_usd, "latency_ms": 5, "status": "success"
    })
}

async fn report(server: &TestServer, agent: &TestAgent, body: &Value) -> (StatusCode, Value) {
    server
        .post("/api/v1/agents/me/runs", &agent.token, body)
        .await
}

async fn claim(server: &TestServer, agent: &TestAgent) -> (StatusCode, Value) {
    server
        .get("/api/v1/agents/me/tasks/next", &agent.token)
        .await
}

/// Asks until the answer's status is `wanted` (the usage and budgets
/// models follow the log a moment behind), and returns that answer.
async fn until<F, Fut>(wanted: StatusCode, mut ask: F) -> Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = (StatusCode, Value)>,
{
    let mut last = (StatusCode::OK, Value::Null);
    for _ in 0..200 {
        last = ask().await;
        if last.0 == wanted {
            return last.1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never {wanted}; last {} {}", last.0, last.1);
}

/// The alerts raised about budgets, by subject.
async fn budget_alerts(server: &TestServer) -> Vec<Value> {
    server
        .raised_alerts()
        .await
        .into_iter()
        .filter(|a| a["source"] == json!("budget"))
        .collect()
}

async fn alert_raised(server: &TestServer, subject: &str) -> Value {
    let path = format!("/api/v1/alerts/{}", alert_id(subject));
    until(StatusCode::OK, || server.get(&path, &server.admin_key)).await
}

async fn an_agents_budget_stops_it_at_the_limit_until_the_day_ends_or_the_limit_is_raised(
    server: TestServer,
) {
    let (tenant, op) = server.tenant("budgeted").await;
    let perms = ["runs:write", "tasks:claim"];
    let agent = server.agent(&op, &perms, 6000).await;
    let other = server.agent(&op, &perms, 6000).await;
    let path = format!("/api/v1/agents/{}/budget", agent.agent_id);

    // Given a daily budget of 1000 tokens warning at 50% and stopping at the limit
    let body = json!({ "daily_tokens": 1000, "thresholds_percent": [50], "hard_stop": true });
    let (status, set) = server
        .call(Method::PUT, &path, Some(&op), Some(&body))
        .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    // (which applies once the budgets model has it)
    server.models_reach(set["position"].as_u64()).await;
    let (_, read) = server.get(&path, &op).await;
    assert_eq!(
        read,
        json!({ "daily_tokens": 1000, "monthly_tokens": null, "daily_cost_usd": null,
                "monthly_cost_usd": null, "thresholds_percent": [50], "hard_stop": true })
    );

    // When its runs use 600 and then 500 tokens
    let (status, _) = report(&server, &agent, &run("m", 600, 0.0)).await;
    assert_eq!(status, StatusCode::CREATED);
    let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let subject = |percent: u8| {
        format!(
            "budget:{tenant}:agent:{}:daily-tokens:{day}:{percent}",
            agent.agent_id
        )
    };
    let half = alert_raised(&server, &subject(50)).await;
    assert_eq!(half["events"][0]["payload"]["severity"], json!("warning"));
    let (status, _) = report(&server, &agent, &run("m", 500, 0.0)).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the run that reaches the limit is recorded"
    );
    let full = alert_raised(&server, &subject(100)).await;
    assert_eq!(full["events"][0]["payload"]["severity"], json!("critical"));

    // Then its task claims and run reports are refused at once, naming the budget
    let (status, refused) = claim(&server, &agent).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "refused at once: {refused}"
    );
    assert_eq!(refused["type"], json!("/problems/budget-exhausted"));
    assert_eq!(
        refused["budget"],
        json!({ "kind": "agent", "agent_id": agent.agent_id })
    );
    assert_eq!(
        (refused["used"].clone(), refused["limit"].clone()),
        (json!(1100), json!(1000))
    );
    let detail = refused["detail"].as_str().unwrap_or_default();
    assert!(
        detail.starts_with(&format!(
            "agent {}'s daily tokens budget is spent",
            agent.agent_id
        )),
        "{detail}"
    );
    let midnight = (chrono::Utc::now().date_naive() + chrono::Days::new(1))
        .format("%Y-%m-%dT00:00:00Z")
        .to_string();
    assert_eq!(refused["lifts_at"], json!(midnight));
    let response = server
        .http
        .post(server.url("/api/v1/agents/me/runs"))
        .bearer_auth(&agent.token)
        .json(&run("m", 1, 0.0))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = header(&response, "retry-after").parse().unwrap_or(0);
    assert!((1..=86_400).contains(&wait), "Retry-After {wait}");
    // and another agent of the tenant goes on
    let (status, _) = report(&server, &other, &run("m", 5000, 0.0)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(claim(&server, &other).await.0, StatusCode::NO_CONTENT);

    // The list shows the budget reached
    let (_, listed) = server.get("/api/v1/budgets", &op).await;
    let item = &listed["items"][0];
    assert_eq!(item["scope"]["agent_id"], json!(agent.agent_id));
    assert_eq!(item["daily_tokens"]["used"], json!(1100));
    assert_eq!(item["reached"], json!(true));
    assert_eq!(item["day"], json!(day));
    let (_, dashboard) = server.get("/api/v1/dashboard", &op).await;
    assert_eq!(dashboard["budgets"][0]["scope"], item["scope"]);

    // Raising the limit lifts the stop; lowering it again stops the agent
    let raise = json!({ "daily_tokens": 5000 });
    let (status, _) = server
        .call(Method::PATCH, &path, Some(&op), Some(&raise))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        claim(&server, &agent).await.0,
        StatusCode::NO_CONTENT,
        "lifted at once"
    );
    let (_, read) = server.get(&path, &op).await;
    assert_eq!(
        (
            read["thresholds_percent"].clone(),
            read["hard_stop"].clone()
        ),
        (json!([50]), json!(true)),
        "PATCH keeps what it does not name"
    );
    let lower = json!({ "daily_tokens": 1000 });
    server
        .call(Method::PATCH, &path, Some(&op), Some(&lower))
        .await;
    assert_eq!(
        claim(&server, &agent).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );

    // When the tenant's day rolls over, the stop lifts
    server.state.clock.advance(chrono::Duration::days(1));
    assert_eq!(claim(&server, &agent).await.0, StatusCode::NO_CONTENT);
    let (status, _) = report(&server, &agent, &run("m", 10, 0.0)).await;
    assert_eq!(status, StatusCode::CREATED);

    // Each threshold alerted exactly once in the period
    server.models_reach(None).await;
    let ours: Vec<String> = budget_alerts(&server)
        .await
        .into_iter()
        .filter(|a| a["tenant_id"] == json!(tenant))
        .map(|a| a["title"].as_str().unwrap_or_default().to_owned())
        .collect();
    let owner = format!("agent {}'s daily tokens budget", agent.agent_id);
    assert_eq!(
        ours,
        [
            format!("50% of {owner} used"),
            format!("{owner} reached: stopped until the period ends")
        ]
    );
}

async fn model_and_tenant_budgets_stop_what_they_cover(server: TestServer) {
    let (_, op) = server.tenant("models").await;
    let agent = server
        .agent(&op, &["runs:write", "tasks:claim"], 6000)
        .await;

    // A model's monthly cost cap stops reports of its runs only
    let path = "/api/v1/model-budgets/model-x%2Flarge";
    let body = json!({ "monthly_cost_usd": 0.01, "hard_stop": true });
    let (status, set) = server.call(Method::PUT, path, Some(&op), Some(&body)).await;
    assert_eq!(status, StatusCode::OK, "{set}");
    // A budget applies once the budgets model has it: set before the runs
    server.models_reach(set["position"].as_u64()).await;
    let (status, _) = report(&server, &agent, &run("model-x/large", 10, 0.02)).await;
    assert_eq!(status, StatusCode::CREATED);
    // The next report of the model is refused at once
    let (status, refused) = report(&server, &agent, &run("model-x/large", 10, 0.001)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        refused["budget"],
        json!({ "kind": "model", "model": "model-x/large" })
    );
    assert_eq!(
        (refused["used"].clone(), refused["limit"].clone()),
        (json!(0.02), json!(0.01))
    );
    let (status, _) = report(&server, &agent, &run("model-y", 10, 0.5)).await;
    assert_eq!(status, StatusCode::CREATED, "another model's runs go on");
    assert_eq!(claim(&server, &agent).await.0, StatusCode::NO_CONTENT);

    // The tenant's stopping budget holds every agent of it back
    let tenant_budget = json!({ "daily_tokens": 15, "hard_stop": true });
    let (status, _) = server
        .call(
            Method::PUT,
            "/api/v1/budget",
            Some(&op),
            Some(&tenant_budget),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let refused = until(StatusCode::TOO_MANY_REQUESTS, || claim(&server, &agent)).await;
    assert_eq!(refused["budget"], json!({ "kind": "tenant" }));
    let (_, listed) = server.get("/api/v1/budgets", &op).await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(2));
    // Removed, it stops nothing
    let (status, _) = server
        .call(Method::DELETE, "/api/v1/budget", Some(&op), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(claim(&server, &agent).await.0, StatusCode::NO_CONTENT);
    let (status, _) = server.call(Method::DELETE, path, Some(&op), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, gone) = server.get(path, &op).await;
    assert_eq!(
        (status, gone["monthly_cost_usd"].clone()),
        (StatusCode::OK, Value::Null)
    );
    let (status, _) = server.call(Method::DELETE, path, Some(&op), None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a DELETE repeated answers as the first"
    );
}

async fn budgets_refuse_bad_settings_other_tenants_and_viewers(server: TestServer) {
    let (tenant, op) = server.tenant("careful").await;
    let agent = server.agent(&op, &["runs:write"], 600).await;
    let foreign = server.agent(&server.admin_key, &["runs:write"], 600).await;
    let path = format!("/api/v1/agents/{}/budget", agent.agent_id);
    let put = |path: String, body: Value| {
        let server = &server;
        let op = op.clone();
        async move {
            server
                .call(Method::PUT, &path, Some(&op), Some(&body))
                .await
        }
    };
    for (body, wanted) in [
        (
            json!({ "daily_tokens": 0 }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!({}), StatusCode::UNPROCESSABLE_ENTITY),
        (
            json!({ "daily_tokens": 9_007_199_254_740_992_u64 }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "daily_tokens": 5, "thresholds_percent": [0] }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "daily_tokens": 5, "thresholds_percent": [100] }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "daily_tokens": 5, "thresholds_percent": [1, 2, 3, 4, 5, 6] }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "daily_tokens": 5, "thresholds_percent": [300] }),
            StatusCode::BAD_REQUEST,
        ),
        (json!({ "daily_cost_usd": -1 }), StatusCode::BAD_REQUEST),
        (json!({ "daily_cost_usd": 0 }), StatusCode::BAD_REQUEST),
        (
            json!({ "daily_cost_usd": 1e-9 }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "daily_tokens": 5, "weekly": 1 }),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (status, problem) = put(path.clone(), body.clone()).await;
        assert_eq!(status, wanted, "{body}: {problem}");
    }
    // Another tenant's agent and an unknown one are not found; no id parses as one
    for other in [foreign.agent_id.clone(), uuid::Uuid::now_v7().to_string()] {
        let path = format!("/api/v1/agents/{other}/budget");
        let (status, _) = put(path.clone(), json!({ "daily_tokens": 5 })).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(server.get(&path, &op).await.0, StatusCode::NOT_FOUND);
    }
    let (status, _) = put(
        "/api/v1/agents/not-an-id/budget".into(),
        json!({ "daily_tokens": 5 }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Hostile model names
    for model in ["bad%00model", "tab%09", &"m".repeat(101)] {
        let (status, problem) = put(
            format!("/api/v1/model-budgets/{model}"),
            json!({ "daily_tokens": 5 }),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{model}: {problem}"
        );
    }
    // No budget yet: no limits
    let (_, unset) = server.get(&path, &op).await;
    assert_eq!(
        (unset["daily_tokens"].clone(), unset["hard_stop"].clone()),
        (Value::Null, json!(false))
    );
    let (_, tenant_budget) = server.get("/api/v1/budget", &op).await;
    assert_eq!(tenant_budget["daily_tokens"], Value::Null);
    // An admin sees every tenant's agents, but a budget is of the admin's
    // own tenant: another tenant's agent is not found there either
    let body = json!({ "daily_tokens": 5 });
    let (status, _) = server
        .call(Method::PUT, &path, Some(&server.admin_key), Some(&body))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A run report's model name is checked before any budget is looked up
    let (status, problem) = report(&server, &agent, &run("a\u{0}b", 1, 0.0)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    // Viewers read and do not change
    let viewer = server.key(&tenant, "viewer").await;
    let body = json!({ "daily_tokens": 5 });
    let (status, _) = server
        .call(Method::PUT, &path, Some(&viewer), Some(&body))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        server.get("/api/v1/budgets", &viewer).await.0,
        StatusCode::OK
    );
    // An agent is no operator
    let (status, _) = server
        .call(Method::PUT, &path, Some(&agent.token), Some(&body))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The budget list of another tenant is not found for an operator
    let (status, _) = server
        .get(
            &format!("/api/v1/budgets?tenant_id={}", uuid::Uuid::now_v7()),
            &op,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Beside the server every other test here gets: one that delivers to loopback.
mod webhooks {
    use super::*;

    async fn budget_alerts_go_out_through_webhooks_like_every_alert(db: TestDatabase) {
        let options = Options {
            loopback_deliveries: Some(RetrySchedule(vec![0])),
            ..Options::default()
        };
        let server = TestServer::start_with_options(db, options).await;
        let (receiver, base) = Receiver::start().await;
        let (_, op) = server.tenant("hooked").await;
        let hook = json!({ "url": format!("{base}/alerts"), "event_types": ["AlertRaised"] });
        let (status, made) = server.post("/api/v1/webhooks", &op, &hook).await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        let agent = server.agent(&op, &["runs:write"], 600).await;
        let path = format!("/api/v1/agents/{}/budget", agent.agent_id);
        let body = json!({ "daily_tokens": 100, "thresholds_percent": [50] });
        let (status, _) = server
            .call(Method::PUT, &path, Some(&op), Some(&body))
            .await;
        assert_eq!(status, StatusCode::OK);

        let (status, _) = report(&server, &agent, &run("m", 60, 0.0)).await;
        assert_eq!(status, StatusCode::CREATED);

        let got = receiver.wait_for(1).await;
        let alert = got[0].json();
        assert_eq!(alert["type"], "AlertRaised");
        assert_eq!(alert["data"]["payload"]["source"], json!("budget"));
        assert_eq!(
            alert["data"]["payload"]["title"],
            json!(format!(
                "50% of agent {}'s daily tokens budget used",
                agent.agent_id
            ))
        );
    }

    on_every_database!(budget_alerts_go_out_through_webhooks_like_every_alert);
}

on_every_backend!(
    an_agents_budget_stops_it_at_the_limit_until_the_day_ends_or_the_limit_is_raised,
    model_and_tenant_budgets_stop_what_they_cover,
    budgets_refuse_bad_settings_other_tenants_and_viewers,
);
