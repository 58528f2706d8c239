//! Registering and managing agents.

use agentledger_domain::agent::{Agent, AgentCommand};
use agentledger_domain::ids::AgentId;
use agentledger_domain::{Aggregate, DomainError};

use crate::error::CommandError;
use crate::handler::{Context, Handler, in_scope};
use crate::secrets::{hash_password, random_secret};

pub struct NewAgent {
    pub name: String,
    pub kind: String,
    pub permissions: Vec<String>,
    pub rate_limit_per_minute: u32,
}

/// The agent's secret in plaintext is returned here and never again.
pub struct Registered {
    pub agent_id: AgentId,
    pub secret: String,
    pub position: u64,
}

pub async fn register(
    handler: &Handler,
    ctx: &Context,
    agent: NewAgent,
) -> Result<Registered, CommandError> {
    let (secret, secret_hash) = new_secret().await?;
    let command = AgentCommand::Register {
        tenant_id: ctx.tenant_id,
        name: agent.name,
        kind: agent.kind,
        permissions: agent.permissions,
        rate_limit_per_minute: agent.rate_limit_per_minute,
        secret_hash,
    };
    with_secret(handler, ctx, AgentId::new(), command, secret).await
}

pub async fn rotate_secret(
    handler: &Handler,
    ctx: &Context,
    agent_id: AgentId,
) -> Result<Registered, CommandError> {
    // Hashing takes tens of milliseconds: doing it before the tenant check
    // would let the answer's delay tell another tenant's agents from ids that
    // do not exist, and would spend that work on callers who get a 404.
    let stream = Agent::stream_id(agent_id);
    let agent = handler.load_stream::<Agent>(&stream).await?.state;
    if !agent.exists {
        return Err(DomainError::NotFound("agent").into());
    }
    in_scope(ctx, &agent)?;
    let (secret, secret_hash) = new_secret().await?;
    let command = AgentCommand::RotateSecret { secret_hash };
    with_secret(handler, ctx, agent_id, command, secret).await
}

/// A fresh secret and its Argon2id hash.
pub(crate) async fn new_secret() -> Result<(String, String), CommandError> {
    let secret = random_secret();
    let hash = hash_password(secret.clone()).await?;
    Ok((secret, hash))
}

async fn with_secret(
    handler: &Handler,
    ctx: &Context,
    agent_id: AgentId,
    command: AgentCommand,
    secret: String,
) -> Result<Registered, CommandError> {
    let executed = handler.run::<Agent>(ctx, agent_id, command).await?;
    Ok(Registered {
        agent_id,
        secret,
        position: executed.position,
    })
}
