//! Who is calling: operators by API key, agents by access token; and the agent
//! login and refresh flows.

use agentledger_domain::agent::{Agent, AgentCommand, AgentEvent};
use agentledger_domain::api_key::{ApiKey, Role};
use agentledger_domain::ids::{AgentId, ApiKeyId, TenantId};
use agentledger_domain::{Actor, ActorKind, Aggregate};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::error::CommandError;
use crate::handler::{Context, Handler};
use crate::secrets::{constant_time_eq, random_secret, sha256_hex, verify_password};
use crate::tokens::{ACCESS_TTL_SECONDS, REFRESH_TTL_DAYS, TokenIssuer};

pub const API_KEY_PREFIX: &str = "alk";
pub const REFRESH_TOKEN_PREFIX: &str = "alr";

/// Why a login was refused. The caller is told none of it (every refusal
/// reads alike); the server counts and logs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFailure {
    /// No agent has this id. Not an event: it is a fact about no aggregate,
    /// and recording it would let anyone grow the log without credentials.
    UnknownAgent,
    /// Recorded on the agent's stream, like the next one.
    WrongSecret,
    AgentDisabled,
}

impl LoginFailure {
    pub const ALL: [LoginFailure; 3] = [
        LoginFailure::UnknownAgent,
        LoginFailure::WrongSecret,
        LoginFailure::AgentDisabled,
    ];

    /// A stable name, for metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            LoginFailure::UnknownAgent => "unknown_agent",
            LoginFailure::WrongSecret => "wrong_secret",
            LoginFailure::AgentDisabled => "agent_disabled",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("invalid agent credentials")]
    Refused(LoginFailure),
    #[error(transparent)]
    Command(#[from] CommandError),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Principal {
    Operator {
        key_id: ApiKeyId,
        tenant_id: TenantId,
        role: Role,
    },
    Agent {
        agent_id: AgentId,
        tenant_id: TenantId,
    },
}

impl Principal {
    pub fn tenant_id(&self) -> TenantId {
        match self {
            Principal::Operator { tenant_id, .. } | Principal::Agent { tenant_id, .. } => {
                *tenant_id
            }
        }
    }

    pub fn actor(&self) -> Actor {
        match self {
            Principal::Operator { key_id, .. } => {
                Actor::new(ActorKind::Operator, key_id.to_string())
            }
            Principal::Agent { agent_id, .. } => Actor::new(ActorKind::Agent, agent_id.to_string()),
        }
    }

    /// Admins act across tenants; everyone else only inside their own.
    pub fn tenant_scope(&self) -> Option<TenantId> {
        match self {
            Principal::Operator {
                role: Role::Admin, ..
            } => None,
            other => Some(other.tenant_id()),
        }
    }

    pub fn context(&self, correlation_id: Option<Uuid>) -> Context {
        Context {
            tenant_id: self.tenant_id(),
            tenant_scope: self.tenant_scope(),
            actor: self.actor(),
            correlation_id,
            causation_id: None,
            at: agentledger_store::now(),
            derive_event_ids: false,
        }
    }
}

/// `<prefix>_<id>_<secret>` tokens: the id says which stream to check.
pub fn format_token(prefix: &str, ids: &[Uuid], secret: &str) -> String {
    let mut token = prefix.to_owned();
    for id in ids {
        token.push('_');
        token.push_str(&id.simple().to_string());
    }
    token.push('_');
    token.push_str(secret);
    token
}

/// The ids and secret of a `<prefix>_<id>…_<secret>` token of `ids` ids.
pub(crate) fn parse_token<'a>(
    prefix: &str,
    token: &'a str,
    ids: usize,
) -> Option<(Vec<Uuid>, &'a str)> {
    let mut parts = token.split('_');
    if parts.next()? != prefix {
        return None;
    }
    let ids = (0..ids)
        .map(|_| parts.next()?.parse().ok())
        .collect::<Option<Vec<Uuid>>>()?;
    let secret = parts.next()?;
    if parts.next().is_some() || secret.len() != 64 {
        return None;
    }
    Some((ids, secret))
}

pub fn is_api_key(token: &str) -> bool {
    token.starts_with(API_KEY_PREFIX) && token.as_bytes().get(API_KEY_PREFIX.len()) == Some(&b'_')
}

