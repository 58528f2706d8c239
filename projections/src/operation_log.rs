//! The operation log (S0): every action agents record, listable by agent,
//! action, resource type, status and time, newest first, with summaries.

use agentledger_domain::ids::{AgentId, TenantId};
use agentledger_domain::reports::ReportEvent;
use agentledger_store::{Database, on_database};
use serde::Serialize;

use crate::engine::{Projection, ProjectionError, clamp, decode_event};
use crate::{insert_rows, sql_projection};

pub struct OperationLog;

impl Projection for OperationLog {
    fn name(&self) -> &'static str {
        "operation_log"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["rm_operation_log"]
    }
}

sql_projection!(OperationLog, |_this, conn, events| {
    let mut rows = Vec::new();
    for event in events {
        if let Some(action @ ReportEvent::ActionRecorded { .. }) =
            decode_event::<ReportEvent>(event)?
        {
            rows.push((event, action));
        }
    }
    insert_rows!(
        conn,
        "INSERT INTO rm_operation_log (position, tenant_id, agent_id, action, resource_type, resource_id, \
         status, confidence, execution_time_ms, occurred_at_us) ",
        rows,
        " ON CONFLICT (position) DO NOTHING",
        |row, (event, action)| {
            let ReportEvent::ActionRecorded {
                agent_id,
                action,
                resource_type,
                resource_id,
                status,
                confidence,
                execution_time_ms,
                ..
            } = action
            else {
                return; // only actions were kept above
            };
            row.push_bind(event.position as i64)
                .push_bind(event.tenant_id.to_string())
                .push_bind(agent_id.to_string())
                .push_bind(action.as_str())
                .push_bind(resource_type.as_str())
                .push_bind(resource_id.as_deref())
                .push_bind(status.as_str())
                .push_bind(*confidence)
                .push_bind(execution_time_ms.map(clamp))
                .push_bind(event.occurred_at.timestamp_micros());
        }
    );
    Ok(())
});

/// Filters of the list and the summary; `None` does not filter.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub tenant_id: TenantId,
    pub agent_id: Option<AgentId>,
    pub action: Option<String>,
    pub resource_type: Option<String>,
    pub status: Option<String>,
    /// Unix microseconds, inclusive.
    pub from_us: Option<i64>,
    /// Unix microseconds, exclusive.
    pub to_us: Option<i64>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Operation {
    pub position: i64,
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub agent_id: String,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub status: String,
    pub confidence: Option<f64>,
    pub execution_time_ms: Option<i64>,
    #[serde(rename = "occurred_at", serialize_with = "crate::wire::instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub occurred_at_us: i64,
}

// One WHERE clause for the list and the summaries: every filter is a
// parameter that is either NULL or must match.
macro_rules! filtered {
    ($select:literal, $rest:literal) => {
        concat!(
            $select,
            " FROM rm_operation_log WHERE tenant_id = $1 \
             AND (CAST($2 AS TEXT) IS NULL OR agent_id = $2) \
             AND (CAST($3 AS TEXT) IS NULL OR action = $3) \
             AND (CAST($4 AS TEXT) IS NULL OR resource_type = $4) \
             AND (CAST($5 AS TEXT) IS NULL OR status = $5) \
             AND (CAST($6 AS BIGINT) IS NULL OR occurred_at_us >= $6) \
             AND (CAST($7 AS BIGINT) IS NULL OR occurred_at_us < $7) ",
            $rest
        )
    };
}

/// Newest first; `before` is the cursor (a position from the previous page).
pub async fn list(
    db: &Database,
    f: &Filter,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Operation>, ProjectionError> {
    Ok(
        on_database!(db, p => sqlx::query_as::<_, Operation>(filtered!(
        "SELECT position, agent_id, action, resource_type, resource_id, status, confidence, execution_time_ms, occurred_at_us",
        "AND (CAST($8 AS BIGINT) IS NULL OR position < $8) ORDER BY position DESC LIMIT $9"
    ))
    .bind(f.tenant_id.to_string()).bind(f.agent_id.map(|a| a.to_string())).bind(&f.action).bind(&f.resource_type).bind(&f.status)
    .bind(f.from_us).bind(f.to_us).bind(before).bind(limit)
    .fetch_all(p)
    .await?),
    )
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct AgentTotals {
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub agent_id: String,
    pub total: i64,
    pub success: i64,
    pub failed: i64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Count {
    pub name: String,
    pub total: i64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub by_agent: Vec<AgentTotals>,
    /// The ten most frequent.
    pub by_action: Vec<Count>,
    /// The ten most frequent.
    pub by_resource_type: Vec<Count>,
}

pub async fn summary(db: &Database, f: &Filter) -> Result<Summary, ProjectionError> {
    macro_rules! bind_filter {
        ($q:expr) => {
            $q.bind(f.tenant_id.to_string())
                .bind(f.agent_id.map(|a| a.to_string()))
                .bind(&f.action)
                .bind(&f.resource_type)
                .bind(&f.status)
                .bind(f.from_us)
                .bind(f.to_us)
        };
    }
    let by_agent = on_database!(db, p => bind_filter!(sqlx::query_as::<_, AgentTotals>(filtered!(
        "SELECT agent_id, COUNT(*) AS total, \
         SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END) AS success, \
         SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failed",
        "GROUP BY agent_id ORDER BY total DESC, agent_id"
    ))).fetch_all(p).await?);
    let by_action = on_database!(db, p => bind_filter!(sqlx::query_as::<_, Count>(filtered!(
        "SELECT action AS name, COUNT(*) AS total",
        "GROUP BY action ORDER BY total DESC, action LIMIT 10"
    ))).fetch_all(p).await?);
    let by_resource_type = on_database!(db, p => bind_filter!(sqlx::query_as::<_, Count>(filtered!(
        "SELECT resource_type AS name, COUNT(*) AS total",
        "GROUP BY resource_type ORDER BY total DESC, resource_type LIMIT 10"
    ))).fetch_all(p).await?);
    Ok(Summary {
        by_agent,
        by_action,
        by_resource_type,
    })
}
