//! Enrollment tokens: created and revoked by operators, used by agents to
//! register themselves. A token reads `ale_<token id>_<secret>`: the id says
//! which stream to check (no scan), and only the SHA-256 of the secret is
//! kept, as for API keys.

use agentledger_domain::agent::{Agent, AgentCommand};
use agentledger_domain::enrollment::{EnrollmentToken, EnrollmentTokenCommand};
use agentledger_domain::ids::AgentId;
use agentledger_domain::{Actor, ActorKind, Aggregate, DomainError};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::agents::{Registered, new_secret};
use crate::auth::{format_token, parse_token};
use crate::error::CommandError;
use crate::handler::{Context, Handler};
use crate::secrets::{constant_time_eq, random_secret, sha256_hex};

pub const ENROLLMENT_TOKEN_PREFIX: &str = "ale";

/// A token as an operator asks for it.
pub struct NewToken {
    pub label: String,
    pub expires_at: DateTime<Utc>,
    pub max_uses: u32,
    /// With `permissions`, what enrolled agents get when no preset does.
    pub kind: Option<String>,
    pub permissions: Option<Vec<String>>,
    pub rate_limit_per_minute: u32,
    pub preset: Option<String>,
}

/// A new token: the plaintext here is the only copy there will ever be.
pub struct IssuedToken {
    pub token_id: Uuid,
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub max_uses: u32,
    pub position: u64,
}

/// Why an enrollment did not happen.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    /// The token is malformed, unknown, wrong, revoked, expired or used up.
    /// The caller is told none of which (every refusal reads alike, so ids
    /// of tokens cannot be probed); the reason is for the server's log.
    #[error("invalid enrollment token")]
    Refused(String),
    #[error(transparent)]
    Command(#[from] CommandError),
}

/// A token of `ctx`'s tenant.
pub async fn create_token(
    handler: &Handler,
    ctx: &Context,
    token_id: Uuid,
    new: NewToken,
) -> Result<IssuedToken, CommandError> {
    let secret = random_secret();
    let command = EnrollmentTokenCommand::Create {
        tenant_id: ctx.tenant_id,
        label: new.label,
        secret_hash: sha256_hex(&secret),
        at: ctx.at,
        expires_at: new.expires_at,
        max_uses: new.max_uses,
        kind: new.kind,
        permissions: new.permissions,
        rate_limit_per_minute: new.rate_limit_per_minute,
        preset: new.preset,
    };
    let executed = handler
        .run::<EnrollmentToken>(ctx, token_id, command)
        .await?;
    Ok(IssuedToken {
        token_id,
        token: format_token(ENROLLMENT_TOKEN_PREFIX, &[token_id], &secret),
        expires_at: executed.state.expires_at,
        max_uses: executed.state.max_uses,
        position: executed.position,
    })
}

/// Revokes the token: it enrolls no one from now on.
pub async fn revoke_token(
    handler: &Handler,
    ctx: &Context,
    token_id: Uuid,
) -> Result<u64, CommandError> {
    let executed = handler
        .run::<EnrollmentToken>(ctx, token_id, EnrollmentTokenCommand::Revoke)
        .await?;
    Ok(executed.position)
}

