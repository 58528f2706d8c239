//! Workflows: the tenant's list with its newest executions, and one
//! workflow with its published versions (a version's steps, or the
//! draft's) and its latest executions. Workflows are read here; they are
//! written through the API.

use agentledger_api::state::AppState;
use agentledger_app::caller::Caller;
use agentledger_app::executions;
use agentledger_app::queries::ListParams;
use agentledger_app::workflows;
use agentledger_domain::workflow::{StepAction, WorkflowSpec};
use agentledger_projections::workflows::WorkflowRow;
use askama::Template;
use axum::extract::{Path, State};
use serde::Deserialize;
use uuid::Uuid;

use crate::form::{PageQuery, given, parsed};
use crate::page::{Layout, PageResult, html};
use crate::session::Signed;
use crate::views::executions::{execution_table, workflow_names};
use crate::views::links::{self, Names};

/// Executions a workflow page shows: the newest.
const RECENT: i64 = 10;

#[derive(Debug, Default, Deserialize)]
pub struct Asked {
    /// `true`: archived workflows too.
    pub archived: Option<String>,
    pub cursor: Option<i64>,
}

#[derive(Template)]
#[template(path = "workflows.html")]
struct ListPage {
    layout: Layout,
    archived: bool,
    rows: Vec<WorkflowRow>,
    next: Option<String>,
    executions: String,
}

pub async fn page(
    State(state): State<AppState>,
    signed: Signed,
    PageQuery(asked): PageQuery<Asked>,
) -> PageResult {
    let layout = Layout::of(&state, &signed.session, "workflows", "Workflows").await?;
    let caller = Caller::Operator(signed.session.operator.clone());
    let archived = parsed::<bool>(&asked.archived, "archived")?.unwrap_or(false);
    let list = ListParams {
        cursor: asked.cursor,
        ..ListParams::default()
    };
    let page = workflows::list(&state, &caller, archived, list).await?;
    let query = if archived { "archived=true" } else { "" };
    let next = page
        .next_cursor
        .map(|c| links::older("/console/workflows", query, c));
    let recent = ListParams {
        limit: Some(RECENT),
        ..ListParams::default()
    };
    let recent = executions::list(&state, &caller, None, None, recent).await?;
    let names = workflow_names(&state, &caller).await?;
    let executions = execution_table(&recent.items, &names, layout.zone)?;
    Ok(html(&ListPage {
        layout,
        archived,
        rows: page.items,
        next,
        executions,
    }))
}

#[derive(Debug, Default, Deserialize)]
pub struct VersionAsked {
    /// A published version's number, or `draft`; the latest version (or
    /// the draft, before the first) when absent.
    pub version: Option<String>,
}

/// A step as the page shows it.
struct StepView {
    key: String,
    doer: String,
    /// The steps it waits for, by key.
    after: String,
    timeout_seconds: u32,
    retries: u32,
    input: String,
}

fn step_views(spec: &WorkflowSpec) -> Vec<StepView> {
    spec.steps
        .iter()
        .map(|step| StepView {
            key: step.key.clone(),
            doer: match &step.action {
                StepAction::Agent {
                    agent_kind,
                    task_type,
                } => format!("an agent of kind {agent_kind}, as a task of type {task_type}"),
                StepAction::Tool {
                    tool_id,
                    mcp_tool: Some(tool),
                } => format!("tool {tool} of MCP server {tool_id}"),
                StepAction::Tool {
                    tool_id,
                    mcp_tool: None,
                } => format!("HTTP tool {tool_id}"),
            },
            after: spec
                .edges
                .iter()
                .filter(|edge| edge.to == step.key)
                .map(|edge| edge.from.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            timeout_seconds: step.timeout_seconds,
            retries: step.retries,
            input: serde_json::to_string_pretty(&step.input).unwrap_or_default(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "workflow.html")]
struct DetailPage {
    layout: Layout,
    workflow_id: Uuid,
    archived: bool,
    /// Published versions, newest first.
    versions: Vec<u32>,
    /// The version shown; `None`: the draft.
    shown: Option<u32>,
    steps: Vec<StepView>,
    executions: String,
}

impl DetailPage {
    fn is_shown(&self, version: &u32) -> bool {
        self.shown == Some(*version)
    }
}

pub async fn detail(
    State(state): State<AppState>,
    signed: Signed,
    Path(workflow_id): Path<String>,
    PageQuery(asked): PageQuery<VersionAsked>,
) -> PageResult {
    let workflow_id: Uuid = links::id(&workflow_id, "workflow")?;
    let caller = Caller::Operator(signed.session.operator.clone());
    let workflow = workflows::detail(&state, &caller, workflow_id).await?;
    let latest = u32::try_from(workflow.versions.len()).unwrap_or(u32::MAX);
    let shown = match given(&asked.version).as_deref() {
        Some("draft") => None,
        Some(_) => parsed::<u32>(&asked.version, "version")?,
        None => (latest > 0).then_some(latest),
    };
    let spec = match shown {
        Some(version) => workflows::version(&state, &caller, workflow_id, version).await?,
        None => workflow.draft.clone(),
    };
    let layout = Layout::of(
        &state,
        &signed.session,
        "workflows",
        format!("Workflow · {}", workflow.name),
    )
    .await?;
    let recent = ListParams {
        limit: Some(RECENT),
        ..ListParams::default()
    };
    let recent = executions::list(&state, &caller, Some(workflow_id), None, recent).await?;
    let names = Names::new(vec![(workflow_id.to_string(), workflow.name.clone())]);
    let executions = execution_table(&recent.items, &names, layout.zone)?;
    Ok(html(&DetailPage {
        layout,
        workflow_id,
        archived: workflow.archived,
        versions: (1..=latest).rev().collect(),
        shown,
        steps: step_views(&spec),
        executions,
    }))
}
