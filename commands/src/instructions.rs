//! Commands to agents: issuing (directly, from a template or as a lifecycle
//! action), delivery on poll, output, progress, results and timeouts; and
//! the templates themselves.

use agentledger_domain::agent::Agent;
use agentledger_domain::ids::AgentId;
use agentledger_domain::instruction::{
    CommandTemplate, Instruction, InstructionCommand, TemplateCommand,
};
use agentledger_domain::lifecycle::LifecycleAction;
use agentledger_domain::{Aggregate, DomainError};
use serde_json::Value;
use uuid::Uuid;

use crate::error::CommandError;
use crate::handler::{Context, Executed, Handler};

pub enum What {
    Direct {
        command: String,
        args: Value,
        timeout_seconds: u32,
    },
    /// From a stored template; `args`, when given, replace the template's.
    Template {
        template_id: Uuid,
        args: Option<Value>,
    },
    /// Start, stop, restart, upgrade or a new certificate: the command's
    /// name and arguments are the action's.
    Lifecycle {
        action: LifecycleAction,
        timeout_seconds: u32,
    },
}

pub async fn issue(
    handler: &Handler,
    ctx: &Context,
    agent_id: AgentId,
    what: What,
) -> Result<(Uuid, u64), CommandError> {
    let agent = handler.load::<Agent>(agent_id).await?.state;
    if !agent.exists || ctx.tenant_scope.is_some_and(|t| Some(t) != agent.owner()) {
        return Err(DomainError::NotFound("agent").into());
    }
    // A retired agent never polls again: a command to it could only time out.
    if agent.retired.is_some() {
        return Err(DomainError::InvalidTransition {
            entity: "agent",
            action: "command",
            state: "retired".into(),
        }
        .into());
    }
    let plain = |command: String, args: Value, timeout_seconds: u32, template_id: Option<Uuid>| {
        InstructionCommand::Issue {
            tenant_id: agent.tenant_id,
            agent_id,
            command,
            args,
            timeout_seconds,
            template_id,
            at: ctx.at,
        }
    };
    let issue = match what {
        What::Direct {
            command,
            args,
            timeout_seconds,
        } => plain(command, args, timeout_seconds, None),
        What::Template { template_id, args } => {
            let template = handler.load::<CommandTemplate>(template_id).await?.state;
            let visible = ctx.tenant_scope.is_none_or(|t| t == template.tenant_id);
            if !template.exists || template.deleted || !visible {
                return Err(DomainError::NotFound("command template").into());
            }
            plain(
                template.command,
                args.unwrap_or(template.args),
                template.timeout_seconds,
                Some(template_id),
            )
        }
        What::Lifecycle {
            action,
            timeout_seconds,
        } => InstructionCommand::IssueLifecycle {
            tenant_id: agent.tenant_id,
            agent_id,
            action,
            timeout_seconds,
            at: ctx.at,
        },
    };
    let command_id = Uuid::now_v7();
    let ctx = Context {
        tenant_id: agent.tenant_id,
        ..ctx.clone()
    };
    let executed = handler
        .execute::<Instruction>(&Instruction::stream_id(command_id), &ctx, issue)
        .await?;
    Ok((command_id, executed.position))
}

pub async fn template(
    handler: &Handler,
    ctx: &Context,
    template_id: Uuid,
    command: TemplateCommand,
) -> Result<Executed<CommandTemplate>, CommandError> {
    handler
        .execute::<CommandTemplate>(&CommandTemplate::stream_id(template_id), ctx, command)
        .await
}
