//! Executions of workflows: a filtered list, newest first, and one
//! execution with its steps (status, attempts, timings, tokens and cost),
//! which moves live while the execution is under way. Operators who may run
//! commands pause, resume and cancel it through the same use cases as the
//! API.

use std::sync::{Arc, Mutex};

use agentledger_api::state::AppState;
use agentledger_app::caller::Caller;
use agentledger_app::executions::{self, ExecutionDetail};
use agentledger_app::queries::{ListParams, MAX_PAGE};
use agentledger_app::workflows;
use agentledger_domain::execution::ExecutionStatus;
use agentledger_projections::executions::{ExecutionRow, Executions};
use askama::Template;
use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use uuid::Uuid;

use crate::form::{PageQuery, bad_request, given, parsed};
use crate::format::{Zone, count};
use crate::live;
use crate::page::{Layout, PageError, PageResult, html, refresh, rendered};
use crate::session::{Signed, Writer};
use crate::views::links::{self, Names};

/// The filter form, as the URL carries it (the names the API's list uses).
#[derive(Debug, Default, Deserialize)]
pub struct Asked {
    pub workflow_id: Option<String>,
    pub status: Option<String>,
    pub cursor: Option<i64>,
}

const STATUSES: [&str; 5] = ["running", "paused", "completed", "failed", "cancelled"];

/// A status as the API reads it: its serde name.
fn status_of(value: &Option<String>) -> Result<Option<ExecutionStatus>, PageError> {
    given(value)
        .map(|text| {
            serde_json::from_value::<ExecutionStatus>(serde_json::Value::String(text.clone()))
                .map_err(|_| bad_request(format!("`status` is not valid: {text:?}")))
        })
        .transpose()
}

/// Workflows' names by id (archived ones too), for lists of executions.
pub async fn workflow_names(state: &AppState, caller: &Caller) -> Result<Names, PageError> {
    let all = ListParams {
        limit: Some(MAX_PAGE),
        ..ListParams::default()
    };
    let mut listed: Vec<(String, String)> = workflows::list(state, caller, true, all)
        .await?
        .items
        .into_iter()
        .map(|w| (w.workflow_id, w.name))
        .collect();
    listed.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(Names::new(listed))
}

/// How long an execution took, or has been running so far when it has not
/// ended: a dash.
pub fn took_since(started: &i64, ended: &Option<i64>) -> String {
    links::took(&Some(*started), ended)
}

/// Prompt and completion tokens together.
pub fn tokens(prompt: &i64, completion: &i64) -> String {
    count(&prompt.saturating_add(*completion))
}

#[derive(Template)]
#[template(path = "execution_table.html")]
struct Table<'a> {
    rows: &'a [ExecutionRow],
    names: &'a Names,
    zone: Zone,
}

/// A table of executions, to put in a page.
pub fn execution_table(
    rows: &[ExecutionRow],
    names: &Names,
    zone: Zone,
) -> Result<String, PageError> {
    rendered(&Table { rows, names, zone })
}

#[derive(Template)]
#[template(path = "executions.html")]
struct ListPage {
    layout: Layout,
    asked: Asked,
    statuses: [&'static str; 5],
    /// `(id, name)`, by name, for the filter.
    choices: Vec<(String, String)>,
    table: String,
    next: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    signed: Signed,
    PageQuery(asked): PageQuery<Asked>,
) -> PageResult {
    let layout = Layout::of(&state, &signed.session, "workflows", "Executions").await?;
    let caller = Caller::Operator(signed.session.operator.clone());
    let workflow_id = parsed::<Uuid>(&asked.workflow_id, "workflow_id")?;
    let status = status_of(&asked.status)?;
    let list = ListParams {
        cursor: asked.cursor,
        ..ListParams::default()
    };
    let page = executions::list(&state, &caller, workflow_id, status, list).await?;
    let names = workflow_names(&state, &caller).await?;
    let table = execution_table(&page.items, &names, layout.zone)?;
    let query = links::query(&[
        ("workflow_id", &asked.workflow_id),
        ("status", &asked.status),
    ]);
    let next = page
        .next_cursor
        .map(|c| links::older("/console/executions", &query, c));
    let choices = names.listed;
    Ok(html(&ListPage {
        layout,
        asked,
        statuses: STATUSES,
        choices,
        table,
        next,
    }))
}

/// The part of an execution's page that moves: its facts and its steps.
#[derive(Template)]
#[template(path = "execution_body.html")]
struct Body {
    d: ExecutionDetail,
    workflow_name: Option<String>,
    zone: Zone,
    /// Whether the reader's role may control the execution.
    can_write: bool,
}

impl Body {
    fn status(&self) -> Option<ExecutionStatus> {
        status_of(&Some(self.d.execution.status.clone()))
            .ok()
            .flatten()
    }

    fn is_over(&self) -> bool {
        self.status().is_none_or(ExecutionStatus::is_over)
    }

    fn can_pause(&self) -> bool {
        self.can_write && self.status() == Some(ExecutionStatus::Running)
    }

