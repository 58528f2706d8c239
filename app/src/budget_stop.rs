//! The hard stop of budgets: an agent under a budget that stops at its
//! limit (the tenant's, its own, or, for a run report, its model's) claims no
//! task and reports no run while that budget's use is at the limit, until
//! the tenant's day or month rolls over or an operator raises the limit.
//!
//! Use is read from the usage model, the figures the dashboard shows, so the
//! run that reaches a limit is recorded and those after it (once the model
//! has counted it, milliseconds later) are refused.

use agentledger_domain::budget::{BudgetScope, Limits, Measure, Period};
use agentledger_domain::calendar;
use agentledger_domain::ids::{AgentId, TenantId};
use agentledger_projections::budgets::{self as model, BudgetRow};
use agentledger_projections::usage::{self, spent};
use chrono::{DateTime, Utc};

use crate::app::App;
use crate::error::AppError;

/// A budget's use in the tenant's current day and month.
#[derive(Debug, Clone, PartialEq)]
pub struct Standing {
    /// `YYYY-MM-DD` and `YYYY-MM` in the tenant's zone.
    pub day: String,
    pub month: String,
    /// (tokens, cost in micro-dollars)
    pub today: (i64, i64),
    pub this_month: (i64, i64),
    /// When the day and the month end.
    pub day_ends: DateTime<Utc>,
    pub month_ends: DateTime<Utc>,
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
    /// The first of `limits` this use has reached, if any.
    pub fn reached(&self, limits: &Limits) -> Option<Reached> {
        limits
            .each()
            .into_iter()
            .find_map(|(period, measure, limit)| {
                let limit = limit?;
                let ((tokens, cost), until) = match period {
                    Period::Day => (self.today, self.day_ends),
                    Period::Month => (self.this_month, self.month_ends),
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
    }
}

/// The use of the budget of `scope` at `at`, in the tenant's days.
pub async fn standing(
    app: &App,
    tenant: TenantId,
    scope: &BudgetScope,
    at: DateTime<Utc>,
) -> Result<Standing, AppError> {
    let zone = agentledger_projections::zones::current(&app.database, usage::ZONES, tenant).await?;
    let day = calendar::day(zone, at);
    let month = calendar::month(zone, at);
    let db = &app.database;
    let today = spent(db, tenant, scope, &day, &day).await?;
    // Days sort as text: the month's all fall between these two.
    let this_month = spent(
        db,
        tenant,
        scope,
        &format!("{month}-01"),
        &format!("{month}-31"),
    )
    .await?;
    Ok(Standing {
        day,
        month,
        today,
        this_month,
        day_ends: calendar::period_end(zone, at, false),
        month_ends: calendar::period_end(zone, at, true),
    })
}

/// Refuses (429, with the budget named and when it lifts) an agent whose
/// task claims and run reports a stopping budget holds back; `model` is the
/// model of the run being reported.
pub async fn within_budgets(
    app: &App,
    tenant: TenantId,
    agent_id: AgentId,
    model: Option<&str>,
) -> Result<(), AppError> {
    let mut scopes = vec![BudgetScope::Tenant, BudgetScope::Agent { agent_id }];
    if let Some(model) = model {
        scopes.push(BudgetScope::Model {
            model: model.to_owned(),
        });
    }
    let stopping: Vec<BudgetRow> = model::stopping(&app.database, tenant, &scopes).await?;
    let at = app.clock.now();
    for budget in stopping {
        let standing = standing(app, tenant, &budget.scope, at).await?;
        if let Some(reached) = standing.reached(&budget.rule.limits) {
            return Err(AppError::OverBudget {
                scope: budget.scope,
                period: reached.period,
                measure: reached.measure,
                used: reached.used,
                limit: reached.limit,
                until: reached.until,
                wait: (reached.until - app.clock.now())
                    .to_std()
                    .unwrap_or_default(),
            });
        }
    }
    Ok(())
}
