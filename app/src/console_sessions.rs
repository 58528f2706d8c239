//! Web console sessions: an operator signs in with an API key and gets a
//! session token (the console's cookie) instead, so the key itself is never
//! kept by the browser. The session acts as that key: revoking the key ends
//! it, it ends by itself after [`SESSION_TTL`], and signing out ends it at
//! once on every server. Each session has its own CSRF token, which every
//! write made through it must carry.

use agentledger_commands::CommandError;
use agentledger_commands::auth::{Principal, authenticate_api_key, authenticate_api_key_id};
use agentledger_commands::secrets::{constant_time_eq, random_secret, sha256_hex};
use agentledger_domain::api_key::Role;
use agentledger_domain::ids::{ApiKeyId, TenantId};
use agentledger_domain::tenant::Tenant;
use agentledger_store::console_sessions::{self as stored, StoredSession};
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::app::App;
use crate::caller::Operator;
use crate::error::AppError;

/// How long a session lasts from sign-in, whatever it does.
pub const SESSION_TTL: Duration = Duration::hours(12);

/// A signed-in operator, seen through their session.
pub struct Session {
    /// Acting as the session's key, with `tenant_id` the tenant the console
    /// shows (an admin's choice; anyone else's own).
    pub operator: Operator,
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

impl Session {
    /// Whether `presented` is the CSRF token issued at sign-in.
    pub fn csrf_matches(&self, presented: &str) -> bool {
        constant_time_eq(&self.csrf, presented)
    }
}

/// A session just started: the token goes in the cookie, and nowhere else.
pub struct SignedIn {
    pub token: String,
}

/// Exchanges an operator API key for a session token.
pub async fn sign_in(app: &App, api_key: &str) -> Result<SignedIn, AppError> {
    let principal = authenticate_api_key(&app.handler, api_key.trim()).await?;
    let Principal::Operator {
        key_id, tenant_id, ..
    } = principal
    else {
        return Err(AppError::Unauthorized("invalid API key".into()));
    };
    let token = random_secret();
    let now = app.clock.now();
    let expires_at = now + SESSION_TTL;
    let session = StoredSession {
        key_id: key_id.0,
        tenant_id: tenant_id.0,
        csrf: random_secret(),
        expires_us: expires_at.timestamp_micros(),
    };
    stored::start_session(
        &app.database,
        &sha256_hex(&token),
        &session,
        now.timestamp_micros(),
    )
    .await?;
    Ok(SignedIn { token })
}

/// The session whose token is `token`, if it is still open and its key is
/// not revoked.
pub async fn session(app: &App, token: &str, correlation_id: Uuid) -> Result<Session, AppError> {
    let ended = || AppError::Unauthorized("the console session has ended; sign in again".into());
    let now = app.clock.now();
    let stored = stored::session(&app.database, &sha256_hex(token), now.timestamp_micros())
        .await?
        .ok_or_else(ended)?;
    // A revoked key ends the session; a store that cannot answer is the
    // server's failure, not a reason to sign anyone out.
    let principal = match authenticate_api_key_id(&app.handler, ApiKeyId(stored.key_id)).await {
        Ok(principal) => principal,
        Err(CommandError::Unauthorized(_)) => return Err(ended()),
        Err(other) => return Err(other.into()),
    };
    let Principal::Operator {
        key_id,
        role,
        tenant_id,
    } = principal
    else {
        return Err(ended());
    };
    // An admin acts in the tenant the console shows, as an admin key of that
    // tenant would: reads default to it and its commands are that tenant's
    // (their events carry its id; the actor stays the admin's key). Any
    // other role is held to its key's tenant, whatever the session says.
    let shown = if role == Role::Admin {
        TenantId(stored.tenant_id)
    } else {
        tenant_id
    };
    let principal = Principal::Operator {
        key_id,
        tenant_id: shown,
        role,
    };
    let expires_at = DateTime::from_timestamp_micros(stored.expires_us).unwrap_or(now);
    Ok(Session {
        operator: Operator {
            principal,
            role,
            tenant_id: shown,
            correlation_id,
        },
        csrf: stored.csrf,
        expires_at,
    })
}

/// Shows another tenant in the session: admins only.
pub async fn switch_tenant(
    app: &App,
    session: &Session,
    token: &str,
    tenant: TenantId,
) -> Result<(), AppError> {
    session.operator.require_admin()?;
    let exists = app.handler.load::<Tenant>(tenant).await?.state.exists;
    if !exists {
        return Err(AppError::NotFound("tenant not found".into()));
    }
    stored::switch_tenant(&app.database, &sha256_hex(token), tenant.0).await?;
    Ok(())
}

/// Ends the session.
pub async fn sign_out(app: &App, token: &str) -> Result<(), AppError> {
    stored::end_session(&app.database, &sha256_hex(token)).await?;
    Ok(())
}
