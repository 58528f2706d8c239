//! The run log (S1): every LLM run, listable by app type, status, trigger
//! type and time, newest first, with the full detail of one run.

use agentledger_domain::ids::TenantId;
use agentledger_domain::reports::ReportEvent;
use agentledger_store::{Database, on_database};
use serde::Serialize;

use crate::engine::{Projection, ProjectionError, clamp, decode_event};
use crate::{insert_rows, sql_projection};

pub struct RunLog;

impl Projection for RunLog {
    fn name(&self) -> &'static str {
        "run_log"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["rm_run_log"]
    }
}

sql_projection!(RunLog, |_this, conn, events| {
    let mut rows = Vec::new();
    for event in events {
        if let Some(run @ ReportEvent::LlmRunRecorded { .. }) = decode_event::<ReportEvent>(event)?
        {
            rows.push((event, run));
        }
    }
    insert_rows!(
        conn,
        "INSERT INTO rm_run_log (position, run_id, tenant_id, agent_id, app_type, trigger_type, member_id, model, \
         prompt_tokens, completion_tokens, cost_micros, latency_ms, status, error_message, session_id, prompt, \
         response, occurred_at_us, task_id) ",
        rows,
        " ON CONFLICT (position) DO NOTHING",
        |row, (event, run)| {
            let ReportEvent::LlmRunRecorded {
                agent_id,
                app_type,
                trigger_type,
                member_id,
                model,
                prompt_tokens,
                completion_tokens,
                cost_micros,
                latency_ms,
                status,
                error_message,
                session_id,
                prompt,
                response,
                task_id,
            } = run
            else {
                return; // only runs were kept above
            };
            row.push_bind(event.position as i64)
                .push_bind(event.event_id.to_string())
                .push_bind(event.tenant_id.to_string())
                .push_bind(agent_id.to_string())
                .push_bind(app_type.as_str())
                .push_bind(trigger_type.as_str())
                .push_bind(member_id.as_deref())
                .push_bind(model.as_str())
                .push_bind(clamp(*prompt_tokens))
                .push_bind(clamp(*completion_tokens))
                .push_bind(*cost_micros)
                .push_bind(clamp(*latency_ms))
                .push_bind(status.as_str())
                .push_bind(error_message.as_deref())
                .push_bind(session_id.as_deref())
                .push_bind(prompt.as_deref())
                .push_bind(response.as_deref())
                .push_bind(event.occurred_at.timestamp_micros())
                .push_bind(task_id.map(|t| t.to_string()));
        }
    );
    Ok(())
});

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub tenant_id: TenantId,
    pub app_type: Option<String>,
    pub status: Option<String>,
    pub trigger_type: Option<String>,
    pub from_us: Option<i64>,
    pub to_us: Option<i64>,
}

/// A run as listed: everything but the prompt and response texts.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Run {
    pub position: i64,
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub run_id: String,
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub agent_id: String,
    pub app_type: String,
    pub trigger_type: String,
    pub member_id: Option<String>,
    pub model: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    #[serde(rename = "cost_usd", serialize_with = "crate::wire::usd")]
    #[cfg_attr(feature = "openapi", schema(value_type = f64))]
    pub cost_micros: i64,
    pub latency_ms: i64,
    pub status: String,
    pub error_message: Option<String>,
    pub session_id: Option<String>,
    /// The task the run was made for, as the agent said.
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub task_id: Option<String>,
    #[serde(rename = "occurred_at", serialize_with = "crate::wire::instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub occurred_at_us: i64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct RunDetail {
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub run: Run,
    pub prompt: Option<String>,
    pub response: Option<String>,
}

const COLUMNS: &str = "position, run_id, agent_id, app_type, trigger_type, member_id, model, prompt_tokens, \
     completion_tokens, cost_micros, latency_ms, status, error_message, session_id, task_id, occurred_at_us";

pub async fn list(
    db: &Database,
    f: &Filter,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Run>, ProjectionError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM rm_run_log WHERE tenant_id = $1 \
         AND (CAST($2 AS TEXT) IS NULL OR app_type = $2) \
         AND (CAST($3 AS TEXT) IS NULL OR status = $3) \
         AND (CAST($4 AS TEXT) IS NULL OR trigger_type = $4) \
         AND (CAST($5 AS BIGINT) IS NULL OR occurred_at_us >= $5) \
         AND (CAST($6 AS BIGINT) IS NULL OR occurred_at_us < $6) \
         AND (CAST($7 AS BIGINT) IS NULL OR position < $7) ORDER BY position DESC LIMIT $8"
    );
    Ok(
        on_database!(db, p => sqlx::query_as::<_, Run>(sqlx::AssertSqlSafe(sql.clone()))
        .bind(f.tenant_id.to_string()).bind(&f.app_type).bind(&f.status).bind(&f.trigger_type)
        .bind(f.from_us).bind(f.to_us).bind(before).bind(limit)
        .fetch_all(p)
        .await?),
    )
}

/// One run, in the tenant given, or in any tenant for `None` (admins).
pub async fn detail(
    db: &Database,
    tenant: Option<TenantId>,
    run_id: &str,
) -> Result<Option<RunDetail>, ProjectionError> {
    let sql = format!(
        "SELECT {COLUMNS}, prompt, response FROM rm_run_log \
         WHERE (CAST($1 AS TEXT) IS NULL OR tenant_id = $1) AND run_id = $2"
    );
    Ok(
        on_database!(db, p => sqlx::query_as::<_, RunDetail>(sqlx::AssertSqlSafe(sql.clone()))
        .bind(tenant.map(|t| t.to_string())).bind(run_id)
        .fetch_optional(p)
        .await?),
    )
}
