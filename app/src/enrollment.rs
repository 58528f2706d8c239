//! Self-registration: operators who may run commands create, list and
//! revoke enrollment tokens of their tenant; an agent holding one registers
//! itself with no other credentials, within its address's failure budget
//! (only refusals spend it, as for logins).

use std::net::IpAddr;

use agentledger_commands::agents::Registered;
use agentledger_commands::enrollment::{
    EnrollError, IssuedToken, NewToken, create_token, enroll as enroll_agent, revoke_token,
};
use agentledger_domain::ids::TenantId;
use agentledger_projections::enrollment_tokens::{
    self as model, EnrollmentTokenRow, EnrollmentTokens,
};
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::agents::DEFAULT_RATE_LIMIT_PER_MINUTE;
use crate::app::App;
use crate::caller::Operator;
use crate::error::AppError;
use crate::queries::{ListParams, Page};

/// How long a token lives when the operator does not say: a day.
pub const DEFAULT_LIFETIME_SECONDS: u32 = 24 * 3600;

/// What the caller of a refused enrollment is told, whatever the reason.
const REFUSED: &str = "invalid enrollment token";

/// A token as an operator asks for it.
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    pub label: String,
    /// When it stops enrolling; or `expires_in_seconds` from now; or a day
    /// from now when neither is given.
    pub expires_at: Option<DateTime<Utc>>,
    pub expires_in_seconds: Option<u32>,
    pub max_uses: u32,
    pub kind: Option<String>,
    pub permissions: Option<Vec<String>>,
    /// `DEFAULT_RATE_LIMIT_PER_MINUTE` when absent.
    pub rate_limit_per_minute: Option<u32>,
    pub preset: Option<String>,
}

/// A new token of the operator's tenant; the token is in the answer only.
pub async fn create(
    app: &App,
    operator: &Operator,
    asked: TokenRequest,
) -> Result<IssuedToken, AppError> {
    operator.require_commands()?;
    let ctx = operator.context();
    let expires_at = match (asked.expires_at, asked.expires_in_seconds) {
        (Some(_), Some(_)) => {
            return Err(AppError::Unprocessable(
                "give expires_at or expires_in_seconds, not both".into(),
            ));
        }
        (Some(at), None) => at,
        (None, seconds) => {
            ctx.at + Duration::seconds(i64::from(seconds.unwrap_or(DEFAULT_LIFETIME_SECONDS)))
        }
    };
    let new = NewToken {
        label: asked.label,
        expires_at,
        max_uses: asked.max_uses,
        kind: asked.kind,
        permissions: asked.permissions,
        rate_limit_per_minute: asked
            .rate_limit_per_minute
            .unwrap_or(DEFAULT_RATE_LIMIT_PER_MINUTE),
        preset: asked.preset,
    };
    Ok(create_token(&app.handler, &ctx, Uuid::now_v7(), new).await?)
}

/// Revokes a token of a tenant the operator sees; any other is not found.
pub async fn revoke(app: &App, operator: &Operator, token_id: Uuid) -> Result<u64, AppError> {
    operator.require_commands()?;
    Ok(revoke_token(&app.handler, &operator.context(), token_id).await?)
}

/// The tenant's tokens, newest first, without their secrets. Only for those
/// who may create them: a token's label and grants say who is being let in.
pub async fn tokens(
    app: &App,
    operator: &Operator,
    tenant_id: Option<TenantId>,
    list: ListParams,
) -> Result<Page<EnrollmentTokenRow>, AppError> {
    operator.require_commands()?;
    let tenant = operator.tenant_to_read(tenant_id)?;
    let limit = list.page_size()?;
    let progress = app.caught_up(&EnrollmentTokens, list.min_position).await?;
    let now = agentledger_store::now().timestamp_micros();
    let items = model::list(&app.database, tenant, now, list.cursor, limit).await?;
    Ok(Page::new(items, limit, progress.position(), |t| t.seq))
}

/// A new agent named `name` in the token's tenant, from `source`: its id and
/// secret (shown once). A refused token answers 401 and spends the
/// address's failure budget; why it was refused goes to the server's log
/// only, so whether a token id exists cannot be learnt from outside.
pub async fn enroll(
    app: &App,
    token: &str,
    name: String,
    kind: Option<String>,
    source: IpAddr,
    correlation_id: Uuid,
) -> Result<Registered, AppError> {
    let attempt = app
        .limits
        .enroll_attempt(source)
        .map_err(AppError::RateLimited)?;
    match enroll_agent(&app.handler, token, name, kind, Some(correlation_id)).await {
        Ok(registered) => Ok(registered),
        Err(EnrollError::Refused(why)) => {
            app.limits.failed(attempt);
            tracing::warn!(%source, reason = %why, "enrollment refused");
            Err(AppError::Unauthorized(REFUSED.into()))
        }
        Err(EnrollError::Command(e)) => Err(e.into()),
    }
}
