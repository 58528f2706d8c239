//! The hard stop of budgets: an agent under a budget that stops at its
//! limit (the tenant's, its own, or, for a run report, its model's) claims no
//! task and reports no run while that budget's use is at the limit, until
//! the tenant's day or month rolls over or an operator raises the limit.
//!
//! Use is read from the usage model, the figures the dashboard shows, once
//! it has caught up with the log: the run that reaches a limit is recorded
//! and those after it are refused. Use is read, not reserved, so requests
//! arriving at the same instant can all pass and go over the limit together.

use agentledger_commands::Context;
use agentledger_commands::alerts;
use agentledger_domain::alert_policy::{Crossed, budget_alert};
use agentledger_domain::budget::{BudgetScope, Limits, Measure, Period};
use agentledger_domain::calendar;
use agentledger_domain::ids::{AgentId, TenantId};
use agentledger_projections::budgets::{self as model, BudgetRow, Budgets};
use agentledger_projections::usage::{self, Spent, Usage, spent};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::app::App;
use crate::error::AppError;

/// How long a request under a stopping budget waits for the budgets and
/// usage models to reach the log's head before it is decided on what they
/// hold.
const CATCH_UP: Duration = Duration::from_secs(2);

/// The tenant's current day and month, and when each ends.
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    /// `YYYY-MM-DD` and `YYYY-MM` in the tenant's zone.
    pub day: String,
    pub month: String,
    pub day_ends: DateTime<Utc>,
    pub month_ends: DateTime<Utc>,
}

/// The tenant's day and month at `at`, in the zone usage counts days in.
pub async fn calendar(
    app: &App,
    tenant: TenantId,
    at: DateTime<Utc>,
) -> Result<Calendar, AppError> {
    let zone = agentledger_projections::zones::current(&app.database, usage::ZONES, tenant).await?;
    Ok(Calendar {
        day: calendar::day(zone, at),
        month: calendar::month(zone, at),
        day_ends: calendar::period_end(zone, at, false),
        month_ends: calendar::period_end(zone, at, true),
    })
}

/// A budget's use in the tenant's current day and month.
#[derive(Debug, Clone, PartialEq)]
pub struct Standing {
    pub calendar: Calendar,
    /// (tokens, cost in micro-dollars)
    pub today: Spent,
    pub this_month: Spent,
}

/// A limit reached: which, how far, and until when it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Reached {
    pub period: Period,
    pub measure: Measure,
    pub used: i64,
    pub limit: i128,
    pub until: DateTime<Utc>,
}

impl Standing {
    /// Every one of `limits` this use has reached.
    pub fn reached(&self, limits: &Limits) -> Vec<Reached> {
        limits
            .each()
            .into_iter()
            .filter_map(|(period, measure, limit)| {
                let limit = limit?;
                let ((tokens, cost), until) = match period {
                    Period::Day => (self.today, self.calendar.day_ends),
                    Period::Month => (self.this_month, self.calendar.month_ends),
                };
                let used = match measure {
                    Measure::Tokens => tokens,
                    Measure::Cost => cost,
                };
                (i128::from(used) >= limit).then_some(Reached {
                    period,
                    measure,
                    used,
                    limit,
                    until,
                })
            })
            .collect()
    }

    fn period_name(&self, period: Period) -> &str {
        match period {
            Period::Day => &self.calendar.day,
            Period::Month => &self.calendar.month,
        }
    }
}

/// The use of the budget of `scope` in the tenant's current day and month.
async fn standing(
    app: &App,
    tenant: TenantId,
    scope: &BudgetScope,
    calendar: &Calendar,
) -> Result<Standing, AppError> {
    let (today, this_month) =
        spent(&app.database, tenant, scope, &calendar.month, &calendar.day).await?;
    Ok(Standing {
        calendar: calendar.clone(),
        today,
        this_month,
    })
}

/// Refuses (429, with the budget named and when it lifts) an agent whose
/// task claims and run reports a stopping budget holds back; `model` is the
/// model of the run being reported. Of several limits reached, the one that
/// lifts last is named, so a retry at `Retry-After` is not refused again by
/// another. The refusal raises the budget's "reached" alert (the same alert
/// the policy raises on the run that reached it: once per period), so a stop
/// is announced even when the limit was lowered below what was already used.
pub async fn within_budgets(
    app: &App,
    ctx: &Context,
    agent_id: AgentId,
    model: Option<&str>,
) -> Result<(), AppError> {
    let tenant = ctx.tenant_id;
    let mut scopes = vec![BudgetScope::Tenant, BudgetScope::Agent { agent_id }];
    if let Some(model) = model {
        scopes.push(BudgetScope::Model {
            model: model.to_owned(),
        });
    }
    if model::stopping(&app.database, tenant, &scopes)
        .await?
        .is_empty()
    {
        return Ok(());
    }
    // A stopping budget applies: it and its use are read as of the log's
    // head, so a run recorded or a limit changed just before this request
    // counts (only requests at the same instant can pass together).
    app.settle(&app.progress_of(&Budgets), CATCH_UP).await?;
    app.settle(&app.progress_of(&Usage), CATCH_UP).await?;
    let stopping: Vec<BudgetRow> = model::stopping(&app.database, tenant, &scopes).await?;
    let calendar = calendar(app, tenant, app.clock.now()).await?;
    let mut last: Option<(BudgetScope, Reached, String)> = None;
    for budget in stopping {
        let standing = standing(app, tenant, &budget.scope, &calendar).await?;
        for reached in standing.reached(&budget.rule.limits) {
            if last
                .as_ref()
                .is_none_or(|(_, r, _)| reached.until > r.until)
            {
                let name = standing.period_name(reached.period).to_owned();
                last = Some((budget.scope.clone(), reached, name));
            }
        }
    }
    let Some((scope, reached, period_name)) = last else {
        return Ok(());
    };
    let alert = budget_alert(
        tenant,
        &scope,
        true,
        Crossed {
            period: reached.period,
            measure: reached.measure,
            period_name: &period_name,
            percent: 100,
            used: i128::from(reached.used),
            limit: reached.limit,
        },
    );
    // The refusal stands whether or not the alert could be written now; the
    // next refusal tries again.
    if let Err(e) = alerts::raise(&app.handler, ctx, alert).await {
        tracing::warn!(error = %e, %tenant, "the alert of a spent budget was not raised");
    }
    Err(AppError::OverBudget {
        scope,
        period: reached.period,
        measure: reached.measure,
        used: reached.used,
        limit: reached.limit,
        until: reached.until,
        wait: (reached.until - app.clock.now())
            .to_std()
            .unwrap_or_default(),
    })
}
