//! The dashboard, now or as it was at a past moment, and the alert list,
//! from the dashboard read model.

use std::collections::BTreeMap;

use agentledger_domain::ids::TenantId;
use agentledger_projections::dashboard::{
    self as model, AlertFilter, AlertRow, DashboardView, alert_counts, alerts,
};
use agentledger_projections::point_in_time::dashboard_as_of;
use agentledger_store::AsOf;
use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;

use crate::app::App;
use crate::caller::Operator;
use crate::error::AppError;
use crate::queries::budgets::{BudgetStatus, budgets};
use crate::queries::{ListParams, Page, check_text_filters};
use crate::ranges::{as_of_in_log, time_range};

/// The dashboard and the log position it reflects.
#[derive(Debug, Clone)]
pub struct Dashboard {
    pub view: DashboardView,
    pub position: u64,
    /// For a past dashboard: the moment its days were counted from.
    pub as_of: Option<DateTime<Utc>>,
    /// Now: the tenant's budgets (its own, its agents', its models'), the
    /// newest first page of them, with their use. A past dashboard shows
    /// the tenant's own budget only.
    pub budgets: Option<Vec<BudgetStatus>>,
}

/// Past dashboards built at once by one server; more wait their turn, so
/// repeated requests cost time, not memory or every core.
static PAST_DASHBOARDS: Semaphore = Semaphore::const_new(2);

/// The tenant's dashboard now, or as of a past point of the log (rebuilt
/// from the log for each request; `min_position` does not apply to it).
pub async fn dashboard(
    app: &App,
    operator: &Operator,
    tenant_id: Option<TenantId>,
    min_position: Option<u64>,
    as_of: Option<AsOf>,
) -> Result<Dashboard, AppError> {
    let tenant = operator.tenant_to_read(tenant_id)?;
    if let Some(as_of) = as_of_in_log(as_of)? {
        return past(app, tenant, as_of).await;
    }
    let progress = app.caught_up(&model::Dashboard, min_position).await?;
    let view = model::read(&app.database, tenant, Utc::now()).await?;
    let budgets = budgets(app, operator, Some(tenant), ListParams::default()).await?;
    Ok(Dashboard {
        view,
        position: progress.position(),
        as_of: None,
        budgets: Some(budgets.items),
    })
}

async fn past(app: &App, tenant: TenantId, as_of: AsOf) -> Result<Dashboard, AppError> {
    if let AsOf::Time(t) = as_of
        && t > Utc::now()
    {
        return Err(AppError::Unprocessable("`as_of` is in the future".into()));
    }
    let _turn = PAST_DASHBOARDS
        .acquire()
        .await
        .map_err(|_| AppError::Unavailable("the server is shutting down".into()))?;
    let Some(past) = dashboard_as_of(app.store.clone(), &app.database, tenant, as_of).await? else {
        return Err(AppError::Unprocessable(
            "`as_of` is past the end of the log".into(),
        ));
    };
    Ok(Dashboard {
        view: past.dashboard,
        position: past.position,
        as_of: Some(past.at),
        budgets: None,
    })
}

/// Which alerts to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `pending` (never handled), `acknowledged` or `ignored`.
    pub status: Option<String>,
    pub severity: Option<String>,
    pub source: Option<String>,
    /// Raised at or after.
    pub from: Option<DateTime<Utc>>,
    /// Raised before.
    pub to: Option<DateTime<Utc>>,
    pub tenant_id: Option<TenantId>,
}

/// A page of alerts, and the tenant's alerts per status whatever the filters.
#[derive(Debug, Clone)]
pub struct Alerts {
    pub page: Page<AlertRow>,
    pub counts: BTreeMap<String, i64>,
}

/// Alerts newest first.
pub async fn alert_list(
    app: &App,
    operator: &Operator,
    filter: Filter,
    list: ListParams,
) -> Result<Alerts, AppError> {
    let tenant = operator.tenant_to_read(filter.tenant_id)?;
    let limit = list.page_size()?;
    let progress = app.caught_up(&model::Dashboard, list.min_position).await?;
    check_text_filters(&[
        ("status", filter.status.as_deref()),
        ("severity", filter.severity.as_deref()),
        ("source", filter.source.as_deref()),
    ])?;
    let (from_us, to_us) = time_range(filter.from, filter.to)?;
    let asked = AlertFilter {
        status: filter.status.as_deref(),
        severity: filter.severity.as_deref(),
        source: filter.source.as_deref(),
        from_us,
        to_us,
    };
    let rows = alerts(&app.database, tenant, &asked, list.cursor, limit).await?;
    let page = Page::new(rows, limit, progress.position(), |(p, _)| *p);
    let counts = alert_counts(&app.database, tenant)
        .await?
        .into_iter()
        .collect();
    Ok(Alerts {
        page: page.map(|(_, alert)| alert),
        counts,
    })
}
