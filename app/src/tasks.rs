//! Tasks: created by operators (or agents with `tasks:create`), claimed by
//! agents with `tasks:claim` that poll for them, reported on and finished by
//! the agent that claimed them (the task itself refuses any other).

use std::time::Duration;

use agentledger_commands::Loaded;
use agentledger_commands::tasks::{self as handlers, Created, claim_first, created_as};
use agentledger_domain::Aggregate;
use agentledger_domain::ids::{TaskId, TenantId};
use agentledger_domain::task::{NewTask, Task, TaskCommand, TaskEvent};
use agentledger_projections::engine::decode_recorded;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::app::App;
use crate::caller::{AgentCaller, Caller, Operator};
use crate::error::AppError;
use crate::queries::{ListParams, Page};

/// How long a poll waits for the task queue to catch up with the log.
const QUEUE_CATCH_UP: Duration = Duration::from_secs(2);
/// Pending tasks tried per look at the queue; several agents polling at once
/// may take some of them first.
const CANDIDATES: usize = 16;

/// What a caller asks for; the tenant is the caller's.
pub struct TaskRequest {
    pub task_type: String,
    pub input: Value,
    pub priority: i32,
    pub callback_url: Option<String>,
    pub dedup_key: Option<String>,
    pub forced: bool,
}

pub async fn create(app: &App, caller: &Caller, asked: TaskRequest) -> Result<Created, AppError> {
    let ctx = match caller {
        Caller::Operator(op) => {
            op.require_commands()?;
            op.context()
        }
        Caller::Agent(agent) => {
            agent.require("tasks:create")?;
            agent.context()
        }
    };
    let task = NewTask {
        tenant_id: ctx.tenant_id,
        task_type: asked.task_type,
        input: asked.input,
        priority: asked.priority,
        callback_url: asked.callback_url,
        dedup_key: asked.dedup_key,
        forced: asked.forced,
        retry_of: None,
        agent_kind: None,
        step: None,
    };
    Ok(handlers::create(&app.handler, &ctx, TaskId::new(), task, app.address_policy).await?)
}

/// The secret the tenant's task callbacks are signed with (Standard
/// Webhooks, as webhook deliveries are), made on first use.
pub async fn callback_secret(app: &App, tenant: TenantId) -> Result<String, AppError> {
    let fresh = crate::webhooks::signing_secret();
    Ok(agentledger_store::secrets::signing_secret_or(&app.database, tenant.0, &fresh).await?)
}

/// The tenant's callback signing secret, for an operator who may run commands.
pub async fn callback_secret_for(app: &App, operator: &Operator) -> Result<String, AppError> {
    operator.require_commands()?;
    callback_secret(app, operator.tenant_id).await
}

/// A task and its version, as one the caller may see.
pub struct Seen {
    pub task: Task,
    pub version: Option<u64>,
    /// The log position of the task's last event.
    pub position: u64,
}

/// The task, if it exists in a tenant the caller sees.
pub async fn detail(app: &App, caller: &Caller, task_id: TaskId) -> Result<Seen, AppError> {
    let Loaded {
        state: task,
        version,
        position,
    } = app.load_visible::<Task>(caller, task_id).await?;
    Ok(Seen {
        task,
        version,
        position,
    })
}

/// One piece of a task's output, as its agent reported it with a progress
/// report.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct OutputChunk {
    /// The report's version in the task's stream: chunks are in this order.
    pub seq: u64,
    pub text: String,
    pub reported_at: DateTime<Utc>,
    /// The report's log position (the `id` of the same event on the live stream).
    pub position: u64,
}

/// Events of a task's stream read per look at the store.
const OUTPUT_READ: usize = 512;

/// The task's output in the order it was reported, from after `cursor` (a
/// chunk's `seq`).
pub async fn output(
    app: &App,
    caller: &Caller,
    task_id: TaskId,
    list: ListParams,
) -> Result<Page<OutputChunk>, AppError> {
    let limit = list.page_size()?;
    let wanted = usize::try_from(limit).unwrap_or(usize::MAX);
    let loaded = app.load_visible::<Task>(caller, task_id).await?;
    let stream = Task::stream_id(task_id);
    let mut from = list.cursor.map_or(0, |c| c.max(0).unsigned_abs() + 1);
    let mut chunks = Vec::new();
    while chunks.len() < wanted {
        let events = app.store.read_stream(&stream, from, OUTPUT_READ).await?;
        let Some(last) = events.last() else { break };
        from = last.stream_version + 1;
        for event in &events {
            if let Some(TaskEvent::TaskProgressed {
                output_chunk: Some(text),
                ..
            }) = decode_recorded::<TaskEvent>(event)?
            {
                chunks.push(OutputChunk {
                    seq: event.stream_version,
                    text,
                    reported_at: event.occurred_at,
                    position: event.position,
                });
                if chunks.len() == wanted {
                    break;
                }
            }
        }
        if events.len() < OUTPUT_READ {
            break;
        }
    }
    let seq = |c: &OutputChunk| i64::try_from(c.seq).unwrap_or(i64::MAX);
    Ok(Page::new(chunks, limit, loaded.position, seq))
}

