//! Webhook subscriptions and the agents' cache. Operators who may run
//! commands manage every subscription of their tenant; agents with
//! `webhooks:manage` only those they made. Agents with `cache:write` store
//! entries; operators invalidate them.

use std::time::Duration;

use agentledger_commands::Context;
use agentledger_commands::webhooks::{
    Subscription, invalidate_cache, store_cache_entry, subscribe,
};
use agentledger_domain::webhook::{Manager, Webhook, WebhookCommand};
use agentledger_projections::cache_index::CacheEntry;
use base64::Engine;
use rand::RngCore;
use serde_json::Value;
use uuid::Uuid;

use crate::app::App;
use crate::caller::{AgentCaller, Caller, Operator};
use crate::error::AppError;

/// How long a cache read or invalidation waits for the index to see the log.
const INDEX_CATCH_UP: Duration = Duration::from_secs(2);

/// The caller as a manager of subscriptions.
pub(crate) fn manager(caller: &Caller) -> Result<(Context, Manager), AppError> {
    match caller {
        Caller::Operator(op) => {
            op.require_commands()?;
            Ok((op.context(), Manager::Operator))
        }
        Caller::Agent(agent) => {
            agent.require("webhooks:manage")?;
            Ok((agent.context(), Manager::Agent(agent.agent_id)))
        }
    }
}

/// A signing secret as Standard Webhooks writes them: `whsec_` and the
/// base64 of 32 random bytes.
pub(crate) fn signing_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// A new subscription: its id, its signing secret (shown once) and the
/// position of its event.
pub struct Subscribed {
    pub webhook_id: Uuid,
    pub secret: String,
    pub position: u64,
}

/// Subscribes `url` to `event_types`. The secret is stored before the
/// subscription exists, so no delivery of it can find none.
pub async fn create(
    app: &App,
    caller: &Caller,
    url: String,
    event_types: Vec<String>,
) -> Result<Subscribed, AppError> {
    let (ctx, by) = manager(caller)?;
    let webhook_id = Uuid::now_v7();
    let secret = signing_secret();
    agentledger_store::secrets::save_signing_secret(&app.database, webhook_id, &secret).await?;
    let asked = Subscription {
        webhook_id,
        url,
        event_types,
        secret: secret.clone(),
    };
    let position = subscribe(&app.handler, &ctx, by, asked, app.address_policy).await?;
    Ok(Subscribed {
        webhook_id,
        secret,
        position,
    })
}

/// Decides `command` (made for the caller as a manager) on a subscription;
/// the position of its event. Every change of a subscription goes this way.
pub(crate) async fn decide(
    app: &App,
    caller: &Caller,
    webhook_id: Uuid,
    command: impl FnOnce(Manager) -> WebhookCommand,
) -> Result<u64, AppError> {
    let (ctx, by) = manager(caller)?;
    Ok(app
        .handler
        .run::<Webhook>(&ctx, webhook_id, command(by))
        .await?
        .position)
}

/// Changes a subscription's address and event types; the position of the change.
pub async fn update(
    app: &App,
    caller: &Caller,
    webhook_id: Uuid,
    url: String,
    event_types: Vec<String>,
) -> Result<u64, AppError> {
    let policy = app.address_policy;
    decide(app, caller, webhook_id, |by| WebhookCommand::Update {
        url,
        event_types,
        by,
        policy,
    })
    .await
}

/// Deletes a subscription; the position of the deletion.
pub async fn delete(app: &App, caller: &Caller, webhook_id: Uuid) -> Result<u64, AppError> {
    let position = decide(app, caller, webhook_id, |by| WebhookCommand::Delete { by }).await?;
    // After the event: forgotten first, a refused delete would leave a live
    // subscription that cannot sign. Its waiting deliveries are cancelled
    // without it. A crash in between leaves a secret no one uses.
    agentledger_store::secrets::delete_signing_secret(&app.database, webhook_id).await?;
    Ok(position)
}

/// A live subscription the caller may see: an operator's tenant's, or one
/// the calling agent made.
pub async fn detail(app: &App, caller: &Caller, webhook_id: Uuid) -> Result<Webhook, AppError> {
    Ok(app.load_visible::<Webhook>(caller, webhook_id).await?.state)
}

/// Stores a cache entry for the agent's tenant; the position of the entry.
pub async fn store(
    app: &App,
    agent: &AgentCaller,
    key: (String, String),
    value: Value,
    ttl_seconds: Option<u32>,
) -> Result<u64, AppError> {
    agent.require("cache:write")?;
    let outcome = store_cache_entry(
        &app.handler,
        &agent.context(),
        agent.agent_id,
        key,
        value,
        ttl_seconds,
    )
    .await?;
    Ok(outcome.last_position())
}

/// The live entry of the agent's tenant under `(cache_type, target)`.
pub async fn read(
    app: &App,
    agent: &AgentCaller,
    cache_type: &str,
    target: &str,
) -> Result<CacheEntry, AppError> {
    app.settle(&app.cache_index_progress, INDEX_CATCH_UP)
        .await?;
    app.cache_index
        .get(
            agent.agent.tenant_id,
            cache_type,
            target,
            chrono::Utc::now(),
        )
        .ok_or_else(|| AppError::NotFound("no live cache entry".into()))
}

/// Invalidates the tenant's live entries of a type, a target, both or all:
/// how many there were, and the position of the invalidation.
pub async fn invalidate(
    app: &App,
    operator: &Operator,
    cache_type: Option<String>,
    target: Option<String>,
) -> Result<(u64, u64), AppError> {
    operator.require_commands()?;
    app.settle(&app.cache_index_progress, INDEX_CATCH_UP)
        .await?;
    let entries = app.cache_index.count(
        operator.tenant_id,
        cache_type.as_deref(),
        target.as_deref(),
        chrono::Utc::now(),
    );
    let outcome = invalidate_cache(
        &app.handler,
        &operator.context(),
        cache_type,
        target,
        entries,
    )
    .await?;
    Ok((entries, outcome.last_position()))
}