/// Registers a new agent named `name` in the tenant of `token`, with the
/// kind and permissions the token gives, and records the use on the token.
///
/// The use is appended first, decided on the token's stream at the version
/// it was read at: two enrollments racing for the last use cannot both win,
/// since the loser decides again on the fresh state and is refused. Only
/// then is the agent registered (an ordinary `AgentRegistered`); should that
/// append fail, the use stays spent, so a token never enrolls more agents
/// than it allows.
pub async fn enroll(
    handler: &Handler,
    token: &str,
    name: String,
    kind: Option<String>,
    correlation_id: Option<Uuid>,
) -> Result<Registered, EnrollError> {
    DomainError::check_label("name", &name).map_err(CommandError::from)?;
    let refused = |why: &str| EnrollError::Refused(why.to_owned());
    let (ids, secret) = parse_token(ENROLLMENT_TOKEN_PREFIX, token, 1)
        .ok_or_else(|| refused("not an enrollment token"))?;
    let token_id = ids[0];
    let at = agentledger_store::now();
    let found = handler
        .load_stream::<EnrollmentToken>(&EnrollmentToken::stream_id(token_id))
        .await?
        .state;
    if !found.exists {
        return Err(refused("no token has this id"));
    }
    if !constant_time_eq(&sha256_hex(secret), &found.secret_hash) {
        return Err(refused("wrong secret"));
    }
    // Checked again when the use is decided; checked here so a spent token
    // costs no password hash.
    found
        .usable_at(at)
        .map_err(|e| EnrollError::Refused(e.to_string()))?;
    let kind = found.kind_for(kind).map_err(CommandError::from)?;
    let (secret, secret_hash) = new_secret().await?;
    let agent_id = AgentId::new();
    let ctx = Context {
        tenant_id: found.tenant_id,
        tenant_scope: Some(found.tenant_id),
        actor: Actor::new(ActorKind::Agent, agent_id.to_string()),
        correlation_id,
        causation_id: None,
        at,
        derive_event_ids: false,
    };
    let spend = EnrollmentTokenCommand::Use { agent_id, at };
    match handler.run::<EnrollmentToken>(&ctx, token_id, spend).await {
        Ok(_) => {}
        // Revoked, or its last use taken, since it was read.
        Err(CommandError::Domain(e)) => return Err(EnrollError::Refused(e.to_string())),
        Err(e) => return Err(e.into()),
    }
    let register = AgentCommand::Register {
        tenant_id: found.tenant_id,
        name,
        kind,
        permissions: found.permissions,
        rate_limit_per_minute: found.rate_limit_per_minute,
        secret_hash,
    };
    let executed = handler.run::<Agent>(&ctx, agent_id, register).await?;
    Ok(Registered {
        agent_id,
        secret,
        position: executed.position,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentledger_store::memory::MemoryStore;
    use chrono::Duration;
    use std::sync::Arc;

    fn operator(tenant: agentledger_domain::ids::TenantId) -> Context {
        Context::system(tenant, "test")
    }

    fn new_token(max_uses: u32) -> NewToken {
        NewToken {
            label: "rollout".into(),
            expires_at: agentledger_store::now() + Duration::hours(1),
            max_uses,
            kind: Some("moderator".into()),
            permissions: Some(vec!["runs:write".into()]),
            rate_limit_per_minute: 60,
            preset: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_enrollments_never_exceed_the_tokens_uses() {
        let handler = Handler::new(Arc::new(MemoryStore::default()));
        let tenant = agentledger_domain::ids::TenantId::new();
        let issued =
            match create_token(&handler, &operator(tenant), Uuid::now_v7(), new_token(3)).await {
                Ok(issued) => issued,
                Err(e) => panic!("the token was not created: {e}"),
            };
        let attempts = (0..6).map(|n| {
            let handler = handler.clone();
            let token = issued.token.clone();
            tokio::spawn(
                async move { enroll(&handler, &token, format!("agent-{n}"), None, None).await },
            )
        });
        let mut enrolled = Vec::new();
        let mut refused = 0;
        for attempt in attempts.collect::<Vec<_>>() {
            match attempt.await {
                Ok(Ok(registered)) => enrolled.push(registered.agent_id),
                Ok(Err(EnrollError::Refused(_))) => refused += 1,
                other => panic!("unexpected: {:?}", other.map(|r| r.err())),
            }
        }
        assert_eq!((enrolled.len(), refused), (3, 3));
        for agent_id in enrolled {
            let agent = handler.load::<Agent>(agent_id).await.map(|l| l.state);
            let agent = agent.unwrap_or_default();
            assert!(agent.exists && agent.tenant_id == tenant && agent.kind == "moderator");
        }
        let token = handler
            .load::<EnrollmentToken>(issued.token_id)
            .await
            .map(|l| l.state)
            .unwrap_or_default();
        assert_eq!(token.uses_left(), 0);
    }

    #[tokio::test]
    async fn a_wrong_secret_or_a_malformed_token_is_refused_alike() {
        let handler = Handler::new(Arc::new(MemoryStore::default()));
        let tenant = agentledger_domain::ids::TenantId::new();
        let issued =
            match create_token(&handler, &operator(tenant), Uuid::now_v7(), new_token(1)).await {
                Ok(issued) => issued,
                Err(e) => panic!("the token was not created: {e}"),
            };
        let wrong = format_token(
            ENROLLMENT_TOKEN_PREFIX,
            &[issued.token_id],
            &random_secret(),
        );
        let unknown = format_token(ENROLLMENT_TOKEN_PREFIX, &[Uuid::now_v7()], &random_secret());
        for token in [wrong.as_str(), unknown.as_str(), "ale_x_y", ""] {
            let outcome = enroll(&handler, token, "a".into(), None, None).await;
            assert!(matches!(outcome, Err(EnrollError::Refused(_))), "{token}");
        }
        // A name no agent may have is refused before the token is spent.
        let outcome = enroll(&handler, &issued.token, "bad\u{0}".into(), None, None).await;
        assert!(matches!(
            outcome,
            Err(EnrollError::Command(CommandError::Domain(
                DomainError::Invalid(_)
            )))
        ));
        let outcome = enroll(&handler, &issued.token, "good".into(), None, None).await;
        assert!(outcome.is_ok());
    }
}