    fn can_resume(&self) -> bool {
        self.can_write && self.status() == Some(ExecutionStatus::Paused)
    }

    fn can_cancel(&self) -> bool {
        self.can_write && !self.is_over()
    }
}

async fn body(
    app: &AppState,
    caller: &Caller,
    execution_id: Uuid,
    zone: Zone,
    can_write: bool,
) -> Result<Body, PageError> {
    let d = executions::detail(app, caller, execution_id).await?;
    // The name is a label: a workflow that cannot be read leaves its id.
    let workflow_name = match d.execution.workflow_id.parse::<Uuid>() {
        Ok(id) => workflows::detail(app, caller, id)
            .await
            .ok()
            .map(|w| w.name),
        Err(_) => None,
    };
    Ok(Body {
        d,
        workflow_name,
        zone,
        can_write,
    })
}

#[derive(Template)]
#[template(path = "execution.html")]
struct DetailPage {
    layout: Layout,
    body: String,
    /// The live body's URL while the execution is under way; empty after.
    live: String,
}

pub async fn detail(
    State(state): State<AppState>,
    signed: Signed,
    Path(execution_id): Path<String>,
) -> PageResult {
    let execution_id: Uuid = links::id(&execution_id, "execution")?;
    let caller = Caller::Operator(signed.session.operator.clone());
    let mut layout = Layout::of(&state, &signed.session, "workflows", "Execution").await?;
    let body = body(&state, &caller, execution_id, layout.zone, layout.can_write).await?;
    let e = &body.d.execution;
    layout.title = match &body.workflow_name {
        Some(name) => format!("Execution · {name} v{}", e.version),
        None => format!("Execution · v{}", e.version),
    };
    let live = if body.is_over() {
        String::new()
    } else {
        format!("/console/executions/{execution_id}/live")
    };
    Ok(html(&DetailPage {
        body: rendered(&body)?,
        live,
        layout,
    }))
}

/// The execution's facts and steps again after each burst of the tenant's
/// events, when they changed.
pub async fn live(
    State(state): State<AppState>,
    signed: Signed,
    Path(execution_id): Path<String>,
) -> Response {
    match live_body(state, signed, execution_id).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn live_body(
    state: AppState,
    signed: Signed,
    execution_id: String,
) -> Result<Response, PageError> {
    let execution_id: Uuid = links::id(&execution_id, "execution")?;
    let zone = crate::page::zone_of(&state, &signed.session).await?;
    let operator = signed.session.operator.clone();
    let can_write = operator.role.can_run_commands();
    executions::detail(&state, &Caller::Operator(operator.clone()), execution_id).await?;
    // What was sent last: the same body again is not sent.
    let last = Arc::new(Mutex::new(String::new()));
    let app = state.clone();
    let render = live::render(move |position| {
        let (app, operator, last) = (app.clone(), operator.clone(), last.clone());
        async move {
            let caller = Caller::Operator(operator);
            let body = body(&app, &caller, execution_id, zone, can_write).await?;
            let over = body.is_over();
            let fresh = rendered(&body)?;
            let changed = {
                let mut sent = last.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                if *sent == fresh {
                    false
                } else {
                    sent.clone_from(&fresh);
                    true
                }
            };
            Ok(changed.then_some(live::Fragment {
                html: fresh,
                seen_up_to: position,
                last: over,
            }))
        }
    });
    Ok(live::fragments(&state, signed, "execution", render)
        .await?
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct ReasonForm {
    reason: Option<String>,
}

/// What the API records when a cancellation gives no reason.
const NO_REASON: &str = "cancelled by an operator";

/// Cancels the execution: no step starts any more, open tasks are
/// cancelled.
pub async fn cancel(
    State(state): State<AppState>,
    Writer(signed): Writer,
    Path(execution_id): Path<String>,
    Form(form): Form<ReasonForm>,
) -> PageResult {
    let execution_id: Uuid = links::id(&execution_id, "execution")?;
    let reason = given(&form.reason).unwrap_or_else(|| NO_REASON.to_owned());
    let position =
        executions::cancel(&state, &signed.session.operator, execution_id, reason).await?;
    shown_after(&state, position).await
}

/// Pauses the execution: no step starts until it is resumed.
pub async fn pause(
    State(state): State<AppState>,
    Writer(signed): Writer,
    Path(execution_id): Path<String>,
) -> PageResult {
    let execution_id: Uuid = links::id(&execution_id, "execution")?;
    let position = executions::pause(&state, &signed.session.operator, execution_id).await?;
    shown_after(&state, position).await
}

/// Resumes a paused execution.
pub async fn resume(
    State(state): State<AppState>,
    Writer(signed): Writer,
    Path(execution_id): Path<String>,
) -> PageResult {
    let execution_id: Uuid = links::id(&execution_id, "execution")?;
    let position = executions::resume(&state, &signed.session.operator, execution_id).await?;
    shown_after(&state, position).await
}

/// The page again once the executions model has the write.
async fn shown_after(state: &AppState, position: u64) -> PageResult {
    state.caught_up(&Executions, Some(position)).await?;
    Ok(refresh())
}
