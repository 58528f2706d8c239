//! Tenants, API keys (their role and label, never a secret or its hash)
//! and command templates as they stand, for lists.

use agentledger_domain::Aggregate;
use agentledger_domain::api_key::{ApiKey, ApiKeyEvent};
use agentledger_domain::ids::TenantId;
use agentledger_domain::instruction::{CommandTemplate, TemplateEvent};
use agentledger_domain::tenant::{Tenant, TenantEvent};
use agentledger_store::{Database, on_database};
use serde::Serialize;

use crate::engine::{Projection, ProjectionError, clamp, decode_event};
use crate::sql_projection;

pub struct Directory;

impl Projection for Directory {
    fn name(&self) -> &'static str {
        "directory"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["rm_tenants", "rm_api_keys", "rm_command_templates"]
    }
}

sql_projection!(Directory, |_this, conn, events| {
    for event in events {
        let at = event.occurred_at.timestamp_micros();
        if let Some(id) = Tenant::CATEGORY.id_in(&event.stream_id) {
            match decode_event::<TenantEvent>(event)? {
                Some(TenantEvent::TenantCreated { name, .. }) => {
                    sqlx::query(
                        "INSERT INTO rm_tenants (tenant_id, name, time_zone, created_us, seq) \
                         VALUES ($1, $2, NULL, $3, $4) ON CONFLICT (tenant_id) DO NOTHING",
                    )
                    .bind(id)
                    .bind(name)
                    .bind(at)
                    .bind(clamp(event.position))
                    .execute(&mut *conn)
                    .await?;
                }
                Some(TenantEvent::TenantTimeZoneSet { time_zone }) => {
                    sqlx::query("UPDATE rm_tenants SET time_zone = $1 WHERE tenant_id = $2")
                        .bind(time_zone)
                        .bind(id)
                        .execute(&mut *conn)
                        .await?;
                }
                None => {}
            }
        } else if let Some(id) = ApiKey::CATEGORY.id_in(&event.stream_id) {
            match decode_event::<ApiKeyEvent>(event)? {
                Some(ApiKeyEvent::ApiKeyCreated {
                    tenant_id,
                    role,
                    label,
                    ..
                }) => {
                    sqlx::query(
                        "INSERT INTO rm_api_keys (key_id, tenant_id, role, label, created_us, revoked_us, seq) \
                         VALUES ($1, $2, $3, $4, $5, NULL, $6) ON CONFLICT (key_id) DO NOTHING",
                    )
                    .bind(id)
                    .bind(tenant_id.to_string())
                    .bind(role.as_str())
                    .bind(label)
                    .bind(at)
                    .bind(clamp(event.position))
                    .execute(&mut *conn)
                    .await?;
                }
                Some(ApiKeyEvent::ApiKeyRevoked) => {
                    sqlx::query("UPDATE rm_api_keys SET revoked_us = $1 WHERE key_id = $2")
                        .bind(at)
                        .bind(id)
                        .execute(&mut *conn)
                        .await?;
                }
                None => {}
            }
        } else if let Some(id) = CommandTemplate::CATEGORY.id_in(&event.stream_id) {
            match decode_event::<TemplateEvent>(event)? {
                Some(TemplateEvent::CommandTemplateCreated {
                    tenant_id,
                    name,
                    command,
                    args,
                    timeout_seconds,
                }) => {
                    sqlx::query(
                        "INSERT INTO rm_command_templates (template_id, tenant_id, name, command, args, \
                         timeout_seconds, created_us, updated_us, seq) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) ON CONFLICT (template_id) DO NOTHING",
                    )
                    .bind(id)
                    .bind(tenant_id.to_string())
                    .bind(name)
                    .bind(command)
                    .bind(args.to_string())
                    .bind(i64::from(*timeout_seconds))
                    .bind(at)
                    .bind(clamp(event.position))
                    .execute(&mut *conn)
                    .await?;
                }
                Some(TemplateEvent::CommandTemplateUpdated {
                    name,
                    command,
                    args,
                    timeout_seconds,
                }) => {
                    sqlx::query(
                        "UPDATE rm_command_templates SET name = $1, command = $2, args = $3, \
                         timeout_seconds = $4, updated_us = $5 WHERE template_id = $6",
                    )
                    .bind(name)
                    .bind(command)
                    .bind(args.to_string())
                    .bind(i64::from(*timeout_seconds))
                    .bind(at)
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
                }
                // A deleted template is no longer listed (its stream keeps it).
                Some(TemplateEvent::CommandTemplateDeleted) => {
                    sqlx::query("DELETE FROM rm_command_templates WHERE template_id = $1")
                        .bind(id)
                        .execute(&mut *conn)
                        .await?;
                }
                None => {}
            }
        }
    }
    Ok(())
});

