//! Agents: the tenant's agents with their online state and totals, and one
//! agent in full (its facts, what it did over the week, its tasks by status
//! and the commands sent to it with their output), with the buttons an
//! operator manages it by (in `agent_actions`).

use agentledger_api::state::AppState;
use agentledger_app::AppError;
use agentledger_app::agents;
use agentledger_app::queries::command_history;
use agentledger_app::queries::directory::{self, AgentQuery};
use agentledger_app::queries::{ListParams, MAX_PAGE, agent_stats};
use agentledger_domain::agent::Agent;
use agentledger_domain::ids::AgentId;
use agentledger_projections::agent_stats::{AgentRow, AgentStatsView};
use agentledger_projections::command_history::CommandRow;
use agentledger_projections::directory::TemplateRow;
use askama::Template;
use axum::extract::{Path, State};
use serde::Deserialize;

use crate::chart::Chart;
use crate::form::{PageQuery, given, parsed};
use crate::page::{Layout, PageError, PageResult, html};
use crate::session::Signed;
use crate::views::links::urlencode;

/// An agent id from a URL; one that is not a UUID names no agent.
/// The list's filter form, as the URL carries it.
#[derive(Debug, Default, Deserialize)]
pub struct Asked {
    /// `true` or `false`; blank is either.
    pub online: Option<String>,
    pub enabled: Option<String>,
    pub kind: Option<String>,
    pub cursor: Option<i64>,
}

impl Asked {
    /// The agent list's own filter.
    fn filter(&self) -> Result<AgentQuery, PageError> {
        Ok(AgentQuery {
            online: parsed::<bool>(&self.online, "online")?,
            enabled: parsed::<bool>(&self.enabled, "enabled")?,
            kind: given(&self.kind),
            tenant_id: None,
        })
    }

    /// The query string of this filter, kept by the "Older agents" link.
    fn link(&self) -> String {
        let fields = [
            ("online", &self.online),
            ("enabled", &self.enabled),
            ("kind", &self.kind),
        ];
        crate::views::links::query(&fields)
    }
}

#[derive(Template)]
#[template(path = "agents.html")]
struct ListPage {
    layout: Layout,
    asked: Asked,
    rows: Vec<AgentRow>,
    next: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    signed: Signed,
    PageQuery(asked): PageQuery<Asked>,
) -> PageResult {
    let layout = Layout::of(&state, &signed.session, "agents", "Agents").await?;
    let query = asked.filter()?;
    let list = ListParams {
        cursor: asked.cursor,
        ..ListParams::default()
    };
    let page = directory::agents(&state, &signed.session.operator, query, list).await?;
    let link = asked.link();
    let next = page
        .next_cursor
        .map(|c| crate::views::links::older("/console/agents", &link, c));
    Ok(html(&ListPage {
        layout,
        asked,
        rows: page.items,
        next,
    }))
}

/// What the agent page is asked: a page of its commands, of one status.
#[derive(Debug, Default, Deserialize)]
pub struct DetailAsked {
    /// `issued`, `delivered`, `succeeded`, `failed` or `timed_out`.
    pub status: Option<String>,
    pub cursor: Option<i64>,
}

#[derive(Template)]
#[template(path = "agent.html")]
struct DetailPage {
    layout: Layout,
    agent_id: String,
    agent: Agent,
    /// Absent until the stats model has the agent (just registered).
    stats: Option<AgentStatsView>,
    /// The week's operations, for the chart's `data-chart`.
    chart: String,
    asked: DetailAsked,
    commands: Vec<CommandRow>,
    next: Option<String>,
    /// The tenant's command templates, offered to writers.
    templates: Vec<TemplateRow>,
}

impl DetailPage {
    /// The mean confidence reported, to two places.
    fn confidence(&self) -> String {
        self.stats
            .as_ref()
            .and_then(|s| s.average_confidence)
            .map_or_else(|| "—".into(), |c| format!("{c:.2}"))
    }

    /// Whether the enable button applies: disabled, not retired.
    fn can_enable(&self) -> bool {
        !self.agent.enabled && self.agent.retired.is_none()
    }

    /// Whether the disable button applies.
    fn can_disable(&self) -> bool {
        self.agent.enabled && self.agent.retired.is_none()
    }
}

/// The week's operations of the agent, a point a day.
fn week(stats: &AgentStatsView) -> Chart {
    let days = &stats.operations_per_day;
    Chart::new(days.iter().map(|d| d.date.clone()).collect()).series(
        "Operations",
        days.iter().map(|d| d.operations as f64).collect(),
        false,
    )
}

pub async fn detail(
    State(state): State<AppState>,
    signed: Signed,
    Path(agent_id): Path<String>,
    PageQuery(asked): PageQuery<DetailAsked>,
) -> PageResult {
    let agent_id: AgentId = crate::views::links::id(&agent_id, "agent")?;
    let operator = &signed.session.operator;
    // Another tenant's agent is "not found" here, before anything else is read.
    let agent = agents::detail(&state, operator, agent_id).await?;
    let stats =
        match agent_stats::one(&state, operator, agent_id, Some(agent.tenant_id), None).await {
            Ok(found) => Some(found.value),
            Err(AppError::NotFound(_)) => None,
            Err(err) => return Err(err.into()),
        };
    let status = given(&asked.status);
    let list = ListParams {
        cursor: asked.cursor,
        ..ListParams::default()
    };
    let history =
        command_history::list(&state, operator, agent_id, status.as_deref(), list).await?;
    let layout = Layout::of(&state, &signed.session, "agents", agent.name.clone()).await?;
    let templates = if layout.can_write {
        let all = ListParams {
            limit: Some(MAX_PAGE),
            ..ListParams::default()
        };
        directory::templates(&state, operator, Some(agent.tenant_id), all)
            .await?
            .items
    } else {
        Vec::new()
    };
    let next = history.next_cursor.map(|c| {
        let keep = status
            .as_deref()
            .map(|s| format!("status={}&", urlencode(s)))
            .unwrap_or_default();
        format!("/console/agents/{agent_id}?{keep}cursor={c}#commands")
    });
    Ok(html(&DetailPage {
        layout,
        agent_id: agent_id.to_string(),
        chart: stats.as_ref().map(|s| week(s).json()).unwrap_or_default(),
        stats,
        agent,
        asked,
        commands: history.items,
        next,
        templates,
    }))
}
