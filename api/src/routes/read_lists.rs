//! Read-model lists that sit beside their write routes: tasks with their
//! history and skipped duplicates, usage history, webhook subscriptions and
//! cache entries. Operators of every role may read them.

use agentledger_app::caller::{Caller, Operator};
use agentledger_app::queries::{Page, tasks, usage, webhooks_and_cache};
use agentledger_domain::ids::{TaskId, TenantId};
use agentledger_projections::tasks::{SkippedTask, TaskDetail, TaskRow};
use agentledger_projections::usage::{Grouping, Period, UsageRow};
use agentledger_projections::webhooks_and_cache::{CacheRow, WebhookRow};
use axum::Json as Reply;
use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::extract::{Path, Query};
use crate::problem::Problem;
use crate::read_model::list_query;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(task_list))
        .routes(routes!(task_history))
        .routes(routes!(skipped_duplicates))
        .routes(routes!(usage))
        .routes(routes!(webhook_list))
        .routes(routes!(cache_list))
}

list_query! {
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
        /// Admins may read another tenant.
        pub tenant_id: Option<TenantId>,
    }
}

/// A page of tasks, as the document names it.
type TaskPage = Page<TaskRow>;

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
    let list = q.list();
    let filter = tasks::Filter {
        task_type: q.task_type,
        status: q.status,
        from: q.from,
        to: q.to,
        tenant_id: q.tenant_id,
    };
    Ok(Reply(tasks::list(&state, &operator, filter, list).await?))
}

/// The parameters of a read of one tenant's model.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReadQuery {
    /// Admins may read another tenant.
    pub tenant_id: Option<TenantId>,
    /// Wait (at most 5 s) until the log up to this position is in the read model.
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
    let found = tasks::history(&state, &operator, task_id, q.tenant_id, q.min_position).await?;
    Ok(Reply(found.value))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SkippedQuery {
    /// A day of the tenant (in its time zone), `YYYY-MM-DD`; today when absent.
    pub date: Option<NaiveDate>,
    /// Admins may read another tenant.
    pub tenant_id: Option<TenantId>,
    /// Wait (at most 5 s) until the log up to this position is in the read model.
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
    let skipped = tasks::skipped(&state, &operator, q.date, q.tenant_id, q.min_position).await?;
    Ok(Reply(SkippedDay {
        date: skipped.date.format("%Y-%m-%d").to_string(),
        count: skipped.items.len(),
        items: skipped.items,
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
    /// Admins may read another tenant.
    pub tenant_id: Option<TenantId>,
    /// Wait (at most 5 s) until the log up to this position is in the read model.
    pub min_position: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UsageHistory {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub items: Vec<UsageRow>,
    pub position: u64,
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
    let asked = usage::Asked {
        from: q.from,
        to: q.to,
        period: q.period,
        by: q.by,
        tenant_id: q.tenant_id,
    };
    let history = usage::history(&state, &operator, asked, q.min_position).await?;
    Ok(Reply(UsageHistory {
        from: history.from,
        to: history.to,
        items: history.items,
        position: history.position,
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
    let found =
        webhooks_and_cache::subscriptions(&state, &caller, q.tenant_id, q.min_position).await?;
    Ok(Reply(found.value))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CacheQuery {
    pub cache_type: Option<String>,
    /// Admins may read another tenant.
    pub tenant_id: Option<TenantId>,
    /// Wait (at most 5 s) until the log up to this position is in the read model.
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
    let found = webhooks_and_cache::live_cache(
        &state,
        &operator,
        q.cache_type.as_deref(),
        q.tenant_id,
        q.min_position,
    )
    .await?;
    Ok(Reply(found.value))
}
