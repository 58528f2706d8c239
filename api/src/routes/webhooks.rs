//! Webhook subscriptions (operators, or agents with `webhooks:manage`) and
//! agents' cache entries with operators' invalidations.

use std::time::Duration;

use agentledger_commands::webhooks::{invalidate_cache, run, store_cache_entry, subscribe};
use agentledger_domain::Aggregate;
use agentledger_domain::webhook::{Manager, Webhook, WebhookCommand};
use agentledger_projections::cache_index::CacheEntry;
use axum::Json as Reply;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::{AgentCaller, Caller, Operator};
use crate::extract::{Json, Path};
use crate::idempotency::withholding;
use crate::problem::Problem;
use crate::routes::operators::Done;
use crate::state::AppState;
use axum::response::Response;

const INDEX_CATCH_UP: Duration = Duration::from_secs(2);

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(update, delete, detail))
        .routes(routes!(store, read))
        .routes(routes!(invalidate))
}

/// The caller as a manager of subscriptions: operators who may issue
/// commands manage all of their tenant's, agents with `webhooks:manage`
/// only those they made.
fn manager_context(caller: &Caller) -> Result<(agentledger_commands::Context, Manager), Problem> {
    match caller {
        Caller::Operator(op) => op
            .require_commands()
            .map(|_| (op.context(), Manager::Operator)),
        Caller::Agent(agent) => agent
            .require("webhooks:manage")
            .map(|_| (agent.context(), Manager::Agent(agent.agent_id))),
    }
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    pub url: String,
    pub event_types: Vec<String>,
}

#[derive(Debug, utoipa::ToSchema, Serialize, Deserialize)]
pub struct Subscribed {
    pub webhook_id: Uuid,
    /// Signs deliveries; shown once.
    pub secret: String,
    pub position: u64,
}

#[utoipa::path(
    post,
    path = "/api/v1/webhooks",
    operation_id = "create_webhook",
    tag = "webhooks",
    summary = "Subscribe a webhook",
    request_body = Subscription,
    responses((status = 201, description = "The secret is shown once", body = Subscribed), crate::openapi::Problems),
    security(("operator_key" = []), ("agent_token" = [])),
)]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<Subscription>,
) -> Result<Response, Problem> {
    let (ctx, by) = manager_context(&caller)?;
    let (webhook_id, secret, position) =
        subscribe(&state.handler, &ctx, by, body.url, body.event_types).await?;
    let answer = Subscribed {
        webhook_id,
        secret,
        position,
    };
    Ok(withholding(
        (StatusCode::CREATED, Reply(answer)),
        &["secret"],
    ))
}

#[utoipa::path(
    put,
    path = "/api/v1/webhooks/{webhook_id}",
    operation_id = "update_webhook",
    tag = "webhooks",
    summary = "Update a webhook",
    params(("webhook_id" = uuid::Uuid, Path)),
    request_body = Subscription,
    responses((status = 200, description = "Updated", body = Done), crate::openapi::Problems),
    security(("operator_key" = []), ("agent_token" = [])),
)]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(webhook_id): Path<Uuid>,
    Json(body): Json<Subscription>,
) -> Result<Reply<Done>, Problem> {
    let (ctx, by) = manager_context(&caller)?;
    let command = WebhookCommand::Update {
        url: body.url,
        event_types: body.event_types,
        by,
    };
    let executed = run(&state.handler, &ctx, webhook_id, command).await?;
    Ok(Reply(Done {
        position: executed.position,
    }))
}

#[utoipa::path(
    delete,
    path = "/api/v1/webhooks/{webhook_id}",
    operation_id = "delete_webhook",
    tag = "webhooks",
    summary = "Delete a webhook",
    params(("webhook_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "Deleted", body = Done), crate::openapi::Problems),
    security(("operator_key" = []), ("agent_token" = [])),
)]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(webhook_id): Path<Uuid>,
) -> Result<Reply<Done>, Problem> {
    let (ctx, by) = manager_context(&caller)?;
    let executed = run(
        &state.handler,
        &ctx,
        webhook_id,
        WebhookCommand::Delete { by },
    )
    .await?;
    Ok(Reply(Done {
        position: executed.position,
    }))
}

#[derive(Debug, utoipa::ToSchema, Serialize)]
pub struct WebhookView {
    pub webhook_id: Uuid,
    pub url: String,
    pub event_types: Vec<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/webhooks/{webhook_id}",
    operation_id = "webhook_detail",
    tag = "webhooks",
    summary = "A webhook",
    params(("webhook_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The webhook", body = WebhookView), crate::openapi::Problems),
    security(("operator_key" = []), ("agent_token" = [])),
)]
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
        Caller::Agent(agent) => {
            agent.agent.tenant_id == webhook.tenant_id
                && webhook.managed_by(Manager::Agent(agent.agent_id))
        }
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

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub value: Value,
    /// Up to 30 days.
    #[schema(minimum = 1, maximum = 2_592_000)]
    pub ttl_seconds: Option<u32>,
}

#[utoipa::path(
    put,
    path = "/api/v1/agents/me/cache/{cache_type}/{target}",
    operation_id = "store_cache_entry",
    tag = "cache",
    summary = "Store a cache entry",
    params(("cache_type" = String, Path), ("target" = String, Path)),
    request_body = Entry,
    responses((status = 201, description = "Stored", body = Done), crate::openapi::Problems),
    security(("agent_token" = [])),
)]
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

#[utoipa::path(
    get,
    path = "/api/v1/agents/me/cache/{cache_type}/{target}",
    operation_id = "read_cache_entry",
    tag = "cache",
    summary = "Read a live cache entry",
    params(("cache_type" = String, Path), ("target" = String, Path)),
    responses((status = 200, description = "The entry", body = CacheEntry), crate::openapi::Problems),
    security(("agent_token" = [])),
)]
async fn read(
    State(state): State<AppState>,
    caller: AgentCaller,
    Path((cache_type, target)): Path<(String, String)>,
) -> Result<Reply<CacheEntry>, Problem> {
    state
        .settle(&state.cache_index_progress, INDEX_CATCH_UP)
        .await?;
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

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invalidate {
    pub cache_type: Option<String>,
    pub target: Option<String>,
}

#[derive(Debug, utoipa::ToSchema, Serialize, Deserialize)]
pub struct Invalidated {
    pub entries_invalidated: u64,
    pub position: u64,
}

#[utoipa::path(
    post,
    path = "/api/v1/cache/invalidate",
    operation_id = "invalidate_cache",
    tag = "cache",
    summary = "Invalidate cache entries",
    request_body = Invalidate,
    responses((status = 200, description = "How many entries were invalidated", body = Invalidated), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn invalidate(
    State(state): State<AppState>,
    operator: Operator,
    Json(body): Json<Invalidate>,
) -> Result<Reply<Invalidated>, Problem> {
    operator.require_commands()?;
    state
        .settle(&state.cache_index_progress, INDEX_CATCH_UP)
        .await?;
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
