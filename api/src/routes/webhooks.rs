//! Webhook subscriptions (operators, or agents with `webhooks:manage`) and
//! agents' cache entries with operators' invalidations.

use std::time::Duration;

use agentledger_commands::webhooks::{invalidate_cache, run, store_cache_entry, subscribe};
use agentledger_domain::Aggregate;
use agentledger_domain::webhook::{Webhook, WebhookCommand};
use agentledger_projections::cache_index::CacheEntry;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{post, put};
use axum::{Json as Reply, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::auth::{AgentCaller, Caller, Operator};
use crate::extract::{Json, Path};
use crate::problem::Problem;
use crate::routes::operators::Done;
use crate::state::AppState;

const INDEX_CATCH_UP: Duration = Duration::from_secs(2);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/webhooks", post(create))
        .route(
            "/api/v1/webhooks/{webhook_id}",
            put(update).delete(delete).get(detail),
        )
        .route(
            "/api/v1/agents/me/cache/{cache_type}/{target}",
            put(store).get(read),
        )
        .route("/api/v1/cache/invalidate", post(invalidate))
}

fn manager_context(caller: &Caller) -> Result<agentledger_commands::Context, Problem> {
    match caller {
        Caller::Operator(op) => op.require_commands().map(|_| op.context()),
        Caller::Agent(agent) => agent.require("webhooks:manage").map(|_| agent.context()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    pub url: String,
    pub event_types: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Subscribed {
    pub webhook_id: Uuid,
    /// Signs deliveries; shown once.
    pub secret: String,
    pub position: u64,
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<Subscription>,
) -> Result<(StatusCode, Reply<Subscribed>), Problem> {
    let ctx = manager_context(&caller)?;
    let (webhook_id, secret, position) =
        subscribe(&state.handler, &ctx, body.url, body.event_types).await?;
    Ok((
        StatusCode::CREATED,
        Reply(Subscribed {
            webhook_id,
            secret,
            position,
        }),
    ))
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(webhook_id): Path<Uuid>,
    Json(body): Json<Subscription>,
) -> Result<Reply<Done>, Problem> {
    let ctx = manager_context(&caller)?;
    let command = WebhookCommand::Update {
        url: body.url,
        event_types: body.event_types,
    };
    let executed = run(&state.handler, &ctx, webhook_id, command).await?;
    Ok(Reply(Done {
        position: executed.position,
    }))
}

async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(webhook_id): Path<Uuid>,
) -> Result<Reply<Done>, Problem> {
    let ctx = manager_context(&caller)?;
    let executed = run(&state.handler, &ctx, webhook_id, WebhookCommand::Delete).await?;
    Ok(Reply(Done {
        position: executed.position,
    }))
}

#[derive(Debug, Serialize)]
pub struct WebhookView {
    pub webhook_id: Uuid,
    pub url: String,
    pub event_types: Vec<String>,
}

async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    Path(webhook_id): Path<Uuid>,
) -> Result<Reply<WebhookView>, Problem> {
    let (webhook, _, _) = state
        .handler
        .load::<Webhook>(&Webhook::stream_id(webhook_id))
        .await?;
    let visible = match &caller {
        Caller::Operator(op) => op.sees(webhook.tenant_id),
        Caller::Agent(agent) => agent.agent.tenant_id == webhook.tenant_id,
    };
    if !webhook.exists || webhook.deleted || !visible {
        return Err(Problem::not_found("webhook not found"));
    }
    Ok(Reply(WebhookView {
        webhook_id,
        url: webhook.url,
        event_types: webhook.event_types,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub value: Value,
    pub ttl_seconds: Option<u32>,
}

async fn store(
    State(state): State<AppState>,
    caller: AgentCaller,
    Path((cache_type, target)): Path<(String, String)>,
    Json(body): Json<Entry>,
) -> Result<(StatusCode, Reply<Done>), Problem> {
    caller.require("cache:write")?;
    let outcome = store_cache_entry(
        &state.handler,
        &caller.context(),
        caller.agent_id,
        (cache_type, target),
        body.value,
        body.ttl_seconds,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Reply(Done {
            position: outcome.last_position(),
        }),
    ))
}

async fn read(
    State(state): State<AppState>,
    caller: AgentCaller,
    Path((cache_type, target)): Path<(String, String)>,
) -> Result<Reply<CacheEntry>, Problem> {
    let head = state.store.head_position().await?;
    state
        .cache_index_progress
        .wait_for(head, INDEX_CATCH_UP)
        .await;
    state
        .cache_index
        .get(
            caller.agent.tenant_id,
            &cache_type,
            &target,
            chrono::Utc::now(),
        )
        .map(Reply)
        .ok_or_else(|| Problem::not_found("no live cache entry"))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invalidate {
    pub cache_type: Option<String>,
    pub target: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Invalidated {
    pub entries_invalidated: u64,
    pub position: u64,
}

async fn invalidate(
    State(state): State<AppState>,
    operator: Operator,
    Json(body): Json<Invalidate>,
) -> Result<Reply<Invalidated>, Problem> {
    operator.require_commands()?;
    let head = state.store.head_position().await?;
    state
        .cache_index_progress
        .wait_for(head, INDEX_CATCH_UP)
        .await;
    let entries = state.cache_index.count(
        operator.tenant_id,
        body.cache_type.as_deref(),
        body.target.as_deref(),
        chrono::Utc::now(),
    );
    let outcome = invalidate_cache(
        &state.handler,
        &operator.context(),
        body.cache_type,
        body.target,
        entries,
    )
    .await?;
    Ok(Reply(Invalidated {
        entries_invalidated: entries,
        position: outcome.last_position(),
    }))
}
