//! Budgets and usage: every budget of the tenant with its use today and this
//! month, the usage per day by agent or model, and, for roles that may run
//! commands, a form per budget that sets or removes it. The forms run the
//! same use case as the API's `PUT` and `DELETE` of a budget, and dollars
//! become micro-dollars by the API's own `BudgetLimits::rule`, so a limit
//! typed here is the limit the API would have set.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use agentledger_api::routes::budgets::BudgetLimits;
use agentledger_api::state::AppState;
use agentledger_app::budgets;
use agentledger_app::console_sessions::Session;
use agentledger_app::queries::budgets::{self as listed, BudgetStatus};
use agentledger_app::queries::usage::{self, UsageHistory};
use agentledger_app::queries::{ListParams, MAX_PAGE};
use agentledger_domain::budget::{BudgetCommand, BudgetScope, DEFAULT_THRESHOLDS_PERCENT};
use agentledger_domain::ids::AgentId;
use agentledger_projections::budgets::Budgets;
use agentledger_projections::usage::{Grouping, Period};
use agentledger_projections::wire::dollars;
use askama::Template;
use axum::extract::{Form, State};
use chrono::NaiveDate;
use serde::Deserialize;

use crate::chart::Chart;
use crate::form::{PageQuery, bad_request, given, parsed};
use crate::page::{Layout, PageError, PageResult, html, refresh, rendered};
use crate::session::{Signed, Writer};
use crate::views::links::{Names, agent_names, urlencode};

/// The usage asked for, and the page of budgets, as the URL carries them.
#[derive(Debug, Default, Deserialize)]
pub struct Asked {
    /// `agent` (the default), `model` or `tenant`.
    pub by: Option<String>,
    /// The tenant's first and last day shown, `YYYY-MM-DD`, both inclusive
    /// (the 30 days up to today when blank).
    pub from: Option<String>,
    pub to: Option<String>,
    /// The next page of budgets.
    pub cursor: Option<i64>,
}

/// How usage may be grouped: the form's value, its words, the model's grouping.
static GROUPINGS: [(&str, &str, Grouping); 3] = [
    ("agent", "Agent", Grouping::Agent),
    ("model", "Model", Grouping::Model),
    ("tenant", "Whole tenant", Grouping::Tenant),
];

/// Series a chart draws at most; the smallest others are summed into one,
/// so a tenant with many agents still gets a chart that can be read.
const MAX_SERIES: usize = 8;

/// An option of a `<select>`.
struct Choice {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

/// A budget as the page shows it.
struct Row {
    /// Whose budget it is, as people read it.
    name: String,
    /// The page of what it caps, when there is one.
    link: Option<String>,
    /// The warning thresholds, as read.
    thresholds: String,
    s: BudgetStatus,
    /// Its limits form; empty when the operator may not change budgets here.
    form: String,
}

/// One key's usage on one day, for the table.
struct UsageLine {
    day: String,
    name: String,
    calls: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
    total_tokens: i64,
    cost_micros: i64,
}

#[derive(Template)]
#[template(path = "budgets.html")]
struct Page {
    layout: Layout,
    rows: Vec<Row>,
    /// The tenant's day and month the budgets' use is counted in.
    day: String,
    month: String,
    position: u64,
    next: Option<String>,
    can_edit: bool,
    /// The form to set a budget not set yet (empty when the role cannot write).
    new_form: String,
    groupings: Vec<Choice>,
    /// The grouping's words, for the table's heading.
    by_label: &'static str,
    from: String,
    to: String,
    usage_position: u64,
    tokens_chart: String,
    cost_chart: String,
    usage: Vec<UsageLine>,
    total_calls: i64,
    total_tokens: i64,
    total_cost_micros: i64,
}

/// A budget's limits as a form: prefilled with what it is, or blank with a
/// choice of whose it is for a new one.
#[derive(Template)]
#[template(path = "budget_form.html")]
struct LimitsForm<'a> {
    /// A new budget: its scope is chosen in the form.
    is_new: bool,
    /// The form's name for assistive technology.
    label: String,
    kind: &'static str,
    agent_id: String,
    model: String,
    /// For a new budget: the scopes offered and the tenant's agents `(id, name)`.
    kinds: Vec<Choice>,
    agents: &'a [(String, String)],
    daily_tokens: String,
    monthly_tokens: String,
    daily_cost_usd: String,
    monthly_cost_usd: String,
    thresholds_percent: String,
    hard_stop: bool,
}

