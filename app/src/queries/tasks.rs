//! The tasks read model, for operators: tasks with filters, one task with
//! its history, and the tasks skipped as duplicates on one of the tenant's
//! days.

use agentledger_domain::ids::{TaskId, TenantId};
use agentledger_projections::tasks::{self as model, SkippedTask, TaskDetail, TaskRow, Tasks};
use chrono::{DateTime, NaiveDate, Utc};

use crate::app::App;
use crate::caller::Operator;
use crate::error::AppError;
use crate::queries::{Answer, ListParams, Page, check_text_filters, today};
use crate::ranges::time_range;

/// Which tasks to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub task_type: Option<String>,
    pub status: Option<String>,
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created before.
    pub to: Option<DateTime<Utc>>,
    pub tenant_id: Option<TenantId>,
}

/// Tasks newest first (by creation).
pub async fn list(
    app: &App,
    operator: &Operator,
    filter: Filter,
    list: ListParams,
) -> Result<Page<TaskRow>, AppError> {
    check_text_filters(&[
        ("type", filter.task_type.as_deref()),
        ("status", filter.status.as_deref()),
    ])?;
    let (from_us, to_us) = time_range(filter.from, filter.to)?;
    let filter = model::Filter {
        tenant_id: operator.tenant_to_read(filter.tenant_id)?,
        task_type: filter.task_type,
        status: filter.status,
        from_us,
        to_us,
    };
    let limit = list.page_size()?;
    let progress = app.caught_up(&Tasks, list.min_position).await?;
    let items = model::list(&app.database, &filter, list.cursor, limit).await?;
    Ok(Page::new(items, limit, progress.position(), |t| t.position))
}

/// A task of the tenant with its full status history and progress.
pub async fn history(
    app: &App,
    operator: &Operator,
    task_id: TaskId,
    tenant_id: Option<TenantId>,
    min_position: Option<u64>,
) -> Result<Answer<TaskDetail>, AppError> {
    let tenant = operator.tenant_to_read(tenant_id)?;
    let progress = app.caught_up(&Tasks, min_position).await?;
    let detail = model::detail(&app.database, tenant, task_id)
        .await?
        .ok_or_else(|| AppError::NotFound("task not found".into()))?;
    Ok(Answer {
        value: detail,
        position: progress.position(),
    })
}

/// The tasks not created on one day because their dedup key was held.
#[derive(Debug, Clone)]
pub struct Skipped {
    /// The tenant's day.
    pub date: NaiveDate,
    /// Oldest first.
    pub items: Vec<SkippedTask>,
    pub position: u64,
}

/// The tasks skipped on `date` (today when absent), a day of the tenant in
/// its time zone.
pub async fn skipped(
    app: &App,
    operator: &Operator,
    date: Option<NaiveDate>,
    tenant_id: Option<TenantId>,
    min_position: Option<u64>,
) -> Result<Skipped, AppError> {
    let tenant = operator.tenant_to_read(tenant_id)?;
    let progress = app.caught_up(&Tasks, min_position).await?;
    let date = match date {
        Some(date) => date,
        None => today(app, model::ZONES, tenant).await?,
    };
    let items = model::skipped(&app.database, tenant, &date.format("%Y-%m-%d").to_string()).await?;
    Ok(Skipped {
        date,
        items,
        position: progress.position(),
    })
}
