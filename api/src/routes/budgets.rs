//! Budgets: the tenant's own, each agent's and each model's, each with its
//! limits (tokens and cost, per day and month of the tenant), the shares of
//! them that warn, and whether reaching one stops the agents under it. `PUT`
//! replaces a budget wholly; `PATCH` changes the fields sent.

use agentledger_app::budgets;
use agentledger_app::caller::Operator;
use agentledger_app::queries::Page;
use agentledger_app::queries::budgets::{self as listed, BudgetStatus};
use agentledger_domain::budget::{
    BudgetCommand, BudgetScope, DEFAULT_THRESHOLDS_PERCENT, LimitChanges, Limits, Rule, RuleChanges,
};
use agentledger_domain::ids::{AgentId, TenantId};
use agentledger_projections::wire::dollars;
use axum::Json as Reply;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{Array, ArrayBuilder, ObjectBuilder, SchemaType, Type};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::extract::{Json, Path, Query};
use crate::problem::Problem;
use crate::read_model::list_query;
use crate::routes::operators::Done;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(budget_list))
        .routes(routes!(
            tenant_budget,
            set_tenant_budget,
            change_tenant_budget,
            remove_tenant_budget
        ))
        .routes(routes!(
            agent_budget,
            set_agent_budget,
            change_agent_budget,
            remove_agent_budget
        ))
        .routes(routes!(
            model_budget,
            set_model_budget,
            change_model_budget,
            remove_model_budget
        ))
}

/// A budget in the form it is set and read.
#[derive(Debug, utoipa::ToSchema, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetLimits {
    /// Leave a limit out for none.
    #[schema(minimum = 1, maximum = 9_007_199_254_740_991_i64)]
    pub daily_tokens: Option<u64>,
    #[schema(minimum = 1, maximum = 9_007_199_254_740_991_i64)]
    pub monthly_tokens: Option<u64>,
    /// US dollars, more than 0 and at most 1e9; stored as micro-dollars
    /// (an amount under half a micro-dollar is refused).
    #[schema(exclusive_minimum = 0, maximum = 1_000_000_000)]
    pub daily_cost_usd: Option<f64>,
    /// US dollars, more than 0 and at most 1e9.
    #[schema(exclusive_minimum = 0, maximum = 1_000_000_000)]
    pub monthly_cost_usd: Option<f64>,
    /// Shares of a limit (1 to 99, at most 5) whose crossing raises a
    /// warning alert, once per period each; reaching the limit always
    /// raises a critical one. `[50, 80, 95]` when left out.
    #[schema(schema_with = percents)]
    #[serde(default)]
    pub thresholds_percent: Option<Vec<u8>>,
    /// At a limit, stop the agents under the budget (their task claims and
    /// run reports answer 429 naming it) until the period ends or the limit
    /// is raised. `false` when left out.
    #[serde(default)]
    pub hard_stop: Option<bool>,
}

impl From<Rule> for BudgetLimits {
    fn from(rule: Rule) -> Self {
        BudgetLimits {
            daily_tokens: rule.limits.daily_tokens,
            monthly_tokens: rule.limits.monthly_tokens,
            daily_cost_usd: rule.limits.daily_cost_micros.map(dollars),
            monthly_cost_usd: rule.limits.monthly_cost_micros.map(dollars),
            thresholds_percent: Some(rule.thresholds_percent),
            hard_stop: Some(rule.hard_stop),
        }
    }
}

impl BudgetLimits {
    /// The budget these fields set: cost limits from dollars to
    /// micro-dollars, the default thresholds and no stop for those left out.
    /// Public so the console's forms set a budget exactly as `PUT` does.
    pub fn rule(self) -> Result<Rule, Problem> {
        Ok(Rule {
            limits: Limits {
                daily_tokens: self.daily_tokens,
                monthly_tokens: self.monthly_tokens,
                daily_cost_micros: micros(self.daily_cost_usd)?,
                monthly_cost_micros: micros(self.monthly_cost_usd)?,
            },
            thresholds_percent: self
                .thresholds_percent
                .unwrap_or_else(|| DEFAULT_THRESHOLDS_PERCENT.to_vec()),
            hard_stop: self.hard_stop.unwrap_or(false),
        })
    }
}

/// The schema of `thresholds_percent`: at most five whole percents of 1 to
/// 99, or `null`.
fn percents() -> Array {
    let percent = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(99));
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(percent)
        .max_items(Some(5))
        .build()
}

/// A cost limit in micro-dollars: more than 0 (none is left out, not 0),
/// at most 1e9 dollars.
fn micros(usd: Option<f64>) -> Result<Option<i64>, Problem> {
    match usd {
        Some(v) if !v.is_finite() || v <= 0.0 || v > 1e9 => Err(Problem::bad_request(
            "cost limits are more than 0 and at most 1e9 dollars",
        )),
        other => Ok(other.map(|v| (v * 1e6).round() as i64)),
    }
}

