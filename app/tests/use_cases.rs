//! Use cases against the in-memory store: each checks its caller itself, so
//! a refused caller changes nothing, whoever calls the use case.

use std::net::{IpAddr, Ipv4Addr};

use agentledger_app::caller::{AgentCaller, Operator};
use agentledger_app::limits::LimitsConfig;
use agentledger_app::tasks::{Claim, TaskRequest};
use agentledger_app::{AppError, Caller, Runtime, agents, operators, reports, tasks};
use agentledger_domain::api_key::Role;
use agentledger_domain::ids::TenantId;
use agentledger_domain::reports::{ActionReport, ActionStatus};
use serde_json::Value;
use uuid::Uuid;

const SECRET: &[u8] = b"use-case-tests-use-case-tests-32b";

/// A runtime on a new log in memory, and its admin key.
async fn runtime() -> (Runtime, String) {
    let storage = match agentledger_store::in_memory().await {
        Ok(storage) => storage,
        Err(e) => panic!("in-memory storage: {e}"),
    };
    let runtime = Runtime::start(storage, SECRET, LimitsConfig::default());
    match agentledger_commands::operators::bootstrap(&runtime.app().handler).await {
        Ok(Some((_, key))) => (runtime, key.key),
        other => panic!("bootstrap: {:?}", other.map(|o| o.is_some())),
    }
}

async fn operator(runtime: &Runtime, key: &str) -> Operator {
    let operator = runtime.app().operator(key, Uuid::now_v7()).await;
    operator.unwrap_or_else(|e| panic!("operator: {e}"))
}

/// A new tenant, made with the admin key, and an operator of it with `role`.
async fn new_tenant(runtime: &Runtime, admin_key: &str, role: Role) -> (TenantId, Operator) {
    let app = runtime.app();
    let admin = operator(runtime, admin_key).await;
    let (tenant, _) = operators::new_tenant(app, &admin, "t".into())
        .await
        .unwrap_or_else(|e| panic!("tenant: {e}"));
    let (_, key) = operators::new_key(app, &admin, Some(tenant), role, String::new())
        .await
        .unwrap_or_else(|e| panic!("key: {e}"));
    (tenant, operator(runtime, &key.key).await)
}

fn task() -> TaskRequest {
    TaskRequest {
        task_type: "t".into(),
        input: Value::Null,
        priority: 0,
        callback_url: None,
        dedup_key: None,
        forced: false,
    }
}

async fn agent(runtime: &Runtime, operator: &Operator, permissions: &[&str]) -> AgentCaller {
    let app = runtime.app();
    let permissions = permissions.iter().map(|p| (*p).to_owned()).collect();
    let registered = agents::register(
        app,
        operator,
        "a".into(),
        "worker".into(),
        permissions,
        None,
    )
    .await
    .unwrap_or_else(|e| panic!("register: {e}"));
    let local = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let (tokens, _) = agents::login(
        app,
        registered.agent_id,
        registered.secret,
        local,
        Uuid::now_v7(),
    )
    .await
    .unwrap_or_else(|e| panic!("login: {e}"));
    app.agent(&tokens.access_token, Uuid::now_v7())
        .await
        .unwrap_or_else(|e| panic!("token: {e}"))
}

fn action() -> ActionReport {
    ActionReport {
        action: "approve".into(),
        resource_type: "post".into(),
        resource_id: None,
        status: ActionStatus::Success,
        confidence: None,
        execution_time_ms: None,
        reasoning: None,
        request_data: None,
    }
}

async fn head(runtime: &Runtime) -> u64 {
    runtime
        .app()
        .store
        .head_position()
        .await
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_without_the_permission_records_nothing() {
    let (runtime, key) = runtime().await;
    let admin = operator(&runtime, &key).await;
    let agent = agent(&runtime, &admin, &["runs:write"]).await;
    let before = head(&runtime).await;
    let refused = reports::action(runtime.app(), &agent, action()).await;
    assert!(
        matches!(&refused, Err(AppError::Forbidden(why)) if why.contains("actions:write")),
        "{:?}",
        refused.err()
    );
    assert_eq!(head(&runtime).await, before);
    runtime.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_key_runs_no_command() {
    let (runtime, key) = runtime().await;
    let app = runtime.app();
    let (_, viewer) = new_tenant(&runtime, &key, Role::Viewer).await;
    let before = head(&runtime).await;
    let refused = tasks::create(app, &Caller::Operator(viewer), task()).await;
    assert!(
        matches!(refused, Err(AppError::Forbidden(_))),
        "{:?}",
        refused.err()
    );
    assert_eq!(head(&runtime).await, before);
    runtime.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_an_agent_reports_is_its_tenants() {
    let (runtime, key) = runtime().await;
    let app = runtime.app();
    let (tenant, theirs) = new_tenant(&runtime, &key, Role::Operator).await;
    let agent = agent(&runtime, &theirs, &["actions:write"]).await;
    let recorded = reports::action(app, &agent, action())
        .await
        .unwrap_or_else(|e| panic!("record: {e}"));
    let stored = app
        .store
        .read_all(recorded.position, 1, &Default::default())
        .await
        .unwrap_or_default();
    assert_eq!(stored.first().map(|e| e.tenant_id), Some(tenant.0));
    runtime.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_goes_to_one_of_the_agents_polling_at_once() {
    let (runtime, key) = runtime().await;
    let app = runtime.app();
    let created = tasks::create(
        app,
        &Caller::Operator(operator(&runtime, &key).await),
        task(),
    )
    .await;
    assert!(created.is_ok(), "{:?}", created.err());
    let admin = operator(&runtime, &key).await;
    let (a, b) = (
        agent(&runtime, &admin, &["tasks:claim"]).await,
        agent(&runtime, &admin, &["tasks:claim"]).await,
    );
    let (first, second) = tokio::join!(
        tasks::claim_next(app, &a, &[]),
        tasks::claim_next(app, &b, &[])
    );
    let claimed = [first, second]
        .into_iter()
        .map(|c| match c {
            Ok(Claim::Task { .. }) => 1,
            Ok(Claim::None { .. }) => 0,
            Err(e) => panic!("claim: {e}"),
        })
        .sum::<u32>();
    assert_eq!(claimed, 1);
    runtime.stop().await;
}
