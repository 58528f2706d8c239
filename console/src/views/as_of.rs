//! The dashboard as it was at a chosen moment, beside the dashboard now: the
//! overview's figures and the week's trend, each read by the app's one
//! dashboard query (once with `as_of`, once without), so the past column is
//! what the overview showed then. Open to every role, as the API's
//! dashboard is.

use agentledger_api::state::AppState;
use agentledger_app::queries::dashboard::{Dashboard, dashboard};
use agentledger_projections::dashboard::{BudgetUse, CostUse, DayTotals};
use agentledger_store::AsOf;
use askama::Template;
use axum::extract::State;
use serde::Deserialize;

use crate::form::{PageQuery, given, local_time, parsed};
use crate::format::{Zone, count, dollars, maybe_ms, ms, percent};
use crate::page::{Layout, PageResult, html};
use crate::session::Signed;

/// The moment asked for, as the form sends it.
#[derive(Debug, Default, Deserialize)]
pub struct Asked {
    /// A wall-clock time in the tenant's zone (`datetime-local`).
    pub at: Option<String>,
    /// Or a log position, which wins when both are given.
    pub position: Option<String>,
}

/// A figure of the overview, then and now.
struct Figure {
    label: &'static str,
    past: String,
    now: String,
}

/// The week up to a dashboard's day.
struct Trend {
    heading: String,
    days: Vec<DayTotals>,
}

/// The two dashboards, figure by figure.
struct Compared {
    past_heading: String,
    now_heading: String,
    /// The zone the days were counted in, and the log positions read.
    note: String,
    figures: Vec<Figure>,
    trends: Vec<Trend>,
}

#[derive(Template)]
#[template(path = "audit_as_of.html")]
struct Page {
    layout: Layout,
    at: String,
    position: String,
    compared: Option<Compared>,
}

/// What the figures are called, in the order [`figures`] gives them.
const LABELS: [&str; 11] = [
    "Day counted",
    "Calls that day",
    "Success rate",
    "Tokens that day",
    "Average latency",
    "p95 latency",
    "Cost that day",
    "Tokens of the day against the budget",
    "Tokens of the month against the budget",
    "Cost of the month",
    "Log position",
];

fn tokens_of(used: &BudgetUse) -> String {
    match used.limit {
        Some(limit) => format!(
            "{} of {} ({})",
            count(&used.used),
            count(&limit),
            percent(&used.share)
        ),
        None => format!("{} (no limit)", count(&used.used)),
    }
}

fn cost_of(used: &CostUse) -> String {
    match used.limit {
        Some(limit) => format!(
            "{} of {} ({})",
            dollars(&used.used),
            dollars(&limit),
            percent(&used.share)
        ),
        None => format!("{} (no limit)", dollars(&used.used)),
    }
}

/// The overview's card figures of a dashboard, in the order of [`LABELS`].
fn figures(d: &Dashboard) -> [String; 11] {
    let today = &d.view.today;
    let budget = &d.view.budget;
    [
        today.date.clone(),
        count(&today.calls),
        percent(&today.success_rate),
        count(&today.tokens),
        ms(&today.avg_latency_ms),
        maybe_ms(&today.p95_latency_ms),
        cost_of(&budget.daily_cost_micros),
        tokens_of(&budget.daily_tokens),
        tokens_of(&budget.monthly_tokens),
        cost_of(&budget.monthly_cost_micros),
        d.position.to_string(),
    ]
}

impl Compared {
    fn of(past: &Dashboard, now: &Dashboard, zone: Zone) -> Self {
        let past_heading = format!("As of {}", zone.maybe_at(&past.as_of));
        let now_heading = "Now".to_owned();
        let figures: Vec<Figure> = LABELS
            .iter()
            .zip(figures(past))
            .zip(figures(now))
            .map(|((label, past), now)| Figure { label, past, now })
            .collect();
        Compared {
            note: format!(
                "Days counted in {} · the past dashboard rebuilt from the log up to position {}, the present one read at position {}",
                now.view.time_zone, past.position, now.position
            ),
            trends: vec![
                Trend {
                    heading: past_heading.clone(),
                    days: past.view.trend.clone(),
                },
                Trend {
                    heading: now_heading.clone(),
                    days: now.view.trend.clone(),
                },
            ],
            figures,
            past_heading,
            now_heading,
        }
    }
}

pub async fn page(
    State(state): State<AppState>,
    signed: Signed,
    PageQuery(asked): PageQuery<Asked>,
) -> PageResult {
    let layout = Layout::of(
        &state,
        &signed.session,
        "audit",
        "The dashboard as of a moment",
    )
    .await?;
    let operator = &signed.session.operator;
    let position = parsed::<u64>(&asked.position, "position")?;
    let at = local_time(&asked.at, layout.zone, "moment")?;
    let as_of = match (position, at) {
        (Some(position), _) => Some(AsOf::Position(position)),
        (None, Some(at)) => Some(AsOf::Time(at)),
        (None, None) => None,
    };
    let compared = match as_of {
        Some(as_of) => {
            let past = dashboard(&state, operator, None, None, Some(as_of)).await?;
            let now = dashboard(&state, operator, None, None, None).await?;
            Some(Compared::of(&past, &now, layout.zone))
        }
        None => None,
    };
    Ok(html(&Page {
        at: given(&asked.at).unwrap_or_default(),
        position: given(&asked.position).unwrap_or_default(),
        compared,
        layout,
    }))
}
