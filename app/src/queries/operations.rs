//! The operation log read model: actions with filters, and totals by agent,
//! action and resource type.

use agentledger_domain::ids::{AgentId, TenantId};
use agentledger_projections::operation_log::{self as model, Operation, OperationLog, Summary};
use chrono::{DateTime, Utc};

use crate::app::App;
use crate::caller::Operator;
use crate::error::AppError;
use crate::queries::{Answer, ListParams, Page, check_text_filters};
use crate::ranges::time_range;

/// Which operations to list or sum up.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub agent_id: Option<AgentId>,
    pub action: Option<String>,
    pub resource_type: Option<String>,
    pub status: Option<String>,
    /// Inclusive.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub to: Option<DateTime<Utc>>,
    pub tenant_id: Option<TenantId>,
}

impl Filter {
    fn checked(self, operator: &Operator) -> Result<model::Filter, AppError> {
        check_text_filters(&[
            ("action", self.action.as_deref()),
            ("resource_type", self.resource_type.as_deref()),
            ("status", self.status.as_deref()),
        ])?;
        let (from_us, to_us) = time_range(self.from, self.to)?;
        Ok(model::Filter {
            tenant_id: operator.tenant_to_read(self.tenant_id)?,
            agent_id: self.agent_id,
            action: self.action,
            resource_type: self.resource_type,
            status: self.status,
            from_us,
            to_us,
        })
    }
}

/// The operation log, newest first.
pub async fn list(
    app: &App,
    operator: &Operator,
    filter: Filter,
    list: ListParams,
) -> Result<Page<Operation>, AppError> {
    let filter = filter.checked(operator)?;
    let limit = list.page_size()?;
    let progress = app.caught_up(&OperationLog, list.min_position).await?;
    let items = model::list(&app.database, &filter, list.cursor, limit).await?;
    Ok(Page::new(items, limit, progress.position(), |o| o.position))
}

/// Totals over every operation that matches: a summary has no pages.
pub async fn summary(
    app: &App,
    operator: &Operator,
    filter: Filter,
    min_position: Option<u64>,
) -> Result<Answer<Summary>, AppError> {
    let filter = filter.checked(operator)?;
    let progress = app.caught_up(&OperationLog, min_position).await?;
    let summary = model::summary(&app.database, &filter).await?;
    Ok(Answer {
        value: summary,
        position: progress.position(),
    })
}
