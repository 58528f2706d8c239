//! Webhook subscriptions and cache entries, as lists of what is current.

use agentledger_domain::Aggregate;
use agentledger_domain::cache::{CACHE, CacheEvent};
use agentledger_domain::ids::{AgentId, TenantId};
use agentledger_domain::webhook::{Webhook, WebhookEvent};
use agentledger_store::{Database, on_database};
use serde::Serialize;

use crate::engine::{Projection, ProjectionError, decode_event};
use crate::sql_projection;

pub struct WebhooksAndCache;

impl Projection for WebhooksAndCache {
    fn name(&self) -> &'static str {
        "webhooks_and_cache"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["rm_webhooks", "rm_cache_entries"]
    }
}

fn types_text(types: &[String]) -> String {
    serde_json::to_string(types).unwrap_or_default()
}

sql_projection!(WebhooksAndCache, |_this, conn, events| {
    for event in events {
        let at = event.occurred_at.timestamp_micros();
        let tenant = event.tenant_id.to_string();
        if let Some(webhook_id) = Webhook::CATEGORY.id_in(&event.stream_id) {
            match decode_event::<WebhookEvent>(event)? {
                Some(WebhookEvent::WebhookSubscribed {
                    url,
                    event_types,
                    owner,
                    ..
                }) => {
                    sqlx::query(
                        "INSERT INTO rm_webhooks (webhook_id, tenant_id, url, event_types, created_us, updated_us, owner_agent_id) \
                         VALUES ($1, $2, $3, $4, $5, $5, $6) ON CONFLICT (webhook_id) DO NOTHING",
                    )
                    .bind(webhook_id)
                    .bind(&tenant)
                    .bind(url)
                    .bind(types_text(event_types))
                    .bind(at)
                    .bind(owner.map(|agent| agent.to_string()))
                    .execute(&mut *conn)
                    .await?;
                }
                Some(WebhookEvent::WebhookUpdated { url, event_types }) => {
                    sqlx::query("UPDATE rm_webhooks SET url = $1, event_types = $2, updated_us = $3 WHERE webhook_id = $4")
                        .bind(url)
                        .bind(types_text(event_types))
                        .bind(at)
                        .bind(webhook_id)
                        .execute(&mut *conn)
                        .await?;
                }
                Some(WebhookEvent::WebhookDeleted) => {
                    sqlx::query("DELETE FROM rm_webhooks WHERE webhook_id = $1")
                        .bind(webhook_id)
                        .execute(&mut *conn)
                        .await?;
                }
                Some(WebhookEvent::WebhookDisabled { reason, .. }) => {
                    sqlx::query("UPDATE rm_webhooks SET disabled_reason = $1, updated_us = $2 WHERE webhook_id = $3")
                        .bind(reason)
                        .bind(at)
                        .bind(webhook_id)
                        .execute(&mut *conn)
                        .await?;
                }
                Some(WebhookEvent::WebhookEnabled) => {
                    sqlx::query("UPDATE rm_webhooks SET disabled_reason = NULL, updated_us = $1 WHERE webhook_id = $2")
                        .bind(at)
                        .bind(webhook_id)
                        .execute(&mut *conn)
                        .await?;
                }
                Some(WebhookEvent::WebhookPinged | WebhookEvent::WebhookReplayRequested { .. })
                | None => {}
            }
        } else if CACHE.holds(&event.stream_id) {
            match decode_event::<CacheEvent>(event)? {
                Some(CacheEvent::CacheEntryStored {
                    agent_id,
                    cache_type,
                    target,
                    value,
                    expires_at,
                }) => {
                    sqlx::query(
                        "INSERT INTO rm_cache_entries (tenant_id, cache_type, target, agent_id, value, stored_us, expires_us) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id, cache_type, target) DO UPDATE SET \
                         agent_id = excluded.agent_id, value = excluded.value, stored_us = excluded.stored_us, \
                         expires_us = excluded.expires_us",
                    )
                    .bind(&tenant)
                    .bind(cache_type)
                    .bind(target)
                    .bind(agent_id.to_string())
                    .bind(value.to_string())
                    .bind(at)
                    .bind(expires_at.map(|t| t.timestamp_micros()))
                    .execute(&mut *conn)
                    .await?;
                }
                Some(CacheEvent::CacheInvalidated {
                    cache_type, target, ..
                }) => {
                    sqlx::query(
                        "DELETE FROM rm_cache_entries WHERE tenant_id = $1 \
                         AND (CAST($2 AS TEXT) IS NULL OR cache_type = $2) AND (CAST($3 AS TEXT) IS NULL OR target = $3)",
                    )
                    .bind(&tenant)
                    .bind(cache_type)
                    .bind(target)
                    .execute(&mut *conn)
                    .await?;
                }
                None => {}
            }
        }
    }
    Ok(())
});

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhookRow {
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub webhook_id: String,
    pub url: String,
    pub event_types: Vec<String>,
    /// The agent that made it; absent for an operator's.
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub owner_agent_id: Option<String>,
    /// Why deliveries to it are stopped (the receiver answered 410, or a
    /// manager disabled it); absent while they go on.
    pub disabled_reason: Option<String>,
    #[serde(rename = "created_at", serialize_with = "crate::wire::instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_us: i64,
    #[serde(rename = "updated_at", serialize_with = "crate::wire::instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_us: i64,
}

