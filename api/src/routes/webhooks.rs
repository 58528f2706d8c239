//! Webhook subscriptions (operators, or agents with `webhooks:manage`) and
//! agents' cache entries with operators' invalidations.

use agentledger_app::webhooks;
use agentledger_projections::cache_index::CacheEntry;
use axum::Json as Reply;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::extract::{Json, Path};
use crate::idempotency::withholding;
use crate::problem::Problem;
use crate::routes::operators::Done;
use crate::state::AppState;
use agentledger_app::caller::{AgentCaller, Caller, Operator};
use axum::response::Response;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(update, delete, detail))
        .routes(routes!(store, read))
        .routes(routes!(invalidate))
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
    let made = webhooks::create(&state, &caller, body.url, body.event_types).await?;
    let answer = Subscribed {
        webhook_id: made.webhook_id,
        secret: made.secret,
        position: made.position,
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
    let position =
        webhooks::update(&state, &caller, webhook_id, body.url, body.event_types).await?;
    Ok(Reply(Done { position }))
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
    let position = webhooks::delete(&state, &caller, webhook_id).await?;
    Ok(Reply(Done { position }))
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
    let webhook = webhooks::detail(&state, &caller, webhook_id).await?;
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
    let position = webhooks::store(
        &state,
        &caller,
        (cache_type, target),
        body.value,
        body.ttl_seconds,
    )
    .await?;
    Ok((StatusCode::CREATED, Reply(Done { position })))
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
    Ok(Reply(
        webhooks::read(&state, &caller, &cache_type, &target).await?,
    ))
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
    let (entries, position) =
        webhooks::invalidate(&state, &operator, body.cache_type, body.target).await?;
    Ok(Reply(Invalidated {
        entries_invalidated: entries,
        position,
    }))
}
