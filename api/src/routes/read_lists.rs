//! Read-model lists that sit beside their write routes: tasks with their
//! history and skipped duplicates, usage history, webhook subscriptions and
//! cache entries. Operators of every role may read them.

use agentledger_domain::ids::{TaskId, TenantId};
use agentledger_projections::tasks::{self, SkippedTask, TaskDetail, TaskRow, Tasks};
use agentledger_projections::usage::{self, Grouping, Period, Usage, UsageRow, history};
use agentledger_projections::webhooks_and_cache::{
    CacheRow, WebhookRow, WebhooksAndCache, cache_entries, webhooks,
};
use axum::Json as Reply;
use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::extract::{Path, Query};
use crate::problem::Problem;
use crate::read_model::{next_cursor, page_limit, tenant_of, time_range};
use crate::state::AppState;
use agentledger_app::caller::{Caller, Operator};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(task_list))
        .routes(routes!(task_history))
        .routes(routes!(skipped_duplicates))
        .routes(routes!(usage))
        .routes(routes!(webhook_list))
        .routes(routes!(cache_list))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TaskQuery {
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub task_type: Option<String>,
    /// `pending`, `claimed`, `processing`, `completed`, `failed` or `cancelled`.
    pub status: Option<String>,
    /// Created at or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Created before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    pub tenant_id: Option<TenantId>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<i64>,
    /// Items per page, 1 to 500 (50 when absent).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    pub min_position: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskPage {
    pub items: Vec<TaskRow>,
    pub next_cursor: Option<i64>,
    pub position: u64,
}