impl<'a> LimitsForm<'a> {
    /// The form of a budget that is set, showing its limits as they are.
    fn of(s: &BudgetStatus, label: String) -> Self {
        let (kind, agent_id, model) = match &s.scope {
            BudgetScope::Tenant => ("tenant", String::new(), String::new()),
            BudgetScope::Agent { agent_id } => ("agent", agent_id.to_string(), String::new()),
            BudgetScope::Model { model } => ("model", String::new(), model.clone()),
        };
        let tokens = |limit: Option<i64>| limit.map(|l| l.to_string()).unwrap_or_default();
        // Dollars as the API writes them: saved again unchanged, they
        // convert back to the same micro-dollars.
        let usd = |limit: Option<i64>| limit.map(|m| dollars(m).to_string()).unwrap_or_default();
        LimitsForm {
            is_new: false,
            label,
            kind,
            agent_id,
            model,
            kinds: Vec::new(),
            agents: &[],
            daily_tokens: tokens(s.daily_tokens.limit),
            monthly_tokens: tokens(s.monthly_tokens.limit),
            daily_cost_usd: usd(s.daily_cost_usd.limit),
            monthly_cost_usd: usd(s.monthly_cost_usd.limit),
            thresholds_percent: thresholds_text(&s.thresholds_percent),
            hard_stop: s.hard_stop,
        }
    }

    /// The form of a new budget; the tenant's own is offered (first) while
    /// it has none.
    fn new_budget(agents: &'a [(String, String)], tenant_set: bool) -> Self {
        let mut kinds = Vec::new();
        if !tenant_set {
            kinds.push(Choice {
                value: "tenant",
                label: "The tenant",
                selected: true,
            });
        }
        kinds.push(Choice {
            value: "agent",
            label: "An agent",
            selected: tenant_set,
        });
        kinds.push(Choice {
            value: "model",
            label: "A model",
            selected: false,
        });
        LimitsForm {
            is_new: true,
            label: "A new budget".into(),
            kind: "agent",
            agent_id: String::new(),
            model: String::new(),
            kinds,
            agents,
            daily_tokens: String::new(),
            monthly_tokens: String::new(),
            daily_cost_usd: String::new(),
            monthly_cost_usd: String::new(),
            thresholds_percent: thresholds_text(&DEFAULT_THRESHOLDS_PERCENT),
            hard_stop: false,
        }
    }
}

