//! Tenants and operator API keys (admin only).

use agentledger_app::operators;
use agentledger_domain::api_key::Role;
use agentledger_domain::ids::{ApiKeyId, TenantId};
use axum::Json as Reply;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::extract::{Json, Path};
use crate::idempotency::withholding;
use crate::problem::Problem;
use crate::state::AppState;
use agentledger_app::caller::Operator;
use axum::response::Response;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(new_tenant))
        .routes(routes!(tenant_time_zone))
        .routes(routes!(new_key))
        .routes(routes!(revoke_key))
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    pub name: String,
}

#[derive(Debug, utoipa::ToSchema, Serialize, Deserialize)]
pub struct TenantCreated {
    pub tenant_id: TenantId,
    pub position: u64,
}

#[utoipa::path(
    post,
    path = "/api/v1/tenants",
    tag = "operators",
    summary = "Create a tenant (admin)",
    request_body = NewTenant,
    responses((status = 201, description = "Created", body = TenantCreated), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn new_tenant(
    State(state): State<AppState>,
    operator: Operator,
    Json(body): Json<NewTenant>,
) -> Result<(StatusCode, Reply<TenantCreated>), Problem> {
    let (tenant_id, position) = operators::new_tenant(&state, &operator, body.name).await?;
    Ok((
        StatusCode::CREATED,
        Reply(TenantCreated {
            tenant_id,
            position,
        }),
    ))
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeZone {
    /// An IANA name such as `Europe/Berlin`; `null` counts days in UTC.
    pub time_zone: Option<String>,
}

/// The dashboard's "today" and trend, and the budget's days and months,
/// follow the zone from the next event on; days already counted stay as
/// they were.
#[utoipa::path(
    put,
    path = "/api/v1/tenants/{tenant_id}/time-zone",
    tag = "operators",
    summary = "Set the time zone a tenant's days are counted in",
    params(("tenant_id" = uuid::Uuid, Path)),
    request_body = TimeZone,
    responses((status = 200, description = "Set", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn tenant_time_zone(
    State(state): State<AppState>,
    operator: Operator,
    Path(tenant_id): Path<TenantId>,
    Json(body): Json<TimeZone>,
) -> Result<Reply<Done>, Problem> {
    let position = operators::time_zone(&state, &operator, tenant_id, body.time_zone).await?;
    Ok(Reply(Done { position }))
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    pub role: Role,
    /// Defaults to the caller's tenant.
    pub tenant_id: Option<TenantId>,
    #[serde(default)]
    pub label: String,
}

#[derive(Debug, utoipa::ToSchema, Serialize, Deserialize)]
pub struct KeyCreated {
    pub key_id: ApiKeyId,
    pub tenant_id: TenantId,
    pub role: Role,
    /// Shown once; only its hash is stored.
    pub key: String,
    pub position: u64,
}

#[utoipa::path(
    post,
    path = "/api/v1/api-keys",
    tag = "operators",
    summary = "Create an API key (admin)",
    request_body = NewKey,
    responses((status = 201, description = "The key is shown once", body = KeyCreated), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn new_key(
    State(state): State<AppState>,
    operator: Operator,
    Json(body): Json<NewKey>,
) -> Result<Response, Problem> {
    let (tenant_id, issued) =
        operators::new_key(&state, &operator, body.tenant_id, body.role, body.label).await?;
    let answer = KeyCreated {
        key_id: issued.key_id,
        tenant_id,
        role: body.role,
        key: issued.key,
        position: issued.position,
    };
    Ok(withholding((StatusCode::CREATED, Reply(answer)), &["key"]))
}

#[derive(Debug, utoipa::ToSchema, Serialize, Deserialize)]
pub struct Done {
    pub position: u64,
}

#[utoipa::path(
    delete,
    path = "/api/v1/api-keys/{key_id}",
    tag = "operators",
    summary = "Revoke an API key (admin)",
    params(("key_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "Revoked", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn revoke_key(
    State(state): State<AppState>,
    operator: Operator,
    Path(key_id): Path<ApiKeyId>,
) -> Result<Reply<Done>, Problem> {
    let position = operators::revoke_key(&state, &operator, key_id).await?;
    Ok(Reply(Done { position }))
}