#[utoipa::path(
    get,
    path = "/api/v1/tasks",
    tag = "read models",
    summary = "Tasks, newest first",
    params(TaskQuery),
    responses((status = 200, description = "A page of tasks", body = TaskPage), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn task_list(
    State(state): State<AppState>,
    operator: Operator,
    Query(q): Query<TaskQuery>,
) -> Result<Reply<TaskPage>, Problem> {
    let (from_us, to_us) = time_range(q.from, q.to)?;
    let filter = tasks::Filter {
        tenant_id: tenant_of(&operator, q.tenant_id)?,
        task_type: q.task_type,
        status: q.status,
        from_us,
        to_us,
    };
    let limit = page_limit(q.limit)?;
    let progress = state.caught_up(&Tasks, q.min_position).await?;
    let items = tasks::list(&state.database, &filter, q.cursor, limit).await?;
    Ok(Reply(TaskPage {
        next_cursor: next_cursor(&items, limit, |t| t.position),
        items,
        position: progress.position(),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReadQuery {
    pub tenant_id: Option<TenantId>,
    pub min_position: Option<u64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/tasks/{task_id}/history",
    tag = "read models",
    summary = "A task with its full status history and progress",
    params(("task_id" = uuid::Uuid, Path), ReadQuery),
    responses((status = 200, description = "The task with its history", body = TaskDetail), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn task_history(
    State(state): State<AppState>,
    operator: Operator,
    Path(task_id): Path<TaskId>,
    Query(q): Query<ReadQuery>,
) -> Result<Reply<TaskDetail>, Problem> {
    let tenant = tenant_of(&operator, q.tenant_id)?;
    state.caught_up(&Tasks, q.min_position).await?;
    tasks::detail(&state.database, &tenant, &task_id.to_string())
        .await?
        .map(Reply)
        .ok_or_else(|| Problem::not_found("task not found"))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SkippedQuery {
    /// A day of the tenant (in its time zone), `YYYY-MM-DD`; today when absent.
    pub date: Option<NaiveDate>,
    pub tenant_id: Option<TenantId>,
    pub min_position: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SkippedDay {
    pub date: String,
    pub count: usize,
    pub items: Vec<SkippedTask>,
}

#[utoipa::path(
    get,
    path = "/api/v1/tasks/skipped-duplicates",
    tag = "read models",
    summary = "Tasks not created because their dedup key was held, on one day",
    params(SkippedQuery),
    responses((status = 200, description = "The day and its skipped tasks", body = SkippedDay), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn skipped_duplicates(
    State(state): State<AppState>,
    operator: Operator,
    Query(q): Query<SkippedQuery>,
) -> Result<Reply<SkippedDay>, Problem> {
    let tenant = tenant_of(&operator, q.tenant_id)?;
    state.caught_up(&Tasks, q.min_position).await?;
    let date = match q.date {
        Some(date) => date,
        None => today(&state, tasks::ZONES, &tenant).await?,
    }
    .format("%Y-%m-%d")
    .to_string();
    let items = tasks::skipped(&state.database, &tenant, &date).await?;
    Ok(Reply(SkippedDay {
        date,
        count: items.len(),
        items,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    /// First day of the tenant (in its time zone), `YYYY-MM-DD`, inclusive; 30 days before `to` when absent.
    pub from: Option<NaiveDate>,
    /// Last day of the tenant, inclusive; today when absent.
    pub to: Option<NaiveDate>,
    /// `day` (the default) or `month`.
    pub period: Option<Period>,
    /// `tenant` (the default), `agent` or `model`.
    pub by: Option<Grouping>,
    pub tenant_id: Option<TenantId>,
    pub min_position: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UsageHistory {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub items: Vec<UsageRow>,
    pub position: u64,
}

/// At most this many days per query: a range costs days x agents x models rows.
const MAX_USAGE_DAYS: i64 = 3660;

/// The tenant's date today, in the zone `table` (a model's copy of the
/// tenants' zones) holds for it.
pub async fn today(state: &AppState, table: &str, tenant: &str) -> Result<NaiveDate, Problem> {
    let zone = agentledger_projections::zones::current(&state.database, table, tenant).await?;
    Ok(Utc::now().with_timezone(&zone).date_naive())
}

/// The tenant's days a usage query covers, both inclusive: 30 days up to
/// `today` unless told otherwise, at most `MAX_USAGE_DAYS`.
pub fn usage_days(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    today: NaiveDate,
) -> Result<(NaiveDate, NaiveDate), Problem> {
    let to = to.unwrap_or(today);
    let from = match from {
        Some(from) => from,
        None => to
            .checked_sub_days(chrono::Days::new(29))
            .ok_or_else(|| Problem::unprocessable("`to` is too early"))?,
    };
    let days = (to - from).num_days();
    if !(0..MAX_USAGE_DAYS).contains(&days) {
        return Err(Problem::unprocessable(format!(
            "`from` must be on or before `to`, and at most {MAX_USAGE_DAYS} days before it"
        )));
    }
    Ok((from, to))
}

#[utoipa::path(
    get,
    path = "/api/v1/usage",
    tag = "read models",
    summary = "Tokens, calls and cost per day or month, per tenant, agent or model",
    params(UsageQuery),
    responses((status = 200, description = "Usage per period and key, oldest period first", body = UsageHistory), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn usage(
    State(state): State<AppState>,
    operator: Operator,
    Query(q): Query<UsageQuery>,
) -> Result<Reply<UsageHistory>, Problem> {
    let tenant = tenant_of(&operator, q.tenant_id)?;
    let progress = state.caught_up(&Usage, q.min_position).await?;
    let today = today(&state, usage::ZONES, &tenant).await?;
    let (from, to) = usage_days(q.from, q.to, today)?;
    let items = history(
        &state.database,
        &tenant,
        &from.format("%Y-%m-%d").to_string(),
        &to.format("%Y-%m-%d").to_string(),
        q.period.unwrap_or(Period::Day),
        q.by.unwrap_or(Grouping::Tenant),
    )
    .await?;
    Ok(Reply(UsageHistory {
        from,
        to,
        items,
        position: progress.position(),
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/webhooks",
    tag = "read models",
    summary = "Webhook subscriptions: the tenant's for operators, an agent's own for agents",
    params(ReadQuery),
    responses((status = 200, description = "The subscriptions", body = Vec<WebhookRow>), crate::openapi::Problems),
    security(("operator_key" = []), ("agent_token" = [])),
)]
async fn webhook_list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ReadQuery>,
) -> Result<Reply<Vec<WebhookRow>>, Problem> {
    // Operators list the tenant's subscriptions, agents that manage
    // subscriptions list the ones they made.
    let (tenant, owner) = match &caller {
        Caller::Operator(operator) => (tenant_of(operator, q.tenant_id)?, None),
        Caller::Agent(agent) => {
            agent.require("webhooks:manage")?;
            if q.tenant_id.is_some_and(|t| t != agent.agent.tenant_id) {
                return Err(Problem::not_found("tenant not found"));
            }
            (
                agent.agent.tenant_id.to_string(),
                Some(agent.agent_id.to_string()),
            )
        }
    };
    state.caught_up(&WebhooksAndCache, q.min_position).await?;
    Ok(Reply(
        webhooks(&state.database, &tenant, owner.as_deref()).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CacheQuery {
    pub cache_type: Option<String>,
    pub tenant_id: Option<TenantId>,
    pub min_position: Option<u64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/cache",
    tag = "read models",
    summary = "The tenant's live cache entries",
    params(CacheQuery),
    responses((status = 200, description = "The live entries", body = Vec<CacheRow>), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn cache_list(
    State(state): State<AppState>,
    operator: Operator,
    Query(q): Query<CacheQuery>,
) -> Result<Reply<Vec<CacheRow>>, Problem> {
    let tenant = tenant_of(&operator, q.tenant_id)?;
    state.caught_up(&WebhooksAndCache, q.min_position).await?;
    let now = agentledger_store::now().timestamp_micros();
    Ok(Reply(
        cache_entries(&state.database, &tenant, q.cache_type.as_deref(), now).await?,
    ))
}
