//! Webhook subscriptions and agents' cache entries.

use agentledger_domain::address::AddressPolicy;
use agentledger_domain::cache::{CACHE, invalidate, store_entry};
use agentledger_domain::ids::AgentId;
use agentledger_domain::webhook::{Manager, Webhook, WebhookCommand};
use agentledger_store::AppendOutcome;
use serde_json::Value;
use uuid::Uuid;

use crate::error::CommandError;
use crate::handler::{Context, Handler};
use crate::secrets::sha256_hex;

/// A new subscription; its signing secret is returned here only.
/// What a new subscription is: its id and signing secret are the caller's,
/// which keeps the secret where deliveries can read it.
pub struct Subscription {
    pub webhook_id: Uuid,
    pub url: String,
    pub event_types: Vec<String>,
    pub secret: String,
}

/// Creates the subscription; the position of its event.
pub async fn subscribe(
    handler: &Handler,
    ctx: &Context,
    by: Manager,
    asked: Subscription,
    policy: AddressPolicy,
) -> Result<u64, CommandError> {
    let command = WebhookCommand::Create {
        tenant_id: ctx.tenant_id,
        url: asked.url,
        event_types: asked.event_types,
        secret_hash: sha256_hex(&asked.secret),
        by,
        policy,
    };
    let executed = handler
        .run::<Webhook>(ctx, asked.webhook_id, command)
        .await?;
    Ok(executed.position)
}

pub fn cache_stream(ctx: &Context) -> String {
    CACHE.stream(ctx.tenant_id)
}

pub async fn store_cache_entry(
    handler: &Handler,
    ctx: &Context,
    agent_id: AgentId,
    (cache_type, target): (String, String),
    value: Value,
    ttl_seconds: Option<u32>,
) -> Result<AppendOutcome, CommandError> {
    let event = store_entry(agent_id, cache_type, target, value, ttl_seconds, ctx.at)?;
    handler
        .append_facts(&cache_stream(ctx), ctx, &[event])
        .await
}

/// Records an invalidation that affected `entries` live entries.
pub async fn invalidate_cache(
    handler: &Handler,
    ctx: &Context,
    cache_type: Option<String>,
    target: Option<String>,
    entries: u64,
) -> Result<AppendOutcome, CommandError> {
    let event = invalidate(cache_type, target, entries)?;
    handler
        .append_facts(&cache_stream(ctx), ctx, &[event])
        .await
}