/// A tenant in a list.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct TenantRow {
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub tenant_id: String,
    pub name: String,
    /// The IANA zone its days are counted in; absent for UTC.
    pub time_zone: Option<String>,
    #[serde(rename = "created_at", serialize_with = "crate::wire::instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_us: i64,
    /// The position of its creation: the key the list is paged by.
    pub seq: i64,
}

/// An API key in a list: what it may do and for whom, never its secret.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ApiKeyRow {
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub key_id: String,
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub tenant_id: String,
    /// `admin`, `operator`, `viewer` or `auditor`.
    pub role: String,
    pub label: String,
    #[serde(rename = "created_at", serialize_with = "crate::wire::instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_us: i64,
    /// When it was revoked; absent while it works.
    #[serde(rename = "revoked_at", serialize_with = "crate::wire::maybe_instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub revoked_us: Option<i64>,
    /// The position of its creation: the key the list is paged by.
    pub seq: i64,
}

/// A command template in a list.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct TemplateRow {
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub template_id: String,
    pub name: String,
    pub command: String,
    /// Its arguments, as JSON text.
    pub args: String,
    pub timeout_seconds: i64,
    #[serde(rename = "created_at", serialize_with = "crate::wire::instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_us: i64,
    #[serde(rename = "updated_at", serialize_with = "crate::wire::instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_us: i64,
    /// The position of its creation: the key the list is paged by.
    pub seq: i64,
}

/// Every tenant, newest first, before `before` (a `seq`).
pub async fn tenants(
    db: &Database,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<TenantRow>, ProjectionError> {
    Ok(on_database!(db, p => sqlx::query_as::<_, TenantRow>(
        "SELECT tenant_id, name, time_zone, created_us, seq FROM rm_tenants \
         WHERE (CAST($1 AS BIGINT) IS NULL OR seq < $1) ORDER BY seq DESC LIMIT $2"
    )
    .bind(before).bind(limit)
    .fetch_all(p)
    .await?))
}

/// The API keys of `tenant` (of every tenant when `None`), newest first,
/// revoked ones only when asked.
pub async fn api_keys(
    db: &Database,
    tenant: Option<TenantId>,
    revoked: bool,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<ApiKeyRow>, ProjectionError> {
    Ok(on_database!(db, p => sqlx::query_as::<_, ApiKeyRow>(
        "SELECT key_id, tenant_id, role, label, created_us, revoked_us, seq FROM rm_api_keys \
         WHERE (CAST($1 AS TEXT) IS NULL OR tenant_id = $1) AND ($2 OR revoked_us IS NULL) \
         AND (CAST($3 AS BIGINT) IS NULL OR seq < $3) ORDER BY seq DESC LIMIT $4"
    )
    .bind(tenant.map(|t| t.to_string())).bind(revoked).bind(before).bind(limit)
    .fetch_all(p)
    .await?))
}

/// The tenant's command templates, newest first.
pub async fn templates(
    db: &Database,
    tenant: TenantId,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<TemplateRow>, ProjectionError> {
    Ok(on_database!(db, p => sqlx::query_as::<_, TemplateRow>(
        "SELECT template_id, name, command, args, timeout_seconds, created_us, updated_us, seq \
         FROM rm_command_templates WHERE tenant_id = $1 \
         AND (CAST($2 AS BIGINT) IS NULL OR seq < $2) ORDER BY seq DESC LIMIT $3"
    )
    .bind(tenant.to_string()).bind(before).bind(limit)
    .fetch_all(p)
    .await?))
}