pub async fn authenticate_api_key(
    handler: &Handler,
    token: &str,
) -> Result<Principal, CommandError> {
    let refused = || CommandError::Unauthorized("invalid API key".into());
    let (ids, secret) = parse_token(API_KEY_PREFIX, token, 1).ok_or_else(refused)?;
    let key_id = ApiKeyId(ids[0]);
    let key = handler.load::<ApiKey>(key_id).await?.state;
    if !constant_time_eq(&sha256_hex(secret), &key.secret_hash) {
        return Err(refused());
    }
    operator_of(key_id, &key).ok_or_else(refused)
}

/// The operator acting as the key `key_id`, which the caller proved it held
/// earlier (a console session signed in with it): refused once the key is
/// revoked, so revoking a key ends what it opened.
pub async fn authenticate_api_key_id(
    handler: &Handler,
    key_id: ApiKeyId,
) -> Result<Principal, CommandError> {
    let key = handler.load::<ApiKey>(key_id).await?.state;
    operator_of(key_id, &key)
        .ok_or_else(|| CommandError::Unauthorized("the API key was revoked".into()))
}

fn operator_of(key_id: ApiKeyId, key: &ApiKey) -> Option<Principal> {
    let role = key.role.filter(|_| !key.revoked)?;
    Some(Principal::Operator {
        key_id,
        tenant_id: key.tenant_id,
        role,
    })
}

/// Checks an access token and that its agent still exists and is enabled:
/// disabling an agent stops its tokens at once.
pub async fn authenticate_agent(
    handler: &Handler,
    issuer: &TokenIssuer,
    token: &str,
) -> Result<(Principal, Agent), CommandError> {
    let claims = issuer.verify(token)?;
    let agent = handler.load::<Agent>(claims.sub).await?.state;
    if !agent.exists || agent.tenant_id != claims.tid {
        return Err(CommandError::Unauthorized("unknown agent".into()));
    }
    if !agent.enabled {
        return Err(CommandError::Unauthorized("the agent is disabled".into()));
    }
    // Ending a session (secret rotation, refresh-token reuse) ends its access tokens.
    if agent.sessions.get(&claims.sid).is_none_or(|s| s.revoked) {
        return Err(CommandError::Unauthorized("the session has ended".into()));
    }
    Ok((
        Principal::Agent {
            agent_id: claims.sub,
            tenant_id: claims.tid,
        },
        agent,
    ))
}

#[derive(Debug, Clone, Serialize)]
pub struct Tokens {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub refresh_token: String,
    pub refresh_expires_at: DateTime<Utc>,
}

fn agent_context(
    agent_id: AgentId,
    tenant_id: TenantId,
    at: DateTime<Utc>,
    correlation_id: Option<Uuid>,
) -> Context {
    Context {
        tenant_id,
        tenant_scope: Some(tenant_id),
        actor: Actor::new(ActorKind::Agent, agent_id.to_string()),
        correlation_id,
        causation_id: None,
        at,
        derive_event_ids: false,
    }
}

/// Exchanges an agent's id and secret for tokens. A refusal says why, for the
/// server to count; a failure for an agent that exists is also recorded on
/// its stream, as an audit fact about it.
pub async fn login(
    handler: &Handler,
    issuer: &TokenIssuer,
    agent_id: AgentId,
    secret: String,
    source: Option<String>,
    correlation_id: Option<Uuid>,
) -> Result<(Tokens, u64), LoginError> {
    let at = agentledger_store::now();
    let stream = Agent::stream_id(agent_id);
    let agent = handler.load_stream::<Agent>(&stream).await?.state;
    if !agent.exists {
        return Err(LoginError::Refused(LoginFailure::UnknownAgent));
    }
    let ctx = agent_context(agent_id, agent.tenant_id, at, correlation_id);
    let failure = if !verify_password(secret, agent.secret_hash.clone()).await {
        Some((LoginFailure::WrongSecret, "wrong secret"))
    } else if agent.retired.is_some() {
        Some((LoginFailure::AgentDisabled, "agent retired"))
    } else if !agent.enabled {
        Some((LoginFailure::AgentDisabled, "agent disabled"))
    } else {
        None
    };
    if let Some((failure, reason)) = failure {
        let record = AgentCommand::RecordFailedAuthentication {
            reason: reason.into(),
            source,
        };
        handler.execute::<Agent>(&stream, &ctx, record).await?;
        return Err(LoginError::Refused(failure));
    }
    let session_id = Uuid::now_v7();
    let refresh_secret = random_secret();
    let expires_at = at + Duration::days(REFRESH_TTL_DAYS);
    let start = AgentCommand::StartSession {
        session_id,
        refresh_hash: sha256_hex(&refresh_secret),
        expires_at,
    };
    let executed = handler.execute::<Agent>(&stream, &ctx, start).await?;
    let tokens = Tokens {
        access_token: issuer.issue(agent_id, agent.tenant_id, session_id, at)?,
        token_type: "Bearer",
        expires_in: ACCESS_TTL_SECONDS,
        refresh_token: format_token(
            REFRESH_TOKEN_PREFIX,
            &[agent_id.0, session_id],
            &refresh_secret,
        ),
        refresh_expires_at: expires_at,
    };
    Ok((tokens, executed.position))
}