/// A row of `rm_webhooks`: id, url, event types (JSON), created, updated,
/// owner, why disabled.
type StoredWebhook = (
    String,
    String,
    String,
    i64,
    i64,
    Option<String>,
    Option<String>,
);

/// The tenant's webhook subscriptions, by id; only `owner`'s when given.
pub async fn webhooks(
    db: &Database,
    tenant: TenantId,
    owner: Option<AgentId>,
) -> Result<Vec<WebhookRow>, ProjectionError> {
    let rows: Vec<StoredWebhook> = on_database!(db, p => sqlx::query_as(
        "SELECT webhook_id, url, event_types, created_us, updated_us, owner_agent_id, disabled_reason FROM rm_webhooks \
         WHERE tenant_id = $1 AND (CAST($2 AS TEXT) IS NULL OR owner_agent_id = $2) ORDER BY webhook_id"
    ).bind(tenant.to_string()).bind(owner.map(|o| o.to_string())).fetch_all(p).await?);
    Ok(rows
        .into_iter()
        .map(
            |(webhook_id, url, types, created_us, updated_us, owner_agent_id, disabled_reason)| {
                WebhookRow {
                    webhook_id,
                    url,
                    event_types: serde_json::from_str(&types).unwrap_or_default(),
                    owner_agent_id,
                    disabled_reason,
                    created_us,
                    updated_us,
                }
            },
        )
        .collect())
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CacheRow {
    pub cache_type: String,
    pub target: String,
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub agent_id: String,
    pub value: serde_json::Value,
    #[serde(rename = "stored_at", serialize_with = "crate::wire::instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub stored_us: i64,
    #[serde(rename = "expires_at", serialize_with = "crate::wire::maybe_instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub expires_us: Option<i64>,
}

/// The tenant's live (unexpired at `now_us`) cache entries, by type and target.
pub async fn cache_entries(
    db: &Database,
    tenant: TenantId,
    cache_type: Option<&str>,
    now_us: i64,
) -> Result<Vec<CacheRow>, ProjectionError> {
    let rows: Vec<(String, String, String, String, i64, Option<i64>)> = on_database!(db, p => sqlx::query_as(
        "SELECT cache_type, target, agent_id, value, stored_us, expires_us FROM rm_cache_entries \
         WHERE tenant_id = $1 AND (CAST($2 AS TEXT) IS NULL OR cache_type = $2) \
         AND (expires_us IS NULL OR expires_us > $3) ORDER BY cache_type, target LIMIT 10000"
    ).bind(tenant.to_string()).bind(cache_type).bind(now_us).fetch_all(p).await?);
    Ok(rows
        .into_iter()
        .map(
            |(cache_type, target, agent_id, value, stored_us, expires_us)| CacheRow {
                cache_type,
                target,
                agent_id,
                value: serde_json::from_str(&value).unwrap_or(serde_json::Value::Null),
                stored_us,
                expires_us,
            },
        )
        .collect())
}