/// A present field, `null` included, as `Some`: told apart from one left out.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Changes to a budget, as a JSON merge patch (RFC 7396): a field sent is
/// set, a limit sent as `null` is removed, a field left out is kept.
#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetChanges {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 9_007_199_254_740_991_i64)]
    pub daily_tokens: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 9_007_199_254_740_991_i64)]
    pub monthly_tokens: Option<Option<u64>>,
    /// US dollars, more than 0 and at most 1e9.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f64>, exclusive_minimum = 0, maximum = 1_000_000_000)]
    pub daily_cost_usd: Option<Option<f64>>,
    /// US dollars, more than 0 and at most 1e9.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f64>, exclusive_minimum = 0, maximum = 1_000_000_000)]
    pub monthly_cost_usd: Option<Option<f64>>,
    /// Replaces the warning thresholds (`null` keeps them).
    #[schema(schema_with = percents)]
    #[serde(default)]
    pub thresholds_percent: Option<Vec<u8>>,
    /// `null` keeps it.
    #[serde(default)]
    pub hard_stop: Option<bool>,
}

impl BudgetChanges {
    fn changes(self) -> Result<RuleChanges, Problem> {
        let cost = |change: Option<Option<f64>>| change.map(micros).transpose();
        Ok(RuleChanges {
            limits: LimitChanges {
                daily_tokens: self.daily_tokens,
                monthly_tokens: self.monthly_tokens,
                daily_cost_micros: cost(self.daily_cost_usd)?,
                monthly_cost_micros: cost(self.monthly_cost_usd)?,
            },
            thresholds_percent: self.thresholds_percent,
            hard_stop: self.hard_stop,
        })
    }
}

async fn read(
    state: &AppState,
    operator: &Operator,
    scope: BudgetScope,
) -> Result<Reply<BudgetLimits>, Problem> {
    let rule = budgets::budget(state, operator, scope).await?;
    Ok(Reply(BudgetLimits::from(rule)))
}

async fn set(
    state: &AppState,
    operator: &Operator,
    scope: BudgetScope,
    body: BudgetLimits,
) -> Result<Reply<Done>, Problem> {
    let command = BudgetCommand::Set {
        scope,
        rule: body.rule()?,
    };
    let position = budgets::change(state, operator, command).await?;
    Ok(Reply(Done { position }))
}

async fn change(
    state: &AppState,
    operator: &Operator,
    scope: BudgetScope,
    body: BudgetChanges,
) -> Result<Reply<Done>, Problem> {
    let command = BudgetCommand::Change {
        scope,
        changes: body.changes()?,
    };
    let position = budgets::change(state, operator, command).await?;
    Ok(Reply(Done { position }))
}

async fn remove(
    state: &AppState,
    operator: &Operator,
    scope: BudgetScope,
) -> Result<Reply<Done>, Problem> {
    let position = budgets::change(state, operator, BudgetCommand::Remove { scope }).await?;
    Ok(Reply(Done { position }))
}

