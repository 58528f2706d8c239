//! Workflows as they stand, for lists; drafts and versions are read from
//! each workflow's stream.

use agentledger_domain::Aggregate;
use agentledger_domain::ids::TenantId;
use agentledger_domain::workflow::{Workflow, WorkflowEvent};
use agentledger_store::{Database, on_database};
use serde::Serialize;

use crate::engine::{Projection, ProjectionError, decode_event};
use crate::sql_projection;

pub struct Workflows;

impl Projection for Workflows {
    fn name(&self) -> &'static str {
        "workflows"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["rm_workflows"]
    }
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

sql_projection!(Workflows, |_this, conn, events| {
    for event in events {
        let Some(workflow_id) = Workflow::CATEGORY.id_in(&event.stream_id) else {
            continue;
        };
        let Some(workflow) = decode_event::<WorkflowEvent>(event)? else {
            continue;
        };
        let at = event.occurred_at.timestamp_micros();
        match workflow {
            WorkflowEvent::WorkflowCreated { name, draft, .. } => {
                sqlx::query(
                    "INSERT INTO rm_workflows (workflow_id, tenant_id, name, steps, latest_version, archived, \
                     created_us, updated_us, seq) VALUES ($1, $2, $3, $4, 0, FALSE, $5, $5, $6) \
                     ON CONFLICT (workflow_id) DO NOTHING",
                )
                .bind(workflow_id)
                .bind(event.tenant_id.to_string())
                .bind(name)
                .bind(count(draft.steps.len()))
                .bind(at)
                .bind(crate::engine::clamp(event.position))
                .execute(&mut *conn)
                .await?;
            }
            WorkflowEvent::WorkflowDraftEdited { draft } => {
                sqlx::query(
                    "UPDATE rm_workflows SET steps = $1, updated_us = $2 WHERE workflow_id = $3",
                )
                .bind(count(draft.steps.len()))
                .bind(at)
                .bind(workflow_id)
                .execute(&mut *conn)
                .await?;
            }
            WorkflowEvent::WorkflowPublished { version, .. } => {
                sqlx::query("UPDATE rm_workflows SET latest_version = $1, updated_us = $2 WHERE workflow_id = $3")
                    .bind(i64::from(*version))
                    .bind(at)
                    .bind(workflow_id)
                    .execute(&mut *conn)
                    .await?;
            }
            WorkflowEvent::WorkflowArchived => {
                sqlx::query("UPDATE rm_workflows SET archived = TRUE, updated_us = $1 WHERE workflow_id = $2")
                    .bind(at)
                    .bind(workflow_id)
                    .execute(&mut *conn)
                    .await?;
            }
        }
    }
    Ok(())
});

/// A workflow in a list.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct WorkflowRow {
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub workflow_id: String,
    pub name: String,
    /// Steps of its draft.
    pub steps: i64,
    /// The last version published; 0 before the first.
    pub latest_version: i64,
    pub archived: bool,
    #[serde(rename = "created_at", serialize_with = "crate::wire::instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_us: i64,
    #[serde(rename = "updated_at", serialize_with = "crate::wire::instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_us: i64,
    /// The position of its creation: the key the list is paged by.
    pub seq: i64,
}

/// The tenant's workflows, newest first, archived ones only when asked,
/// before `before` (a `seq`).
pub async fn list(
    db: &Database,
    tenant: TenantId,
    archived: bool,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<WorkflowRow>, ProjectionError> {
    Ok(on_database!(db, p => sqlx::query_as::<_, WorkflowRow>(
        "SELECT workflow_id, name, steps, latest_version, archived, created_us, updated_us, seq \
         FROM rm_workflows WHERE tenant_id = $1 AND ($2 OR NOT archived) \
         AND (CAST($3 AS BIGINT) IS NULL OR seq < $3) ORDER BY seq DESC LIMIT $4"
    )
    .bind(tenant.to_string()).bind(archived).bind(before).bind(limit)
    .fetch_all(p)
    .await?))
}
