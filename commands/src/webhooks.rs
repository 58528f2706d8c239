//! Webhook subscriptions and agents' cache entries.

use agentledger_domain::cache::{CACHE, invalidate, store_entry};
use agentledger_domain::ids::AgentId;
use agentledger_domain::webhook::{Manager, Webhook, WebhookCommand};
use agentledger_store::AppendOutcome;
use serde_json::Value;
use uuid::Uuid;

use crate::error::CommandError;
use crate::handler::{Context, Handler};
use crate::secrets::{random_secret, sha256_hex};

/// A new subscription; its signing secret is returned here only.
pub async fn subscribe(
    handler: &Handler,
    ctx: &Context,
    by: Manager,
    url: String,
    event_types: Vec<String>,
) -> Result<(Uuid, String, u64), CommandError> {
    let webhook_id = Uuid::now_v7();
    let secret = random_secret();
    let command = WebhookCommand::Create {
        tenant_id: ctx.tenant_id,
        url,
        event_types,
        secret_hash: sha256_hex(&secret),
        by,
    };
    let executed = handler.run::<Webhook>(ctx, webhook_id, command).await?;
    Ok((webhook_id, secret, executed.position))
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
