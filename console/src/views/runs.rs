//! The run log: the LLM calls agents reported, newest first, filtered as the
//! run log's query allows (app, status, trigger, time range); and one run in
//! full, to read what was asked and answered when a call failed or cost
//! more than expected.

use agentledger_api::state::AppState;
use agentledger_app::agents;
use agentledger_app::queries::ListParams;
use agentledger_app::queries::runs::{self, Filter};
use agentledger_domain::ids::AgentId;
use agentledger_projections::run_log::{Run, RunDetail};
use askama::Template;
use axum::extract::{Path, State};
use serde::Deserialize;
use uuid::Uuid;

use crate::form::{PageQuery, given, local_time};
use crate::format::Zone;
use crate::page::{Layout, PageError, PageResult, html};
use crate::session::Signed;
use crate::views::links::{Names, agent_names};

/// The filter form, as the URL carries it.
#[derive(Debug, Default, Deserialize)]
pub struct Asked {
    pub app_type: Option<String>,
    pub status: Option<String>,
    pub trigger_type: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub cursor: Option<i64>,
}

impl Asked {
    /// The run log's own filter; times typed are in the tenant's zone.
    fn filter(&self, zone: Zone) -> Result<Filter, PageError> {
        Ok(Filter {
            app_type: given(&self.app_type),
            status: given(&self.status),
            trigger_type: given(&self.trigger_type),
            from: local_time(&self.from, zone, "from")?,
            to: local_time(&self.to, zone, "to")?,
            tenant_id: None,
        })
    }

    /// The query string of this filter, kept by the "Older runs" link.
    fn query(&self) -> String {
        let fields = [
            ("app_type", &self.app_type),
            ("status", &self.status),
            ("trigger_type", &self.trigger_type),
            ("from", &self.from),
            ("to", &self.to),
        ];
        crate::views::links::query(&fields)
    }
}

#[derive(Template)]
#[template(path = "runs.html")]
struct Page {
    layout: Layout,
    asked: Asked,
    rows: Vec<Run>,
    names: Names,
    next: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    signed: Signed,
    PageQuery(asked): PageQuery<Asked>,
) -> PageResult {
    let layout = Layout::of(&state, &signed.session, "runs", "Runs").await?;
    let operator = &signed.session.operator;
    let filter = asked.filter(layout.zone)?;
    let list = ListParams {
        cursor: asked.cursor,
        ..ListParams::default()
    };
    let page = runs::list(&state, operator, filter, list).await?;
    let names = agent_names(&state, operator).await?;
    let query = asked.query();
    let next = page
        .next_cursor
        .map(|c| crate::views::links::older("/console/runs", &query, c));
    Ok(html(&Page {
        layout,
        asked,
        rows: page.items,
        names,
        next,
    }))
}

#[derive(Template)]
#[template(path = "run.html")]
struct Detail {
    layout: Layout,
    run: Run,
    prompt: Option<String>,
    response: Option<String>,
    /// The agent's name, when it can be read.
    agent_name: Option<String>,
}

/// One run with its prompt, response and error. Another tenant's run is
/// "not found", as the app's query answers.
pub async fn detail(
    State(state): State<AppState>,
    signed: Signed,
    Path(run_id): Path<String>,
) -> PageResult {
    let run_id: Uuid = crate::views::links::id(&run_id, "run")?;
    let operator = &signed.session.operator;
    let found = runs::detail(&state, operator, run_id, None).await?;
    let RunDetail {
        run,
        prompt,
        response,
    } = found.value;
    // Only a label: a run whose agent cannot be read still shows, by id.
    let agent_name = match run.agent_id.parse::<Uuid>() {
        Ok(id) => agents::detail(&state, operator, AgentId(id))
            .await
            .ok()
            .map(|a| a.name),
        Err(_) => None,
    };
    let short: String = run.run_id.chars().take(8).collect();
    let layout = Layout::of(&state, &signed.session, "runs", format!("Run {short}")).await?;
    Ok(html(&Detail {
        layout,
        run,
        prompt,
        response,
        agent_name,
    }))
}
