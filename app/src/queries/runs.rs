//! The run log read model: LLM runs with filters, and one run in full
//! (prompt, response, error, session).

use agentledger_domain::ids::TenantId;
use agentledger_projections::run_log::{self as model, Run, RunDetail, RunLog};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::app::App;
use crate::caller::Operator;
use crate::error::AppError;
use crate::queries::{Answer, ListParams, Page, check_text_filters};
use crate::ranges::time_range;

/// Which runs to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub app_type: Option<String>,
    pub status: Option<String>,
    pub trigger_type: Option<String>,
    /// Inclusive.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub to: Option<DateTime<Utc>>,
    pub tenant_id: Option<TenantId>,
}

/// The run log, newest first.
pub async fn list(
    app: &App,
    operator: &Operator,
    filter: Filter,
    list: ListParams,
) -> Result<Page<Run>, AppError> {
    check_text_filters(&[
        ("app_type", filter.app_type.as_deref()),
        ("status", filter.status.as_deref()),
        ("trigger_type", filter.trigger_type.as_deref()),
    ])?;
    let (from_us, to_us) = time_range(filter.from, filter.to)?;
    let filter = model::Filter {
        tenant_id: operator.tenant_to_read(filter.tenant_id)?,
        app_type: filter.app_type,
        status: filter.status,
        trigger_type: filter.trigger_type,
        from_us,
        to_us,
    };
    let limit = list.page_size()?;
    let progress = app.caught_up(&RunLog, list.min_position).await?;
    let items = model::list(&app.database, &filter, list.cursor, limit).await?;
    Ok(Page::new(items, limit, progress.position(), |r| r.position))
}

/// One run: admins find it in any tenant, everyone else only in their own.
pub async fn detail(
    app: &App,
    operator: &Operator,
    run_id: Uuid,
    min_position: Option<u64>,
) -> Result<Answer<RunDetail>, AppError> {
    let progress = app.caught_up(&RunLog, min_position).await?;
    let tenant = operator.principal.tenant_scope();
    let run = model::detail(&app.database, tenant, &run_id.to_string())
        .await?
        .ok_or_else(|| AppError::NotFound("run not found".into()))?;
    Ok(Answer {
        value: run,
        position: progress.position(),
    })
}
