//! Budget and usage: tokens, calls and cost of LLM runs per UTC day, summed
//! per day or month and per tenant, agent or model over a date range.

use agentledger_domain::codec::decode;
use agentledger_domain::reports::ReportEvent;
use agentledger_store::{Database, on_database};
use serde::{Deserialize, Serialize};

use crate::engine::{Projection, ProjectionError, clamp};
use crate::sql_projection;

pub struct Usage;

impl Projection for Usage {
    fn name(&self) -> &'static str {
        "usage"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["rm_usage"]
    }
}

sql_projection!(Usage, |_this, conn, events| {
    for event in events {
        if event.event_type != "LlmRunRecorded" {
            continue;
        }
        let Ok(ReportEvent::LlmRunRecorded {
            agent_id,
            model,
            prompt_tokens,
            completion_tokens,
            cost_micros,
            ..
        }) = decode::<ReportEvent>(&event.event_type, &event.payload)
        else {
            continue;
        };
        sqlx::query(
            "INSERT INTO rm_usage (tenant_id, day, agent_id, model, calls, prompt_tokens, completion_tokens, cost_micros) \
             VALUES ($1, $2, $3, $4, 1, $5, $6, $7) ON CONFLICT (tenant_id, day, agent_id, model) DO UPDATE SET \
             calls = rm_usage.calls + 1, prompt_tokens = rm_usage.prompt_tokens + excluded.prompt_tokens, \
             completion_tokens = rm_usage.completion_tokens + excluded.completion_tokens, \
             cost_micros = rm_usage.cost_micros + excluded.cost_micros",
        )
        .bind(event.tenant_id.to_string())
        .bind(event.occurred_at.format("%Y-%m-%d").to_string())
        .bind(agent_id.to_string())
        .bind(model)
        .bind(clamp(prompt_tokens))
        .bind(clamp(completion_tokens))
        .bind(cost_micros)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
});

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    Month,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grouping {
    Tenant,
    Agent,
    Model,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct UsageRow {
    /// `YYYY-MM-DD` or `YYYY-MM`.
    pub period: String,
    /// The agent id or model; the tenant id when grouped by tenant.
    pub key: String,
    pub calls: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub cost_micros: i64,
}

/// Usage of the tenant from `from` to `to` (both `YYYY-MM-DD`, inclusive),
/// oldest period first, then by key.
pub async fn history(
    db: &Database,
    tenant: &str,
    from: &str,
    to: &str,
    period: Period,
    by: Grouping,
) -> Result<Vec<UsageRow>, ProjectionError> {
    let period = match period {
        Period::Day => "day",
        Period::Month => "SUBSTR(day, 1, 7)",
    };
    let key = match by {
        Grouping::Tenant => "tenant_id",
        Grouping::Agent => "agent_id",
        Grouping::Model => "model",
    };
    let sql = format!(
        "SELECT {period} AS period, {key} AS key, CAST(SUM(calls) AS BIGINT) AS calls, \
         CAST(SUM(prompt_tokens) AS BIGINT) AS prompt_tokens, CAST(SUM(completion_tokens) AS BIGINT) AS completion_tokens, \
         CAST(SUM(prompt_tokens + completion_tokens) AS BIGINT) AS total_tokens, CAST(SUM(cost_micros) AS BIGINT) AS cost_micros \
         FROM rm_usage WHERE tenant_id = $1 AND day >= $2 AND day <= $3 GROUP BY {period}, {key} ORDER BY 1, 2"
    );
    Ok(
        on_database!(db, p => sqlx::query_as::<_, UsageRow>(sqlx::AssertSqlSafe(sql.clone()))
        .bind(tenant).bind(from).bind(to)
        .fetch_all(p)
        .await?),
    )
}