/// Thresholds as typed in the form: `50, 80, 95`, or `none`.
fn thresholds_text(percents: &[u8]) -> String {
    if percents.is_empty() {
        return "none".into();
    }
    percents
        .iter()
        .map(u8::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn grouping_of(by: &Option<String>) -> Result<(&'static str, &'static str, Grouping), PageError> {
    let asked = given(by).unwrap_or_else(|| "agent".into());
    GROUPINGS
        .iter()
        .find(|(value, _, _)| *value == asked)
        .map(|(value, label, grouping)| (*value, *label, *grouping))
        .ok_or_else(|| bad_request(format!("`by` is agent, model or tenant, not {asked:?}")))
}

/// Whose budget `scope` is, as people read it.
fn scope_name(scope: &BudgetScope, names: &Names) -> String {
    match scope {
        BudgetScope::Tenant => "The tenant".into(),
        BudgetScope::Agent { agent_id } => format!("Agent {}", names.of(&agent_id.to_string())),
        BudgetScope::Model { model } => format!("Model {model}"),
    }
}

fn scope_link(scope: &BudgetScope) -> Option<String> {
    match scope {
        BudgetScope::Agent { agent_id } => Some(format!("/console/agents/{agent_id}")),
        _ => None,
    }
}

/// A usage key as people read it: an agent's name, a model, the tenant.
fn key_name(key: &str, grouping: Grouping, names: &Names, tenant: &str) -> String {
    match grouping {
        Grouping::Agent => names.of(key).to_owned(),
        Grouping::Model => key.to_owned(),
        Grouping::Tenant => tenant.to_owned(),
    }
}

pub async fn page(
    State(state): State<AppState>,
    signed: Signed,
    PageQuery(asked): PageQuery<Asked>,
) -> PageResult {
    let layout = Layout::of(&state, &signed.session, "budgets", "Budgets and usage").await?;
    let operator = &signed.session.operator;
    let (by, by_label, grouping) = grouping_of(&asked.by)?;
    let from = parsed::<NaiveDate>(&asked.from, "from")?;
    let to = parsed::<NaiveDate>(&asked.to, "to")?;

    let list = ListParams {
        cursor: asked.cursor,
        limit: Some(MAX_PAGE),
        ..ListParams::default()
    };
    let found = listed::budgets(&state, operator, None, list).await?;
    let wanted = usage::Asked {
        from,
        to,
        period: Some(Period::Day),
        by: Some(grouping),
        tenant_id: None,
    };
    let history = usage::history(&state, operator, wanted, None).await?;
    let names = agent_names(&state, operator).await?;

    let can_edit = layout.can_write;
    let tenant_set = found.items.iter().any(|b| b.scope == BudgetScope::Tenant);
    let (day, month) = found
        .items
        .first()
        .map(|b| (b.day.clone(), b.month.clone()))
        .unwrap_or_default();
    let mut rows = Vec::with_capacity(found.items.len());
    for s in found.items {
        let name = scope_name(&s.scope, &names);
        let form = if can_edit {
            rendered(&LimitsForm::of(&s, format!("Limits of {name}")))?
        } else {
            String::new()
        };
        rows.push(Row {
            link: scope_link(&s.scope),
            thresholds: if s.thresholds_percent.is_empty() {
                "none".into()
            } else {
                s.thresholds_percent
                    .iter()
                    .map(|p| format!("{p}%"))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            name,
            s,
            form,
        });
    }
    let new_form = if can_edit {
        rendered(&LimitsForm::new_budget(&names.listed, tenant_set))?
    } else {
        String::new()
    };

    let from = history.from.to_string();
    let to = history.to.to_string();
    let next = found.next_cursor.map(|c| {
        format!(
            "/console/budgets?cursor={c}&by={by}&from={}&to={}",
            urlencode(&from),
            urlencode(&to)
        )
    });
    let name = |key: &str| key_name(key, grouping, &names, &layout.tenant_name);
    let (tokens_chart, cost_chart) = charts(&history, name);
    let usage: Vec<UsageLine> = history
        .items
        .iter()
        .rev()
        .map(|r| UsageLine {
            day: r.period.clone(),
            name: name(r.key.as_str()),
            calls: r.calls,
            prompt_tokens: r.prompt_tokens,
            completion_tokens: r.completion_tokens,
            total_tokens: r.total_tokens,
            cost_micros: r.cost_micros,
        })
        .collect();
    let (total_calls, total_tokens, total_cost_micros) =
        usage.iter().fold((0i64, 0i64, 0i64), |(c, t, k), u| {
            (
                c.saturating_add(u.calls),
                t.saturating_add(u.total_tokens),
                k.saturating_add(u.cost_micros),
            )
        });
    let groupings: Vec<Choice> = GROUPINGS
        .iter()
        .map(|(value, label, _)| Choice {
            value,
            label,
            selected: *value == by,
        })
        .collect();
    let (tokens_chart, cost_chart) = if usage.is_empty() {
        (String::new(), String::new())
    } else {
        (tokens_chart.json(), cost_chart.json())
    };
    Ok(html(&Page {
        layout,
        rows,
        day,
        month,
        position: found.position,
        next,
        can_edit,
        new_form,
        groupings,
        by_label,
        from,
        to,
        usage_position: history.position,
        tokens_chart,
        cost_chart,
        usage,
        total_calls,
        total_tokens,
        total_cost_micros,
    }))
}

/// One key's usage a day, over the days shown.
struct Line {
    name: String,
    tokens: Vec<f64>,
    cost: Vec<f64>,
    total_tokens: i64,
}

/// Tokens and cost (in dollars) per day, a series per key, every day of
/// the range shown (a day without use is 0, not a gap).
fn charts(history: &UsageHistory, name: impl Fn(&str) -> String) -> (Chart, Chart) {
    let days: Vec<String> = history
        .from
        .iter_days()
        .take_while(|d| *d <= history.to)
        .map(|d| d.to_string())
        .collect();
    let width = days.len();
    let index: HashMap<&str, usize> = days
        .iter()
        .enumerate()
        .map(|(i, d)| (d.as_str(), i))
        .collect();
    let mut by_key: BTreeMap<&str, Line> = BTreeMap::new();
    for row in &history.items {
        let Some(&i) = index.get(row.period.as_str()) else {
            continue;
        };
        let line = by_key.entry(row.key.as_str()).or_insert_with(|| Line {
            name: name(row.key.as_str()),
            tokens: vec![0.0; width],
            cost: vec![0.0; width],
            total_tokens: 0,
        });
        if let Some(v) = line.tokens.get_mut(i) {
            *v += row.total_tokens as f64;
        }
        if let Some(v) = line.cost.get_mut(i) {
            *v += dollars(row.cost_micros);
        }
        line.total_tokens = line.total_tokens.saturating_add(row.total_tokens);
    }
    let mut lines: Vec<Line> = by_key.into_values().collect();
    lines.sort_by_key(|l| std::cmp::Reverse(l.total_tokens));
    let rest = if lines.len() > MAX_SERIES {
        lines.split_off(MAX_SERIES - 1)
    } else {
        Vec::new()
    };
    let mut tokens = Chart::new(days.clone());
    let mut cost = Chart::new(days);
    for line in lines {
        tokens = tokens.series(&line.name, line.tokens, false);
        cost = cost.series(&line.name, line.cost, false);
    }
    if !rest.is_empty() {
        let mut other_tokens = vec![0.0; width];
        let mut other_cost = vec![0.0; width];
        for line in &rest {
            for (sum, v) in other_tokens.iter_mut().zip(&line.tokens) {
                *sum += *v;
            }
            for (sum, v) in other_cost.iter_mut().zip(&line.cost) {
                *sum += *v;
            }
        }
        let label = format!("{} others", rest.len());
        tokens = tokens.series(&label, other_tokens, false);
        cost = cost.series(&label, other_cost, false);
    }
    (tokens, cost)
}

/// A budget's form as posted: whose budget (hidden for one that is set,
/// chosen for a new one) and its settings as typed.
#[derive(Debug, Deserialize)]
pub struct BudgetForm {
    kind: Option<String>,
    agent_id: Option<String>,
    model: Option<String>,
    daily_tokens: Option<String>,
    monthly_tokens: Option<String>,
    daily_cost_usd: Option<String>,
    monthly_cost_usd: Option<String>,
    thresholds_percent: Option<String>,
    /// Present when the box is ticked.
    hard_stop: Option<String>,
}

impl BudgetForm {
    fn scope(&self) -> Result<BudgetScope, PageError> {
        match given(&self.kind).as_deref() {
            Some("tenant") => Ok(BudgetScope::Tenant),
            Some("agent") => parsed::<AgentId>(&self.agent_id, "agent")?
                .map(|agent_id| BudgetScope::Agent { agent_id })
                .ok_or_else(|| bad_request("choose the agent whose budget this is")),
            // The model's name exactly as runs report it: the domain says
            // which names are valid.
            Some("model") => self
                .model
                .as_deref()
                .filter(|m| !m.trim().is_empty())
                .map(|m| BudgetScope::Model {
                    model: m.to_owned(),
                })
                .ok_or_else(|| {
                    bad_request("name the model whose budget this is, as runs report it")
                }),
            _ => Err(bad_request(
                "a budget is the tenant's, an agent's or a model's",
            )),
        }
    }

    /// The settings as the API's `PUT` body would carry them.
    fn limits(&self) -> Result<BudgetLimits, PageError> {
        Ok(BudgetLimits {
            daily_tokens: number(&self.daily_tokens, "daily tokens", true)?,
            monthly_tokens: number(&self.monthly_tokens, "monthly tokens", true)?,
            daily_cost_usd: number(&self.daily_cost_usd, "daily cost", false)?,
            monthly_cost_usd: number(&self.monthly_cost_usd, "monthly cost", false)?,
            thresholds_percent: thresholds(&self.thresholds_percent)?,
            hard_stop: Some(self.hard_stop.is_some()),
        })
    }
}

/// A number as people type it: spaces, `_` and a `$` are dropped, and in a
/// count the thousands' commas too. A cost keeps its commas, so `12,50`
/// is refused rather than read as 1250 dollars.
fn number<T: FromStr>(
    value: &Option<String>,
    what: &str,
    count: bool,
) -> Result<Option<T>, PageError> {
    let plain = given(value).map(|v| {
        v.chars()
            .filter(|c| !(c.is_whitespace() || *c == '_' || *c == '$' || (count && *c == ',')))
            .collect::<String>()
    });
    parsed::<T>(&plain, what)
}

/// The warning thresholds typed: blank for the default (as the API leaves
/// them out), `none` for none, or whole percents separated by commas.
fn thresholds(text: &Option<String>) -> Result<Option<Vec<u8>>, PageError> {
    let Some(text) = given(text) else {
        return Ok(None);
    };
    if text.eq_ignore_ascii_case("none") {
        return Ok(Some(Vec::new()));
    }
    let mut percents = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let percent = part
            .trim_end_matches('%')
            .trim()
            .parse::<u8>()
            .map_err(|_| {
                bad_request(format!(
                    "`warn at` is whole percents separated by commas (or none), not {part:?}"
                ))
            })?;
        percents.push(percent);
    }
    Ok(Some(percents))
}

/// Sets a budget wholly, as `PUT` does: a limit left blank is no limit.
pub async fn set(
    State(state): State<AppState>,
    Writer(signed): Writer,
    Form(form): Form<BudgetForm>,
) -> PageResult {
    let command = BudgetCommand::Set {
        scope: form.scope()?,
        rule: form.limits()?.rule()?,
    };
    change(&state, &signed.session, command).await
}

/// Removes a budget, as `DELETE` does.
pub async fn remove(
    State(state): State<AppState>,
    Writer(signed): Writer,
    Form(form): Form<BudgetForm>,
) -> PageResult {
    let command = BudgetCommand::Remove {
        scope: form.scope()?,
    };
    change(&state, &signed.session, command).await
}

/// Runs the change, and answers once the budgets model holds it, so the
/// page shown again shows it.
async fn change(state: &AppState, session: &Session, command: BudgetCommand) -> PageResult {
    let position = budgets::change(state, &session.operator, command).await?;
    state.caught_up(&Budgets, Some(position)).await?;
    Ok(refresh())
}
