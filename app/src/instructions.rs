//! Commands to agents, pull model: operators issue them (directly, from a
//! template, or as a typed lifecycle action); agents with `commands:poll`
//! take them when they poll, each exactly once, and report output, progress
//! (lifecycle commands) and a result on their own commands only.

use std::time::Duration;

use agentledger_commands::CommandError;
use agentledger_commands::instructions::{What, issue as issue_to, template};
use agentledger_domain::agent::Agent;
use agentledger_domain::ids::AgentId;
use agentledger_domain::instruction::{
    CommandTemplate, Instruction, InstructionCommand, OutputStream, TemplateCommand,
};
use agentledger_domain::lifecycle::LifecycleAction;
use agentledger_store::RecordedEvent;
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::app::App;
use crate::caller::{AgentCaller, Caller, Operator};
use crate::error::AppError;

/// How long a poll waits for the command book to catch up with the log.
const BOOK_CATCH_UP: Duration = Duration::from_secs(2);
/// When a command or template does not say how long it may run.
pub const DEFAULT_TIMEOUT_SECONDS: u32 = 300;
/// When a lifecycle command does not say: an upgrade downloads and installs
/// a package, which takes longer than most commands.
pub const DEFAULT_LIFECYCLE_TIMEOUT_SECONDS: u32 = 1800;

/// What an operator asks for: a command of its own, or a stored template
/// (with arguments over the template's).
pub struct Request {
    pub command: Option<String>,
    pub args: Option<Value>,
    pub timeout_seconds: Option<u32>,
    pub template_id: Option<Uuid>,
}

/// Issues a command to `agent_id`: its id and position.
pub async fn issue(
    app: &App,
    operator: &Operator,
    agent_id: AgentId,
    asked: Request,
) -> Result<(Uuid, u64), AppError> {
    operator.require_commands()?;
    let what = match (asked.template_id, asked.command) {
        (Some(template_id), None) => What::Template {
            template_id,
            args: asked.args,
        },
        (None, Some(command)) => What::Direct {
            command,
            args: asked.args.unwrap_or(Value::Null),
            timeout_seconds: asked.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS),
        },
        _ => {
            return Err(AppError::Unprocessable(
                "give either `command` or `template_id`".into(),
            ));
        }
    };
    Ok(issue_to(&app.handler, &operator.context(), agent_id, what).await?)
}

/// Issues a lifecycle command to `agent_id`: its id and position. Like any
/// command it waits for the agent's poll, which hands over the action.
pub async fn issue_lifecycle(
    app: &App,
    operator: &Operator,
    agent_id: AgentId,
    action: LifecycleAction,
    timeout_seconds: Option<u32>,
) -> Result<(Uuid, u64), AppError> {
    operator.require_commands()?;
    let what = What::Lifecycle {
        action,
        timeout_seconds: timeout_seconds.unwrap_or(DEFAULT_LIFECYCLE_TIMEOUT_SECONDS),
    };
    Ok(issue_to(&app.handler, &operator.context(), agent_id, what).await?)
}

/// The agent, if it exists in a tenant the operator sees.
pub async fn agent_seen_by(
    app: &App,
    operator: &Operator,
    agent_id: AgentId,
) -> Result<Agent, AppError> {
    Ok(app.load_visible::<Agent>(operator, agent_id).await?.state)
}

/// A command's whole stream (issue, delivery, every output chunk in order,
/// result), for an operator of its tenant or the agent it was issued to.
pub async fn detail(
    app: &App,
    caller: &Caller,
    command_id: Uuid,
) -> Result<Vec<RecordedEvent>, AppError> {
    app.visible_stream::<Instruction>(caller, command_id).await
}

/// A command handed to its agent.
pub struct Delivered {
    pub command_id: Uuid,
    pub command: String,
    pub args: Value,
    /// The typed action of a lifecycle command.
    pub action: Option<LifecycleAction>,
    pub deadline: DateTime<Utc>,
}

/// What a poll handed over, and the log position it reflects (the poll's
/// own events included: coming online, deliveries).
pub struct Polled {
    pub commands: Vec<Delivered>,
    pub position: u64,
}

/// The longest a poll may wait for a command to be issued.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// Notes the agent as seen and hands over the commands waiting for it. With
/// none waiting, it waits up to `wait` (at most [`MAX_WAIT`]) for one to be
/// issued and hands that over as soon as the command book has it.
pub async fn poll(app: &App, agent: &AgentCaller, wait: Duration) -> Result<Polled, AppError> {
    agent.require("commands:poll")?;
    if wait > MAX_WAIT {
        return Err(AppError::BadRequest(format!(
            "a poll waits at most {} seconds",
            MAX_WAIT.as_secs()
        )));
    }
    let deadline = tokio::time::Instant::now() + wait;
    let seen = agent.seen(app).await?;
    app.settle(&app.command_book_progress, BOOK_CATCH_UP)
        .await?;
    loop {
        let book = app.command_book_progress.position();
        let polled = deliver(app, agent, seen.max(book)).await?;
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if !polled.commands.is_empty() || left.is_zero() {
            return Ok(polled);
        }
        // The book moves with every event of the log; each move is one
        // look at this agent's pending commands, in memory.
        if !app.command_book_progress.wait_for(book + 1, left).await {
            return Ok(polled);
        }
    }
}

