//! Workflows: operators who may run commands create them, edit their
//! drafts, publish versions and archive them; operators and agents read
//! them, one version at a time, and the difference between two.

use agentledger_commands::CommandError;
use agentledger_domain::DomainError;
use agentledger_domain::ids::TenantId;
use agentledger_domain::tool::{Tool, ToolKind};
use agentledger_domain::workflow::{
    SpecDiff, StepAction, Workflow, WorkflowCommand, WorkflowSpec, diff,
};
use agentledger_projections::workflows::{self as model, WorkflowRow, Workflows};
use uuid::Uuid;

use crate::app::App;
use crate::caller::{Caller, Operator};
use crate::error::AppError;
use crate::queries::{ListParams, Page};

/// A new workflow: its id and the position of its event.
pub struct Created {
    pub workflow_id: Uuid,
    pub position: u64,
}

/// A published version and the position of its event.
pub struct Published {
    pub version: u32,
    pub position: u64,
}

/// Each tool a step names must be one of the workflow's tenant's, and
/// enabled: a workflow naming another tenant's would run it for them (an
/// operator who sees every tenant could otherwise name any).
pub(crate) async fn check_tools(
    app: &App,
    operator: &Operator,
    tenant: TenantId,
    spec: &WorkflowSpec,
) -> Result<(), AppError> {
    for step in &spec.steps {
        if let StepAction::Tool { tool_id, mcp_tool } = &step.action {
            let tool_id = *tool_id;
            let refused = |why: &str| {
                AppError::from(CommandError::Domain(DomainError::invalid(format!(
                    "step `{}` names tool {tool_id}, which {why}",
                    step.key
                ))))
            };
            match app.load_visible::<Tool>(operator, tool_id).await {
                Ok(tool) if tool.state.tenant_id != tenant => {
                    return Err(refused("is not one of this tenant's"));
                }
                Ok(tool) if tool.state.disabled.is_some() => return Err(refused("is disabled")),
                // An MCP server offers several tools: the step says which.
                Ok(tool) => match (tool.state.definition.kind, mcp_tool) {
                    (ToolKind::Mcp, None) => {
                        return Err(refused(
                            "is an MCP server: the step names its tool in `mcp_tool`",
                        ));
                    }
                    (ToolKind::Http, Some(_)) => {
                        return Err(refused("is an HTTP tool: `mcp_tool` is for MCP servers"));
                    }
                    _ => {}
                },
                Err(AppError::NotFound(_)) => return Err(refused("is not one of this tenant's")),
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

pub async fn create(
    app: &App,
    operator: &Operator,
    name: String,
    draft: WorkflowSpec,
) -> Result<Created, AppError> {
    operator.require_commands()?;
    check_tools(app, operator, operator.tenant_id, &draft).await?;
    let workflow_id = Uuid::now_v7();
    let command = WorkflowCommand::Create {
        tenant_id: operator.tenant_id,
        name,
        draft,
    };
    let position = app
        .handler
        .run::<Workflow>(&operator.context(), workflow_id, command)
        .await?
        .position;
    Ok(Created {
        workflow_id,
        position,
    })
}

/// Replaces the draft; the position (of the edit, or of the workflow's last
/// event when the draft is the same).
pub async fn edit_draft(
    app: &App,
    operator: &Operator,
    workflow_id: Uuid,
    draft: WorkflowSpec,
) -> Result<u64, AppError> {
    operator.require_commands()?;
    let workflow = app.load_visible::<Workflow>(operator, workflow_id).await?;
    check_tools(app, operator, workflow.state.tenant_id, &draft).await?;
    Ok(app
        .handler
        .run::<Workflow>(
            &operator.context(),
            workflow_id,
            WorkflowCommand::EditDraft { draft },
        )
        .await?
        .position)
}

/// Publishes the draft as the next version (the latest again when the
/// draft is what it already is). Its tools are checked again: one may have
/// been disabled since the draft was written.
pub async fn publish(
    app: &App,
    operator: &Operator,
    workflow_id: Uuid,
) -> Result<Published, AppError> {
    operator.require_commands()?;
    let workflow = app.load_visible::<Workflow>(operator, workflow_id).await?;
    check_tools(
        app,
        operator,
        workflow.state.tenant_id,
        &workflow.state.draft,
    )
    .await?;
    let done = app
        .handler
        .run::<Workflow>(&operator.context(), workflow_id, WorkflowCommand::Publish)
        .await?;
    Ok(Published {
        version: u32::try_from(done.state.versions.len()).unwrap_or(u32::MAX),
        position: done.position,
    })
}

pub async fn archive(app: &App, operator: &Operator, workflow_id: Uuid) -> Result<u64, AppError> {
    operator.require_commands()?;
    Ok(app
        .handler
        .run::<Workflow>(&operator.context(), workflow_id, WorkflowCommand::Archive)
        .await?
        .position)
}

pub async fn detail(app: &App, caller: &Caller, workflow_id: Uuid) -> Result<Workflow, AppError> {
    Ok(app
        .load_visible::<Workflow>(caller, workflow_id)
        .await?
        .state)
}

/// Version `version` of the workflow.
pub async fn version(
    app: &App,
    caller: &Caller,
    workflow_id: Uuid,
    version: u32,
) -> Result<WorkflowSpec, AppError> {
    let workflow = detail(app, caller, workflow_id).await?;
    workflow
        .version(version)
        .cloned()
        .ok_or_else(|| AppError::NotFound(format!("workflow version {version} not found")))
}

/// What changed from version `from` to version `to`.
pub async fn compare(
    app: &App,
    caller: &Caller,
    workflow_id: Uuid,
    from: u32,
    to: u32,
) -> Result<SpecDiff, AppError> {
    let workflow = detail(app, caller, workflow_id).await?;
    let spec = |v: u32| {
        workflow
            .version(v)
            .ok_or_else(|| AppError::NotFound(format!("workflow version {v} not found")))
    };
    Ok(diff(spec(from)?, spec(to)?))
}

/// The caller's tenant's workflows, newest first; archived ones only when
/// asked.
pub async fn list(
    app: &App,
    caller: &Caller,
    archived: bool,
    list: ListParams,
) -> Result<Page<WorkflowRow>, AppError> {
    let tenant = caller.tenant_id();
    let limit = list.page_size()?;
    let progress = app.caught_up(&Workflows, list.min_position).await?;
    let items = model::list(&app.database, tenant, archived, list.cursor, limit).await?;
    Ok(Page::new(items, limit, progress.position(), |w| w.seq))
}
