//! Executions: operators who may run commands start a published version of
//! a workflow with an input, and cancel, pause and resume it; operators and
//! agents read them. The [`engine`] does the steps. Every event an
//! execution causes carries its id as correlation id, so the live feed
//! filtered by it (`correlation_id`) shows the execution's progress.

mod calls;
pub mod engine;
mod under_way;

use agentledger_commands::CommandError;
use agentledger_domain::DomainError;
use agentledger_domain::execution::{Execution, ExecutionCommand, ExecutionStatus};
use agentledger_domain::workflow::Workflow;
use agentledger_projections::executions::{
    self as model, ExecutionRow, Executions, Filter, StepRow,
};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::app::App;
use crate::caller::{Caller, Operator};
use crate::error::AppError;
use crate::queries::{ListParams, Page};

pub(crate) use engine::spawn_deadlines;
pub use under_way::UnderWay;

/// A started execution: its id and the position of its start.
pub struct Started {
    pub execution_id: Uuid,
    pub position: u64,
}

/// Starts version `version` of the workflow with `input`.
pub async fn start(
    app: &App,
    operator: &Operator,
    workflow_id: Uuid,
    version: u32,
    input: Value,
) -> Result<Started, AppError> {
    operator.require_commands()?;
    let workflow = app
        .load_visible::<Workflow>(operator, workflow_id)
        .await?
        .state;
    if workflow.archived {
        return Err(CommandError::Domain(DomainError::InvalidTransition {
            entity: "workflow",
            action: "start an execution of",
            state: "archived".into(),
        })
        .into());
    }
    let spec = workflow
        .version(version)
        .cloned()
        .ok_or_else(|| AppError::NotFound(format!("workflow version {version} not found")))?;
    // Its tools may have been disabled since it was published.
    crate::workflows::check_tools(app, operator, workflow.tenant_id, &spec).await?;
    let execution_id = Uuid::now_v7();
    let mut ctx = operator.context();
    ctx.tenant_id = workflow.tenant_id;
    ctx.correlation_id = Some(execution_id);
    let command = ExecutionCommand::Start {
        tenant_id: workflow.tenant_id,
        workflow_id,
        version,
        spec,
        input,
        at: agentledger_store::now(),
    };
    let position = app
        .handler
        .run::<Execution>(&ctx, execution_id, command)
        .await?
        .position;
    Ok(Started {
        execution_id,
        position,
    })
}

/// An execution and its steps, in the workflow's order.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct ExecutionDetail {
    #[serde(flatten)]
    pub execution: ExecutionRow,
    pub steps: Vec<StepRow>,
}

/// The execution with its steps, as of at least its last event.
pub async fn detail(
    app: &App,
    caller: &Caller,
    execution_id: Uuid,
) -> Result<ExecutionDetail, AppError> {
    let loaded = app.load_visible::<Execution>(caller, execution_id).await?;
    app.caught_up(&Executions, Some(loaded.position)).await?;
    let (execution, steps) = model::detail(&app.database, &execution_id.to_string())
        .await?
        .ok_or_else(|| AppError::NotFound("execution not found".into()))?;
    Ok(ExecutionDetail { execution, steps })
}

/// The caller's tenant's executions, newest first; of one workflow, of one
/// status.
pub async fn list(
    app: &App,
    caller: &Caller,
    workflow_id: Option<Uuid>,
    status: Option<ExecutionStatus>,
    list: ListParams,
) -> Result<Page<ExecutionRow>, AppError> {
    let limit = list.page_size()?;
    let progress = app.caught_up(&Executions, list.min_position).await?;
    let filter = Filter {
        tenant_id: caller.tenant_id(),
        workflow_id: workflow_id.map(|id| id.to_string()),
        status: status.map(|s| s.as_str().to_owned()),
    };
    let items = model::list(&app.database, &filter, list.cursor, limit).await?;
    Ok(Page::new(items, limit, progress.position(), |e| e.seq))
}

async fn decide(
    app: &App,
    operator: &Operator,
    execution_id: Uuid,
    command: ExecutionCommand,
) -> Result<u64, AppError> {
    operator.require_commands()?;
    app.load_visible::<Execution>(operator, execution_id)
        .await?;
    let mut ctx = operator.context();
    ctx.correlation_id = Some(execution_id);
    Ok(app
        .handler
        .run::<Execution>(&ctx, execution_id, command)
        .await?
        .position)
}

/// Stops handing out steps and cancels the open tasks (the engine does).
pub async fn cancel(
    app: &App,
    operator: &Operator,
    execution_id: Uuid,
    reason: String,
) -> Result<u64, AppError> {
    decide(
        app,
        operator,
        execution_id,
        ExecutionCommand::Cancel { reason },
    )
    .await
}

/// No step starts until it is resumed; steps under way finish.
pub async fn pause(app: &App, operator: &Operator, execution_id: Uuid) -> Result<u64, AppError> {
    decide(app, operator, execution_id, ExecutionCommand::Pause).await
}

pub async fn resume(app: &App, operator: &Operator, execution_id: Uuid) -> Result<u64, AppError> {
    let at = agentledger_store::now();
    decide(app, operator, execution_id, ExecutionCommand::Resume { at }).await
}