/// Hands over the commands the book holds for the agent, marking each
/// delivered; `position` is what the answer reflects so far.
async fn deliver(app: &App, agent: &AgentCaller, mut position: u64) -> Result<Polled, AppError> {
    let ctx = agent.context();
    let mut commands = Vec::new();
    for pending in app.command_book.pending(agent.agent_id) {
        let executed = match app
            .handler
            .run::<Instruction>(&ctx, pending.command_id, InstructionCommand::Deliver)
            .await
        {
            Ok(executed) => executed,
            // Timed out since the book was read: skipped, not fatal, so the
            // others are still delivered.
            Err(CommandError::Domain(_)) => continue,
            Err(e) if commands.is_empty() => return Err(e.into()),
            // Hand over what is already marked delivered; the rest waits for the next poll.
            Err(e) => {
                tracing::warn!(error = %e, "delivery stopped part way");
                break;
            }
        };
        position = position.max(executed.position);
        // Empty: another poll delivered it a moment ago.
        if !executed.events.is_empty() {
            commands.push(Delivered {
                command_id: pending.command_id,
                command: pending.command,
                args: pending.args,
                action: pending.action,
                deadline: pending.deadline,
            });
        }
    }
    Ok(Polled { commands, position })
}

/// A chunk of output of the agent's own command; its position.
pub async fn output(
    app: &App,
    agent: &AgentCaller,
    command_id: Uuid,
    stream: OutputStream,
    chunk: String,
) -> Result<u64, AppError> {
    let command = InstructionCommand::AppendOutput {
        agent_id: agent.agent_id,
        stream,
        chunk,
    };
    Ok(app
        .handler
        .run::<Instruction>(&agent.context(), command_id, command)
        .await?
        .position)
}

/// How far the agent got with its own lifecycle command (delivered, not
/// finished); its position.
pub async fn progress(
    app: &App,
    agent: &AgentCaller,
    command_id: Uuid,
    stage: String,
    percent: u8,
) -> Result<u64, AppError> {
    let command = InstructionCommand::ReportProgress {
        agent_id: agent.agent_id,
        stage,
        percent,
    };
    Ok(app
        .handler
        .run::<Instruction>(&agent.context(), command_id, command)
        .await?
        .position)
}

/// The result of the agent's own command; its position.
pub async fn finish(
    app: &App,
    agent: &AgentCaller,
    command_id: Uuid,
    success: bool,
    exit_code: Option<i32>,
    output: Option<String>,
) -> Result<u64, AppError> {
    let command = InstructionCommand::Finish {
        agent_id: agent.agent_id,
        success,
        exit_code,
        output,
    };
    Ok(app
        .handler
        .run::<Instruction>(&agent.context(), command_id, command)
        .await?
        .position)
}

/// A stored command an operator can issue by id.
pub struct TemplateRequest {
    pub name: String,
    pub command: String,
    pub args: Value,
    pub timeout_seconds: Option<u32>,
}

/// A new template in the operator's tenant: its id and position.
pub async fn create_template(
    app: &App,
    operator: &Operator,
    asked: TemplateRequest,
) -> Result<(Uuid, u64), AppError> {
    operator.require_commands()?;
    let template_id = Uuid::now_v7();
    let command = TemplateCommand::Create {
        tenant_id: operator.tenant_id,
        name: asked.name,
        command: asked.command,
        args: asked.args,
        timeout_seconds: asked.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS),
    };
    let executed = template(&app.handler, &operator.context(), template_id, command).await?;
    Ok((template_id, executed.position))
}

pub async fn update_template(
    app: &App,
    operator: &Operator,
    template_id: Uuid,
    asked: TemplateRequest,
) -> Result<u64, AppError> {
    operator.require_commands()?;
    let command = TemplateCommand::Update {
        name: asked.name,
        command: asked.command,
        args: asked.args,
        timeout_seconds: asked.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS),
    };
    let executed = template(&app.handler, &operator.context(), template_id, command).await?;
    Ok(executed.position)
}

pub async fn delete_template(
    app: &App,
    operator: &Operator,
    template_id: Uuid,
) -> Result<u64, AppError> {
    operator.require_commands()?;
    let command = TemplateCommand::Delete;
    let executed = template(&app.handler, &operator.context(), template_id, command).await?;
    Ok(executed.position)
}

/// A live template of a tenant the operator sees.
pub async fn template_detail(
    app: &App,
    operator: &Operator,
    template_id: Uuid,
) -> Result<CommandTemplate, AppError> {
    Ok(app
        .load_visible::<CommandTemplate>(operator, template_id)
        .await?
        .state)
}