/// Cancels a task; the position of the cancellation.
pub async fn cancel(
    app: &App,
    operator: &Operator,
    task_id: TaskId,
    reason: Option<String>,
) -> Result<u64, AppError> {
    operator.require_commands()?;
    let command = TaskCommand::Cancel { reason };
    let executed = app
        .handler
        .run::<Task>(&operator.context(), task_id, command)
        .await?;
    Ok(executed.position)
}

/// A new task copying a failed or cancelled one: its id and position.
pub async fn retry(
    app: &App,
    operator: &Operator,
    task_id: TaskId,
) -> Result<(TaskId, u64), AppError> {
    operator.require_commands()?;
    Ok(handlers::retry(
        &app.handler,
        &operator.context(),
        task_id,
        app.address_policy,
    )
    .await?)
}

/// The calling agent's report on a task it claimed; the position of it.
async fn report(
    app: &App,
    agent: &AgentCaller,
    task_id: TaskId,
    command: TaskCommand,
) -> Result<u64, AppError> {
    let executed = app
        .handler
        .run::<Task>(&agent.context(), task_id, command)
        .await?;
    Ok(executed.position)
}

pub async fn progress(
    app: &App,
    agent: &AgentCaller,
    task_id: TaskId,
    percent: u8,
    message: Option<String>,
    output_chunk: Option<String>,
) -> Result<u64, AppError> {
    let command = TaskCommand::ReportProgress {
        agent_id: agent.agent_id,
        percent,
        message,
        output_chunk,
    };
    report(app, agent, task_id, command).await
}

pub async fn complete(
    app: &App,
    agent: &AgentCaller,
    task_id: TaskId,
    result: Value,
) -> Result<u64, AppError> {
    let command = TaskCommand::Complete {
        agent_id: agent.agent_id,
        result,
    };
    report(app, agent, task_id, command).await
}

pub async fn fail(
    app: &App,
    agent: &AgentCaller,
    task_id: TaskId,
    error: String,
    retryable: bool,
) -> Result<u64, AppError> {
    let command = TaskCommand::Fail {
        agent_id: agent.agent_id,
        error,
        retryable,
    };
    report(app, agent, task_id, command).await
}

/// What a poll for work found.
pub enum Claim {
    /// The task is the calling agent's now.
    Task {
        task_id: TaskId,
        task: Box<Task>,
        version: Option<u64>,
        input: Value,
        position: u64,
    },
    /// Nothing pending of those types; the log position this answer reflects.
    None { position: u64 },
}

/// Hands the agent the next pending task of `types` (any type when empty).
/// Each task goes to exactly one agent however many poll at once.
pub async fn claim_next(
    app: &App,
    agent: &AgentCaller,
    types: &[String],
) -> Result<Claim, AppError> {
    agent.require("tasks:claim")?;
    let seen = agent.seen(app).await?;
    crate::budget_stop::within_budgets(app, &agent.context(), agent.agent_id, None).await?;
    // See every task created before this poll.
    app.settle(&app.task_queue_progress, QUEUE_CATCH_UP).await?;
    let none = || Claim::None {
        position: seen.max(app.task_queue_progress.position()),
    };
    let ctx = agent.context();
    loop {
        let candidates =
            app.task_queue
                .candidates(agent.agent.tenant_id, types, &agent.agent.kind, CANDIDATES);
        if candidates.is_empty() {
            return Ok(none());
        }
        let exhausted = candidates.len() < CANDIDATES;
        if let Some((task_id, executed)) = claim_first(
            &app.handler,
            &ctx,
            agent.agent_id,
            &agent.agent.kind,
            candidates,
        )
        .await?
        {
            let input = created_as(&app.handler, task_id).await?.input;
            return Ok(Claim::Task {
                task_id,
                task: Box::new(executed.state),
                version: executed.version,
                input,
                position: executed.position,
            });
        }
        if exhausted {
            return Ok(none());
        }
        // Every candidate was taken by other agents meanwhile: let the queue
        // see those claims before looking again.
        app.settle(&app.task_queue_progress, QUEUE_CATCH_UP).await?;
    }
}