/// The agent a refresh token names, if it has the shape of one; whether it
/// is valid only `refresh` can tell.
pub fn refresh_token_agent(refresh_token: &str) -> Option<AgentId> {
    parse_token(REFRESH_TOKEN_PREFIX, refresh_token, 2).map(|(ids, _)| AgentId(ids[0]))
}

/// Exchanges a refresh token for new tokens. A token that was already
/// exchanged revokes its whole session: a copy of it is in other hands.
pub async fn refresh(
    handler: &Handler,
    issuer: &TokenIssuer,
    refresh_token: &str,
    correlation_id: Option<Uuid>,
) -> Result<(Tokens, u64), CommandError> {
    let refused = |why: &str| CommandError::Unauthorized(why.into());
    let (ids, secret) = parse_token(REFRESH_TOKEN_PREFIX, refresh_token, 2)
        .ok_or_else(|| refused("invalid refresh token"))?;
    let (agent_id, session_id) = (AgentId(ids[0]), ids[1]);
    let stream = Agent::stream_id(agent_id);
    let agent = handler.load_stream::<Agent>(&stream).await?.state;
    if !agent.exists {
        return Err(refused("invalid refresh token"));
    }
    let at = agentledger_store::now();
    let new_secret = random_secret();
    let expires_at = at + Duration::days(REFRESH_TTL_DAYS);
    let command = AgentCommand::Refresh {
        session_id,
        presented_hash: sha256_hex(secret),
        new_hash: sha256_hex(&new_secret),
        expires_at,
        at,
    };
    let ctx = agent_context(agent_id, agent.tenant_id, at, correlation_id);
    let executed = match handler.execute::<Agent>(&stream, &ctx, command).await {
        Ok(executed) => executed,
        Err(CommandError::Domain(e)) => return Err(refused(&e.to_string())),
        Err(e) => return Err(e),
    };
    if executed
        .events
        .iter()
        .any(|e| matches!(e, AgentEvent::RefreshTokenReused { .. }))
    {
        return Err(refused(
            "refresh token reuse detected; the session is revoked",
        ));
    }
    let tokens = Tokens {
        access_token: issuer.issue(agent_id, agent.tenant_id, session_id, at)?,
        token_type: "Bearer",
        expires_in: ACCESS_TTL_SECONDS,
        refresh_token: format_token(REFRESH_TOKEN_PREFIX, &[agent_id.0, session_id], &new_secret),
        refresh_expires_at: expires_at,
    };
    Ok((tokens, executed.position))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_back_into_their_ids_and_secret() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let secret = random_secret();
        let token = format_token("alr", &[a, b], &secret);
        assert_eq!(
            parse_token("alr", &token, 2),
            Some((vec![a, b], secret.as_str()))
        );
        assert_eq!(parse_token("alk", &token, 2), None);
        assert_eq!(parse_token("alr", &token, 1), None);
        assert_eq!(parse_token("alr", "alr_x_y", 1), None);
        assert!(is_api_key(&format_token("alk", &[a], &secret)));
        assert!(!is_api_key("alkx_1"));
    }
}
