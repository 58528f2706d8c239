//! Tools as their latest versions stand, for lists; a tool's versions and
//! tests are read from its stream.

use agentledger_domain::Aggregate;
use agentledger_domain::ids::TenantId;
use agentledger_domain::tool::{Tool, ToolEvent};
use agentledger_store::{Database, on_database};
use serde::Serialize;

use crate::engine::{Projection, ProjectionError, decode_event};
use crate::sql_projection;

pub struct Tools;

impl Projection for Tools {
    fn name(&self) -> &'static str {
        "tools"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["rm_tools"]
    }
}

sql_projection!(Tools, |_this, conn, events| {
    for event in events {
        let Some(tool_id) = Tool::CATEGORY.id_in(&event.stream_id) else {
            continue;
        };
        let Some(tool) = decode_event::<ToolEvent>(event)? else {
            continue;
        };
        let at = event.occurred_at.timestamp_micros();
        match tool {
            ToolEvent::ToolRegistered { definition, .. } => {
                sqlx::query(
                    "INSERT INTO rm_tools (tool_id, tenant_id, name, description, kind, endpoint, auth_ref, \
                     input_schema, version, created_us, updated_us, seq) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9, $10) ON CONFLICT (tool_id) DO NOTHING",
                )
                .bind(tool_id)
                .bind(event.tenant_id.to_string())
                .bind(&definition.name)
                .bind(&definition.description)
                .bind(definition.kind.as_str())
                .bind(&definition.endpoint)
                .bind(&definition.auth_ref)
                .bind(definition.input_schema.to_string())
                .bind(at)
                .bind(crate::engine::clamp(event.position))
                .execute(&mut *conn)
                .await?;
            }
            ToolEvent::ToolUpdated {
                version,
                definition,
            } => {
                sqlx::query(
                    "UPDATE rm_tools SET name = $1, description = $2, kind = $3, endpoint = $4, auth_ref = $5, \
                     input_schema = $6, version = $7, updated_us = $8 WHERE tool_id = $9",
                )
                .bind(&definition.name)
                .bind(&definition.description)
                .bind(definition.kind.as_str())
                .bind(&definition.endpoint)
                .bind(&definition.auth_ref)
                .bind(definition.input_schema.to_string())
                .bind(i64::from(*version))
                .bind(at)
                .bind(tool_id)
                .execute(&mut *conn)
                .await?;
            }
            ToolEvent::ToolDisabled { reason } => {
                sqlx::query(
                    "UPDATE rm_tools SET disabled_reason = $1, updated_us = $2 WHERE tool_id = $3",
                )
                .bind(reason)
                .bind(at)
                .bind(tool_id)
                .execute(&mut *conn)
                .await?;
            }
            ToolEvent::ToolEnabled => {
                sqlx::query("UPDATE rm_tools SET disabled_reason = NULL, updated_us = $1 WHERE tool_id = $2")
                    .bind(at)
                    .bind(tool_id)
                    .execute(&mut *conn)
                    .await?;
            }
            ToolEvent::ToolTested { test } => {
                sqlx::query(
                    "UPDATE rm_tools SET last_test_ok = $1, last_tested_us = $2 WHERE tool_id = $3",
                )
                .bind(test.succeeded)
                .bind(test.at.timestamp_micros())
                .bind(tool_id)
                .execute(&mut *conn)
                .await?;
            }
        }
    }
    Ok(())
});

/// A tool in a list: its latest version.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ToolRow {
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub tool_id: String,
    pub name: String,
    pub description: String,
    /// `http` or `mcp`.
    pub kind: String,
    pub endpoint: String,
    pub auth_ref: Option<String>,
    pub version: i64,
    /// Why it may not be called; absent while it may.
    pub disabled_reason: Option<String>,
    /// Whether its last test succeeded; absent before the first.
    pub last_test_ok: Option<bool>,
    #[serde(
        rename = "last_tested_at",
        serialize_with = "crate::wire::maybe_instant"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub last_tested_us: Option<i64>,
    #[serde(rename = "created_at", serialize_with = "crate::wire::instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_us: i64,
    #[serde(rename = "updated_at", serialize_with = "crate::wire::instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_us: i64,
    /// The position of its registration: the key the list is paged by.
    pub seq: i64,
}

/// The tenant's tools, newest first, of one kind or all, before `before`
/// (a `seq`).
pub async fn list(
    db: &Database,
    tenant: TenantId,
    kind: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<ToolRow>, ProjectionError> {
    Ok(on_database!(db, p => sqlx::query_as::<_, ToolRow>(
        "SELECT tool_id, name, description, kind, endpoint, auth_ref, version, disabled_reason, \
         last_test_ok, last_tested_us, created_us, updated_us, seq FROM rm_tools \
         WHERE tenant_id = $1 AND (CAST($2 AS TEXT) IS NULL OR kind = $2) \
         AND (CAST($3 AS BIGINT) IS NULL OR seq < $3) ORDER BY seq DESC LIMIT $4"
    )
    .bind(tenant.to_string()).bind(kind).bind(before).bind(limit)
    .fetch_all(p)
    .await?))
}
