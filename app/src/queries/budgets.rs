//! Every budget of a tenant with its use in the tenant's current day and
//! month, and whether it holds its agents back.

use agentledger_domain::budget::BudgetScope;
use agentledger_domain::ids::TenantId;
use agentledger_projections::budgets::{self as model, BudgetRow, Budgets};
use agentledger_projections::dashboard::{BudgetUse, CostUse, budget_use, cost_use};
use agentledger_projections::engine::{add_capped, clamp};
use agentledger_projections::usage::{self, Spending, Spent};
use serde::Serialize;

use crate::app::App;
use crate::budget_stop::{Calendar, Standing, calendar};
use crate::caller::Operator;
use crate::error::AppError;
use crate::queries::{ListParams, Page};

/// A budget and how much of it is used.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct BudgetStatus {
    pub scope: BudgetScope,
    /// Shares of a limit that raise a warning alert; reaching it always alerts.
    pub thresholds_percent: Vec<u8>,
    /// Whether reaching a limit stops the agents under it (task claims and
    /// run reports answer 429) until the period ends or the limit is raised.
    pub hard_stop: bool,
    /// The tenant's day and month the use is counted in.
    pub day: String,
    pub month: String,
    pub daily_tokens: BudgetUse,
    pub monthly_tokens: BudgetUse,
    pub daily_cost_usd: CostUse,
    pub monthly_cost_usd: CostUse,
    /// A limit is reached (and, with `hard_stop`, its agents are stopped).
    pub reached: bool,
    #[serde(
        rename = "updated_at",
        serialize_with = "agentledger_projections::wire::instant"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_us: i64,
    /// The position of its first setting: the key the list is paged by.
    pub seq: i64,
}

/// The tenant's budgets, newest first, each with its use now.
pub async fn budgets(
    app: &App,
    operator: &Operator,
    tenant_id: Option<TenantId>,
    list: ListParams,
) -> Result<Page<BudgetStatus>, AppError> {
    let tenant = operator.tenant_to_read(tenant_id)?;
    let limit = list.page_size()?;
    let progress = app.caught_up(&Budgets, list.min_position).await?;
    let rows = model::list(&app.database, tenant, list.cursor, limit).await?;
    let calendar = calendar(app, tenant, app.clock.now()).await?;
    let spending = if rows.is_empty() {
        vec![]
    } else {
        usage::spending(&app.database, tenant, &calendar.month, &calendar.day).await?
    };
    let items = rows
        .into_iter()
        .map(|row| status(row, &calendar, &spending))
        .collect();
    Ok(Page::new(items, limit, progress.position(), |b| b.seq))
}

/// A budget with its use, summed from what each agent spent on each model.
fn status(row: BudgetRow, calendar: &Calendar, spending: &[Spending]) -> BudgetStatus {
    let under = |s: &&Spending| match &row.scope {
        BudgetScope::Tenant => true,
        BudgetScope::Agent { agent_id } => s.agent_id == agent_id.to_string(),
        BudgetScope::Model { model } => s.model == *model,
    };
    let add = |a: Spent, b: Spent| (add_capped(a.0, b.0), add_capped(a.1, b.1));
    let (today, this_month) = spending
        .iter()
        .filter(under)
        .fold(((0, 0), (0, 0)), |(d, m), s| {
            (add(d, s.today), add(m, s.this_month))
        });
    let standing = Standing {
        calendar: calendar.clone(),
        today,
        this_month,
    };
    let limits = row.rule.limits;
    let tokens = |n: Option<u64>| n.map(clamp);
    BudgetStatus {
        reached: !standing.reached(&limits).is_empty(),
        daily_tokens: budget_use(today.0, tokens(limits.daily_tokens)),
        monthly_tokens: budget_use(this_month.0, tokens(limits.monthly_tokens)),
        daily_cost_usd: cost_use(today.1, limits.daily_cost_micros),
        monthly_cost_usd: cost_use(this_month.1, limits.monthly_cost_micros),
        day: calendar.day.clone(),
        month: calendar.month.clone(),
        scope: row.scope,
        thresholds_percent: row.rule.thresholds_percent,
        hard_stop: row.rule.hard_stop,
        updated_us: row.updated_us,
        seq: row.seq,
    }
}
