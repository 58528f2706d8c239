//! Tasks: a filtered list, newest first, and one task with its facts, its
//! status history and its output, which grows live while the task runs.
//! Operators who may run commands cancel a task under way or retry one that
//! failed or was cancelled, through the same use cases as the API.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use agentledger_api::state::AppState;
use agentledger_app::caller::Caller;
use agentledger_app::queries::tasks::{self as read, Filter};
use agentledger_app::queries::{ListParams, MAX_PAGE};
use agentledger_app::tasks::{self, OutputChunk};
use agentledger_domain::ids::TaskId;
use agentledger_domain::task::{StepAttempt, TaskStatus};
use agentledger_projections::tasks::{HistoryEntry, TaskRow, Tasks};
use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::form::{PageQuery, given, local_time};
use crate::format::Zone;
use crate::live;
use crate::page::{Layout, PageError, PageResult, html, refresh, rendered};
use crate::session::{Signed, Writer};
use crate::views::links;
use crate::views::links::{Names, agent_names};

/// The filter form, as the URL carries it (the names the API's list uses).
#[derive(Debug, Default, Deserialize)]
pub struct Asked {
    #[serde(rename = "type")]
    pub task_type: Option<String>,
    pub status: Option<String>,
    /// Created at or after, in the tenant's zone.
    pub from: Option<String>,
    /// Created before, in the tenant's zone.
    pub to: Option<String>,
    pub cursor: Option<i64>,
}

impl Asked {
    fn filter(&self, zone: Zone) -> Result<Filter, PageError> {
        Ok(Filter {
            task_type: given(&self.task_type),
            status: given(&self.status),
            from: local_time(&self.from, zone, "from")?,
            to: local_time(&self.to, zone, "to")?,
            tenant_id: None,
        })
    }

    fn query(&self) -> String {
        links::query(&[
            ("type", &self.task_type),
            ("status", &self.status),
            ("from", &self.from),
            ("to", &self.to),
        ])
    }
}

/// The statuses a task passes through, for the filter.
const STATUSES: [&str; 6] = [
    "pending",
    "claimed",
    "processing",
    "completed",
    "failed",
    "cancelled",
];

#[derive(Template)]
#[template(path = "tasks.html")]
struct ListPage {
    layout: Layout,
    asked: Asked,
    statuses: [&'static str; 6],
    rows: Vec<TaskRow>,
    names: Names,
    next: Option<String>,
}

impl ListPage {}

pub async fn page(
    State(state): State<AppState>,
    signed: Signed,
    PageQuery(asked): PageQuery<Asked>,
) -> PageResult {
    let layout = Layout::of(&state, &signed.session, "tasks", "Tasks").await?;
    let operator = &signed.session.operator;
    let filter = asked.filter(layout.zone)?;
    let list = ListParams {
        cursor: asked.cursor,
        ..ListParams::default()
    };
    let page = read::list(&state, operator, filter, list).await?;
    let names = agent_names(&state, operator).await?;
    let next = page
        .next_cursor
        .map(|c| links::older("/console/tasks", &asked.query(), c));
    Ok(html(&ListPage {
        layout,
        asked,
        statuses: STATUSES,
        rows: page.items,
        names,
        next,
    }))
}

/// Output chunks read in one go.
struct Output {
    chunks: Vec<OutputChunk>,
    /// More chunks follow the last one read.
    more: bool,
    /// The position of the task's last event when it was read.
    position: u64,
}

/// The task's output from after chunk `after` (its `seq`), a page of
/// [`MAX_PAGE`] chunks at a time, at most `pages` pages: through the app's
/// use case, which checks the task is one the caller sees.
async fn read_output(
    app: &AppState,
    caller: &Caller,
    task_id: TaskId,
    after: Option<i64>,
    pages: usize,
    min_position: Option<u64>,
) -> Result<Output, PageError> {
    let mut chunks = Vec::new();
    let mut cursor = after;
    let mut position = 0;
    for _ in 0..pages {
        let list = ListParams {
            cursor,
            limit: Some(MAX_PAGE),
            min_position,
        };
        let page = tasks::output(app, caller, task_id, list).await?;
        position = position.max(page.position);
        chunks.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => {
                return Ok(Output {
                    chunks,
                    more: false,
                    position,
                });
            }
        }
    }
    Ok(Output {
        chunks,
        more: true,
        position,
    })
}

