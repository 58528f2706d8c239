//! Every budget as it stands (the tenant's, each agent's, each model's), for
//! the list of budgets and for the hard stop: which budgets a task claim or
//! a run report must be under.

use agentledger_domain::Aggregate;
use agentledger_domain::budget::{Budget, BudgetEvent, BudgetScope, Limits, Rule};
use agentledger_domain::ids::TenantId;
use agentledger_store::{Database, on_database};

use crate::engine::{Projection, ProjectionError, clamp, decode_event};
use crate::sql_projection;

pub struct Budgets;

impl Projection for Budgets {
    fn name(&self) -> &'static str {
        "budgets"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["rm_budget_rules"]
    }

    fn event_types(&self) -> &'static [&'static str] {
        <BudgetEvent as strum::VariantNames>::VARIANTS
    }
}

sql_projection!(Budgets, |_this, conn, events| {
    for event in events {
        if !Budget::CATEGORY.holds(&event.stream_id) {
            continue;
        }
        let Some(budget) = decode_event::<BudgetEvent>(event)? else {
            continue;
        };
        let tenant = event.tenant_id.to_string();
        let (scope, rule) = budget.rule();
        let Some(rule) = rule else {
            sqlx::query("DELETE FROM rm_budget_rules WHERE tenant_id = $1 AND scope = $2")
                .bind(&tenant)
                .bind(scope.key())
                .execute(&mut *conn)
                .await?;
            continue;
        };
        let (agent_id, model) = match &scope {
            BudgetScope::Tenant => (None, None),
            BudgetScope::Agent { agent_id } => (Some(agent_id.to_string()), None),
            BudgetScope::Model { model } => (None, Some(model.clone())),
        };
        let thresholds = serde_json::to_string(&rule.thresholds_percent)
            .map_err(|e| ProjectionError::Row(e.to_string()))?;
        sqlx::query(
            "INSERT INTO rm_budget_rules (tenant_id, scope, agent_id, model, daily_tokens, monthly_tokens, \
             daily_cost_micros, monthly_cost_micros, thresholds, hard_stop, updated_us, seq) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (tenant_id, scope) DO UPDATE SET daily_tokens = excluded.daily_tokens, \
             monthly_tokens = excluded.monthly_tokens, daily_cost_micros = excluded.daily_cost_micros, \
             monthly_cost_micros = excluded.monthly_cost_micros, thresholds = excluded.thresholds, \
             hard_stop = excluded.hard_stop, updated_us = excluded.updated_us",
        )
        .bind(&tenant)
        .bind(scope.key())
        .bind(agent_id)
        .bind(model)
        .bind(rule.limits.daily_tokens.map(clamp))
        .bind(rule.limits.monthly_tokens.map(clamp))
        .bind(rule.limits.daily_cost_micros)
        .bind(rule.limits.monthly_cost_micros)
        .bind(thresholds)
        .bind(i64::from(rule.hard_stop))
        .bind(event.occurred_at.timestamp_micros())
        .bind(clamp(event.position))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
});

/// A budget as the model keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetRow {
    pub scope: BudgetScope,
    pub rule: Rule,
    pub updated_us: i64,
    /// The position of its first setting: the key the list is paged by.
    pub seq: i64,
}

type Stored = (
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    String,
    i64,
    i64,
    i64,
);

const COLUMNS: &str = "scope, agent_id, model, daily_tokens, monthly_tokens, daily_cost_micros, \
     monthly_cost_micros, thresholds, hard_stop, updated_us, seq";

fn row(stored: Stored) -> Result<BudgetRow, ProjectionError> {
    let (
        key,
        agent_id,
        model,
        daily_tokens,
        monthly_tokens,
        daily_cost,
        monthly_cost,
        thresholds,
        hard_stop,
        updated_us,
        seq,
    ) = stored;
    let bad = |what: &str| ProjectionError::Row(format!("budget {key}: {what}"));
    let scope = match (agent_id, model) {
        (Some(agent), None) => BudgetScope::Agent {
            agent_id: agent.parse().map_err(|_| bad("agent id"))?,
        },
        (None, Some(model)) => BudgetScope::Model { model },
        (None, None) => BudgetScope::Tenant,
        (Some(_), Some(_)) => return Err(bad("both an agent and a model")),
    };
    let tokens = |n: Option<i64>| {
        n.map(|n| u64::try_from(n).map_err(|_| bad("tokens")))
            .transpose()
    };
    Ok(BudgetRow {
        scope,
        rule: Rule {
            limits: Limits {
                daily_tokens: tokens(daily_tokens)?,
                monthly_tokens: tokens(monthly_tokens)?,
                daily_cost_micros: daily_cost,
                monthly_cost_micros: monthly_cost,
            },
            thresholds_percent: serde_json::from_str(&thresholds).map_err(|_| bad("thresholds"))?,
            hard_stop: hard_stop != 0,
        },
        updated_us,
        seq,
    })
}

/// The tenant's budgets, newest first, before `before` (a `seq`).
pub async fn list(
    db: &Database,
    tenant: TenantId,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<BudgetRow>, ProjectionError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM rm_budget_rules WHERE tenant_id = $1 \
         AND (CAST($2 AS BIGINT) IS NULL OR seq < $2) ORDER BY seq DESC LIMIT $3"
    );
    let rows: Vec<Stored> = on_database!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(tenant.to_string())
        .bind(before)
        .bind(limit)
        .fetch_all(p)
        .await?);
    rows.into_iter().map(row).collect()
}

/// Those of `scopes` that have a budget which stops at its limit.
pub async fn stopping(
    db: &Database,
    tenant: TenantId,
    scopes: &[BudgetScope],
) -> Result<Vec<BudgetRow>, ProjectionError> {
    let keys: Vec<String> = scopes.iter().map(BudgetScope::key).collect();
    let [a, b, c] = [0, 1, 2].map(|i| keys.get(i).cloned());
    let sql = format!(
        "SELECT {COLUMNS} FROM rm_budget_rules WHERE tenant_id = $1 AND hard_stop = 1 \
         AND (scope = $2 OR scope = $3 OR scope = $4)"
    );
    let rows: Vec<Stored> = on_database!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(tenant.to_string())
        .bind(a)
        .bind(b)
        .bind(c)
        .fetch_all(p)
        .await?);
    rows.into_iter().map(row).collect()
}