#[utoipa::path(
    get,
    path = "/api/v1/budget",
    tag = "budgets",
    summary = "The tenant's budget",
    responses((status = 200, description = "The tenant's budget (no limits while none is set)", body = BudgetLimits), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn tenant_budget(
    State(state): State<AppState>,
    operator: Operator,
) -> Result<Reply<BudgetLimits>, Problem> {
    read(&state, &operator, BudgetScope::Tenant).await
}

/// Replaces the budget wholly: a limit left out is no limit (`PATCH`
/// changes only the fields sent).
#[utoipa::path(
    put,
    path = "/api/v1/budget",
    tag = "budgets",
    summary = "Set the tenant's budget",
    request_body = BudgetLimits,
    responses((status = 200, description = "Set", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn set_tenant_budget(
    State(state): State<AppState>,
    operator: Operator,
    Json(body): Json<BudgetLimits>,
) -> Result<Reply<Done>, Problem> {
    set(&state, &operator, BudgetScope::Tenant, body).await
}

/// Changes the fields sent and keeps the others; decided on the budget as
/// it stands, so two changes at once both count.
#[utoipa::path(
    patch,
    path = "/api/v1/budget",
    tag = "budgets",
    summary = "Change some of the tenant's budget",
    request_body = BudgetChanges,
    responses((status = 200, description = "Changed", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn change_tenant_budget(
    State(state): State<AppState>,
    operator: Operator,
    Json(body): Json<BudgetChanges>,
) -> Result<Reply<Done>, Problem> {
    change(&state, &operator, BudgetScope::Tenant, body).await
}

#[utoipa::path(
    delete,
    path = "/api/v1/budget",
    tag = "budgets",
    summary = "Remove the tenant's budget",
    responses((status = 200, description = "Removed", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn remove_tenant_budget(
    State(state): State<AppState>,
    operator: Operator,
) -> Result<Reply<Done>, Problem> {
    remove(&state, &operator, BudgetScope::Tenant).await
}

#[utoipa::path(
    get,
    path = "/api/v1/agents/{agent_id}/budget",
    tag = "budgets",
    summary = "An agent's budget",
    params(("agent_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The agent's budget", body = BudgetLimits), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn agent_budget(
    State(state): State<AppState>,
    operator: Operator,
    Path(agent_id): Path<AgentId>,
) -> Result<Reply<BudgetLimits>, Problem> {
    read(&state, &operator, BudgetScope::Agent { agent_id }).await
}

/// Replaces the agent's budget wholly (or sets its first).
#[utoipa::path(
    put,
    path = "/api/v1/agents/{agent_id}/budget",
    tag = "budgets",
    summary = "Set an agent's budget",
    params(("agent_id" = uuid::Uuid, Path)),
    request_body = BudgetLimits,
    responses((status = 200, description = "Set", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn set_agent_budget(
    State(state): State<AppState>,
    operator: Operator,
    Path(agent_id): Path<AgentId>,
    Json(body): Json<BudgetLimits>,
) -> Result<Reply<Done>, Problem> {
    set(&state, &operator, BudgetScope::Agent { agent_id }, body).await
}

#[utoipa::path(
    patch,
    path = "/api/v1/agents/{agent_id}/budget",
    tag = "budgets",
    summary = "Change some of an agent's budget",
    params(("agent_id" = uuid::Uuid, Path)),
    request_body = BudgetChanges,
    responses((status = 200, description = "Changed", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn change_agent_budget(
    State(state): State<AppState>,
    operator: Operator,
    Path(agent_id): Path<AgentId>,
    Json(body): Json<BudgetChanges>,
) -> Result<Reply<Done>, Problem> {
    change(&state, &operator, BudgetScope::Agent { agent_id }, body).await
}

#[utoipa::path(
    delete,
    path = "/api/v1/agents/{agent_id}/budget",
    tag = "budgets",
    summary = "Remove an agent's budget",
    params(("agent_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "Removed", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn remove_agent_budget(
    State(state): State<AppState>,
    operator: Operator,
    Path(agent_id): Path<AgentId>,
) -> Result<Reply<Done>, Problem> {
    remove(&state, &operator, BudgetScope::Agent { agent_id }).await
}

#[utoipa::path(
    get,
    path = "/api/v1/model-budgets/{model}",
    tag = "budgets",
    summary = "A model's budget: every run of it, by any agent of the tenant",
    params(("model" = String, Path, description = "The model's name as runs report it (percent-encoded)")),
    responses((status = 200, description = "The model's budget", body = BudgetLimits), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn model_budget(
    State(state): State<AppState>,
    operator: Operator,
    Path(model): Path<String>,
) -> Result<Reply<BudgetLimits>, Problem> {
    read(&state, &operator, BudgetScope::Model { model }).await
}

/// Replaces the model's budget wholly (or sets its first). Its hard stop
/// refuses reports of runs of the model; task claims name no model.
#[utoipa::path(
    put,
    path = "/api/v1/model-budgets/{model}",
    tag = "budgets",
    summary = "Set a model's budget",
    params(("model" = String, Path, description = "The model's name as runs report it (percent-encoded)")),
    request_body = BudgetLimits,
    responses((status = 200, description = "Set", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn set_model_budget(
    State(state): State<AppState>,
    operator: Operator,
    Path(model): Path<String>,
    Json(body): Json<BudgetLimits>,
) -> Result<Reply<Done>, Problem> {
    set(&state, &operator, BudgetScope::Model { model }, body).await
}

#[utoipa::path(
    patch,
    path = "/api/v1/model-budgets/{model}",
    tag = "budgets",
    summary = "Change some of a model's budget",
    params(("model" = String, Path, description = "The model's name as runs report it (percent-encoded)")),
    request_body = BudgetChanges,
    responses((status = 200, description = "Changed", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn change_model_budget(
    State(state): State<AppState>,
    operator: Operator,
    Path(model): Path<String>,
    Json(body): Json<BudgetChanges>,
) -> Result<Reply<Done>, Problem> {
    change(&state, &operator, BudgetScope::Model { model }, body).await
}

#[utoipa::path(
    delete,
    path = "/api/v1/model-budgets/{model}",
    tag = "budgets",
    summary = "Remove a model's budget",
    params(("model" = String, Path, description = "The model's name as runs report it (percent-encoded)")),
    responses((status = 200, description = "Removed", body = Done), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn remove_model_budget(
    State(state): State<AppState>,
    operator: Operator,
    Path(model): Path<String>,
) -> Result<Reply<Done>, Problem> {
    remove(&state, &operator, BudgetScope::Model { model }).await
}

list_query! {
    pub struct BudgetQuery {
        /// Admins may read another tenant.
        pub tenant_id: Option<TenantId>,
    }
}

/// A page of budgets, as the document names it.
type BudgetPage = Page<BudgetStatus>;

#[utoipa::path(
    get,
    path = "/api/v1/budgets",
    operation_id = "budgets",
    tag = "budgets",
    summary = "Every budget of the tenant with its use today and this month, newest first",
    params(BudgetQuery),
    responses((status = 200, description = "A page of budgets", body = BudgetPage), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn budget_list(
    State(state): State<AppState>,
    operator: Operator,
    Query(q): Query<BudgetQuery>,
) -> Result<Reply<BudgetPage>, Problem> {
    let list = q.list();
    Ok(Reply(
        listed::budgets(&state, &operator, q.tenant_id, list).await?,
    ))
}