/// Chunks as the `<pre>` shows them. A carriage return is shown as a line
/// break (it would end a line of the live stream anyway).
#[derive(Template)]
#[template(
    source = r#"{% for c in chunks %}<span data-seq="{{ c.seq }}" title="{{ zone.at(c.reported_at) }}">{{ c.text }}</span>{% endfor %}"#,
    ext = "html"
)]
struct Chunks<'a> {
    chunks: &'a [OutputChunk],
    zone: Zone,
}

fn chunks_html(mut chunks: Vec<OutputChunk>, zone: Zone) -> Result<String, PageError> {
    for chunk in &mut chunks {
        if chunk.text.contains('\r') {
            chunk.text = chunk.text.replace("\r\n", "\n").replace('\r', "\n");
        }
    }
    rendered(&Chunks {
        chunks: &chunks,
        zone,
    })
}

/// Pages of output a task's page shows at once; the rest is the API's.
const PAGE_OUTPUT_PAGES: usize = 4;
/// Pages of output one live update reads at most (50,000 chunks), so a
/// burst of output is sent whole.
const LIVE_OUTPUT_PAGES: usize = 100;

#[derive(Template)]
#[template(path = "task.html")]
struct DetailPage {
    layout: Layout,
    t: TaskRow,
    history: Vec<HistoryEntry>,
    step: Option<StepAttempt>,
    agent_kind: Option<String>,
    names: Names,
    output: String,
    output_empty: bool,
    /// The output was cut after this many chunks.
    truncated: Option<usize>,
    /// The live output's URL while the task runs; empty once it has ended.
    live: String,
    can_cancel: bool,
    can_retry: bool,
}

impl DetailPage {}

pub async fn detail(
    State(state): State<AppState>,
    signed: Signed,
    Path(task_id): Path<String>,
) -> PageResult {
    let task_id: TaskId = links::id(&task_id, "task")?;
    let operator = &signed.session.operator;
    let caller = Caller::Operator(operator.clone());
    // Another tenant's task is not found here, before anything is read.
    let seen = tasks::detail(&state, &caller, task_id).await?;
    let output = read_output(&state, &caller, task_id, None, PAGE_OUTPUT_PAGES, None).await?;
    // The history as of at least the task's last event.
    let found = read::history(
        &state,
        operator,
        task_id,
        Some(seen.task.tenant_id),
        Some(output.position),
    )
    .await?;
    let layout = Layout::of(
        &state,
        &signed.session,
        "tasks",
        format!("Task · {}", found.value.task.task_type),
    )
    .await?;
    let names = agent_names(&state, operator).await?;
    let status = seen.task.status;
    let running = matches!(
        status,
        TaskStatus::Pending | TaskStatus::Claimed | TaskStatus::Processing
    );
    let last_seq = output.chunks.last().map(|c| c.seq);
    let live = if running {
        match last_seq {
            Some(seq) => format!("/console/tasks/{task_id}/output?after={seq}"),
            None => format!("/console/tasks/{task_id}/output"),
        }
    } else {
        String::new()
    };
    let shown = output.chunks.len();
    let truncated = (output.more && !running).then_some(shown);
    Ok(html(&DetailPage {
        output_empty: output.chunks.is_empty(),
        output: chunks_html(output.chunks, layout.zone)?,
        truncated,
        live,
        can_cancel: layout.can_write && running,
        can_retry: layout.can_write && matches!(status, TaskStatus::Failed | TaskStatus::Cancelled),
        step: seen.task.step,
        agent_kind: seen.task.agent_kind,
        t: found.value.task,
        history: found.value.history,
        names,
        layout,
    }))
}

