//! Self-registration: enrollment tokens (operators who may run commands)
//! and agents enrolling themselves with one, without other credentials.

use std::net::SocketAddr;

use agentledger_app::caller::Operator;
use agentledger_app::enrollment::{self, TokenRequest};
use agentledger_app::queries::Page;
use agentledger_domain::ids::TenantId;
use agentledger_projections::enrollment_tokens::EnrollmentTokenRow;
use axum::Json as Reply;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::extract::{Json, Path, Query};
use crate::idempotency::withholding;
use crate::problem::Problem;
use crate::read_model::list_query;
use crate::routes::agents::{AgentSecret, secret_shown_once};
use crate::routes::operators::Done;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(enroll_agent))
        .routes(routes!(create_enrollment_token, enrollment_tokens))
        .routes(routes!(revoke_enrollment_token))
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enrollment {
    /// The enrollment token an operator handed out (`ale_…`).
    pub token: String,
    /// The new agent's name.
    pub name: String,
    /// Needed when the token names no kind; otherwise absent or the token's.
    pub kind: Option<String>,
}

/// Registers a new agent in the token's tenant with the kind and
/// permissions the token gives, and spends one of the token's uses. No other
/// credentials are needed. Any refusal of the token (malformed, unknown,
/// wrong, expired, used up or revoked) answers the same 401, and spends the
/// address's failure budget as a failed login does.
#[utoipa::path(
    post,
    path = "/api/v1/agents/enroll",
    operation_id = "enroll_agent",
    tag = "agents",
    summary = "Enroll an agent with an enrollment token",
    request_body = Enrollment,
    responses((status = 201, description = "The agent's id and secret; the secret is shown once", body = AgentSecret), crate::openapi::Problems),
)]
async fn enroll_agent(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    Json(body): Json<Enrollment>,
) -> Result<Response, Problem> {
    let correlation = crate::auth::correlation_of(&headers);
    let registered = enrollment::enroll(
        &state,
        &body.token,
        body.name,
        body.kind,
        peer.ip(),
        correlation,
    )
    .await?;
    Ok(secret_shown_once(registered))
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEnrollmentToken {
    /// What it is for, as the list of tokens shows it.
    pub label: String,
    /// When it stops enrolling, at most 90 days ahead. Give this or
    /// `expires_in_seconds`; a day from now when neither.
    pub expires_at: Option<DateTime<Utc>>,
    #[schema(minimum = 1, maximum = 7_776_000)]
    pub expires_in_seconds: Option<u32>,
    /// How many agents it may enroll.
    #[schema(minimum = 1, maximum = 1000)]
    pub max_uses: u32,
    /// The kind of every agent it enrolls; when absent (and no preset),
    /// each agent names its own.
    pub kind: Option<String>,
    /// What every agent it enrolls may do; none when absent.
    pub permissions: Option<Vec<String>>,
    /// Calls per minute of each agent it enrolls (600 when absent).
    #[schema(minimum = 1, maximum = 100_000)]
    pub rate_limit_per_minute: Option<u32>,
    /// A preset (`GET /api/v1/agent-presets`) giving the kind and
    /// permissions instead of `kind` and `permissions`.
    pub preset: Option<String>,
}

#[derive(Debug, utoipa::ToSchema, Serialize, Deserialize)]
pub struct EnrollmentTokenCreated {
    pub token_id: Uuid,
    /// Shown once; only its SHA-256 is stored. Agents send it to
    /// `POST /api/v1/agents/enroll`.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub max_uses: u32,
    pub position: u64,
}

#[utoipa::path(
    post,
    path = "/api/v1/enrollment-tokens",
    operation_id = "create_enrollment_token",
    tag = "agents",
    summary = "Create an enrollment token",
    request_body = NewEnrollmentToken,
    responses((status = 201, description = "The token is shown once", body = EnrollmentTokenCreated), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn create_enrollment_token(
    State(state): State<AppState>,
    operator: Operator,
    Json(body): Json<NewEnrollmentToken>,
) -> Result<Response, Problem> {
    let asked = TokenRequest {
        label: body.label,
        expires_at: body.expires_at,
        expires_in_seconds: body.expires_in_seconds,
        max_uses: body.max_uses,
        kind: body.kind,
        permissions: body.permissions,
        rate_limit_per_minute: body.rate_limit_per_minute,
        preset: body.preset,
    };
    let issued = enrollment::create(&state, &operator, asked).await?;
    let answer = EnrollmentTokenCreated {
        token_id: issued.token_id,
        token: issued.token,
        expires_at: issued.expires_at,
        max_uses: issued.max_uses,
        position: issued.position,
    };
    Ok(withholding(
        (StatusCode::CREATED, Reply(answer)),
        &["token"],
    ))
}

list_query! {
    pub struct EnrollmentTokenQuery {
        /// Admins may read another tenant.
        pub tenant_id: Option<TenantId>,
    }
}

/// A page of enrollment tokens, as the document names it.
type EnrollmentTokenPage = Page<EnrollmentTokenRow>;

/// The tenant's enrollment tokens, newest first, each with its uses left
/// and whether it still enrolls (`status`); never a token's secret.
#[utoipa::path(
    get,
    path = "/api/v1/enrollment-tokens",
    operation_id = "enrollment_tokens",
    tag = "agents",
    summary = "Enrollment tokens, newest first",
    params(EnrollmentTokenQuery),
    responses((status = 200, description = "A page of enrollment tokens", body = EnrollmentTokenPage), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn enrollment_tokens(
    State(state): State<AppState>,
    operator: Operator,
    Query(q): Query<EnrollmentTokenQuery>,
) -> Result<Reply<EnrollmentTokenPage>, Problem> {
    let list = q.list();
    Ok(Reply(
        enrollment::tokens(&state, &operator, q.tenant_id, list).await?,
    ))
}

/// Revokes the token: it enrolls no one from now on; the agents it
/// enrolled stay.
#[utoipa::path(
    delete,
    path = "/api/v1/enrollment-tokens/{token_id}",
    operation_id = "revoke_enrollment_token",
    tag = "agents",
    summary = "Revoke an enrollment token",
    params(("token_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "Revoked", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn revoke_enrollment_token(
    State(state): State<AppState>,
    operator: Operator,
    Path(token_id): Path<Uuid>,
) -> Result<Reply<Done>, Problem> {
    let position = enrollment::revoke(&state, &operator, token_id).await?;
    Ok(Reply(Done { position }))
}