#[derive(Debug, Default, Deserialize)]
pub struct LiveAsked {
    /// The `seq` of the last chunk the page shows.
    pub after: Option<i64>,
}

/// The task's new output chunks, appended to the page's as they are
/// reported.
pub async fn output_live(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    Path(task_id): Path<String>,
    PageQuery(asked): PageQuery<LiveAsked>,
) -> Response {
    match live_output(state, signed, headers, task_id, asked).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn live_output(
    state: AppState,
    signed: Signed,
    headers: HeaderMap,
    task_id: String,
    asked: LiveAsked,
) -> Result<Response, PageError> {
    let task_id: TaskId = links::id(&task_id, "task")?;
    let zone = crate::page::zone_of(&state, &signed.session).await?;
    let operator = signed.session.operator.clone();
    tasks::detail(&state, &Caller::Operator(operator.clone()), task_id).await?;
    // A browser reconnecting says the last update it got (a log position):
    // every chunk up to it was in that update or an earlier one.
    let seen_up_to = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    // The last chunk shown, by `seq`; -1 before the first.
    let shown = Arc::new(AtomicI64::new(asked.after.unwrap_or(-1)));
    let app = state.clone();
    let render = live::render(move |position| {
        let (app, operator, shown) = (app.clone(), operator.clone(), shown.clone());
        async move {
            let caller = Caller::Operator(operator);
            let after = shown.load(Ordering::Relaxed);
            let output = read_output(
                &app,
                &caller,
                task_id,
                (after >= 0).then_some(after),
                LIVE_OUTPUT_PAGES,
                Some(position),
            )
            .await?;
            // Chunks past the update's position wait for the next update,
            // so that its id says which chunks the browser has.
            let upto: Vec<OutputChunk> = output
                .chunks
                .into_iter()
                .take_while(|c| c.position <= position)
                .collect();
            if let Some(last) = upto.last() {
                shown.store(
                    i64::try_from(last.seq).unwrap_or(i64::MAX),
                    Ordering::Relaxed,
                );
            }
            let new: Vec<OutputChunk> = upto
                .into_iter()
                .filter(|c| c.position > seen_up_to)
                .collect();
            // Over, with its last event at or before this update: no more
            // output can come, and the stream ends.
            let task = tasks::detail(&app, &caller, task_id).await?;
            let last = task.task.status.is_over() && task.position <= position;
            if new.is_empty() && !last {
                return Ok(None);
            }
            Ok(Some(live::Fragment {
                html: chunks_html(new, zone)?,
                seen_up_to: position,
                last,
            }))
        }
    });
    Ok(live::fragments(&state, signed, "output", render)
        .await?
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct ReasonForm {
    reason: Option<String>,
}

/// Cancels the task (with the reason typed, if any).
pub async fn cancel(
    State(state): State<AppState>,
    Writer(signed): Writer,
    Path(task_id): Path<String>,
    Form(form): Form<ReasonForm>,
) -> PageResult {
    let task_id: TaskId = links::id(&task_id, "task")?;
    let position = tasks::cancel(
        &state,
        &signed.session.operator,
        task_id,
        given(&form.reason),
    )
    .await?;
    state.caught_up(&Tasks, Some(position)).await?;
    Ok(refresh())
}

/// Creates a new task copying this failed or cancelled one; the page then
/// links to it.
pub async fn retry(
    State(state): State<AppState>,
    Writer(signed): Writer,
    Path(task_id): Path<String>,
) -> PageResult {
    let task_id: TaskId = links::id(&task_id, "task")?;
    let (_retry, position) = tasks::retry(&state, &signed.session.operator, task_id).await?;
    state.caught_up(&Tasks, Some(position)).await?;
    Ok(refresh())
}
