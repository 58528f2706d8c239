//! Creating tasks (with dedup keys), claiming them, and moving them through
//! their lifecycle.

use agentledger_domain::address::AddressPolicy;
use agentledger_domain::codec::decode;
use agentledger_domain::dedup::{DedupEvent, DedupReservation, Reserve};
use agentledger_domain::ids::{AgentId, TaskId};
use agentledger_domain::task::{NewTask, Task, TaskCommand, TaskEvent};
use agentledger_domain::tenant::Tenant;
use agentledger_domain::{Aggregate, DomainError};

use crate::error::CommandError;
use crate::handler::{Context, Executed, Handler, derived_id};
use crate::secrets::sha256_hex;

#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    Task {
        task_id: TaskId,
        position: u64,
    },
    /// A task with the same dedup key is inside the tenant's dedup window.
    SkippedDuplicate {
        duplicate_of: TaskId,
        position: u64,
    },
}

fn dedup_stream(ctx: &Context, key: &str) -> String {
    // Hashed: keys are free text, stream ids are bounded.
    DedupReservation::stream_id(format!("{}-{}", ctx.tenant_id, &sha256_hex(key)[..32]))
}

pub async fn create(
    handler: &Handler,
    ctx: &Context,
    task_id: TaskId,
    task: NewTask,
    policy: AddressPolicy,
) -> Result<Created, CommandError> {
    // Validate before reserving: a refused task must not hold its dedup key.
    agentledger_domain::task::validate_new(&task, policy)?;
    if let Some(key) = task.dedup_key.clone() {
        let tenant = handler.load::<Tenant>(ctx.tenant_id).await?.state;
        let window = if tenant.exists {
            tenant.dedup_window()
        } else {
            chrono::Duration::hours(24)
        };
        let reserve = Reserve {
            dedup_key: key.clone(),
            task_id,
            forced: task.forced,
            at: ctx.at,
            window,
        };
        let reserved = handler
            .execute::<DedupReservation>(&dedup_stream(ctx, &key), ctx, reserve)
            .await?;
        if let Some(DedupEvent::DuplicateTaskSkipped { duplicate_of, .. }) = reserved.events.first()
        {
            return Ok(Created::SkippedDuplicate {
                duplicate_of: *duplicate_of,
                position: reserved.position,
            });
        }
    }
    let executed = handler
        .execute::<Task>(
            &Task::stream_id(task_id),
            ctx,
            TaskCommand::Create { task, policy },
        )
        .await?;
    Ok(Created::Task {
        task_id,
        position: executed.position,
    })
}

/// Claims the first of `candidates` that is still pending. Candidates come
/// from a queue that may lag; the task's own stream decides, so each task is
/// handed to exactly one agent however many poll at once.
pub async fn claim_first(
    handler: &Handler,
    ctx: &Context,
    agent_id: AgentId,
    agent_kind: &str,
    candidates: impl IntoIterator<Item = TaskId>,
) -> Result<Option<(TaskId, Executed<Task>)>, CommandError> {
    for task_id in candidates {
        let claim = TaskCommand::Claim {
            agent_id,
            agent_kind: agent_kind.to_owned(),
        };
        match handler.run::<Task>(ctx, task_id, claim).await {
            Ok(executed) => return Ok(Some((task_id, executed))),
            Err(CommandError::Domain(
                DomainError::InvalidTransition { .. }
                | DomainError::NotFound(_)
                | DomainError::Forbidden(_),
            )) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// The id of the task that retries `task_id`: derived, so a repeated retry
/// request finds the task it already created instead of making another.
pub fn retry_id(task_id: TaskId) -> TaskId {
    TaskId(derived_id(&format!("retry-of-{task_id}")))
}

/// What a task was created with: its first event. Kept out of the folded
/// state, which stays small however large inputs are.
pub async fn created_as(handler: &Handler, task_id: TaskId) -> Result<NewTask, CommandError> {
    let first = handler
        .store()
        .read_stream(&Task::stream_id(task_id), 0, 1)
        .await?;
    let Some(event) = first.first() else {
        return Err(DomainError::NotFound("task").into());
    };
    match decode::<TaskEvent>(&event.event_type, event.schema_version, &event.payload)? {
        TaskEvent::TaskCreated(task) => Ok(task),
        _ => Err(DomainError::invalid("the task's stream does not start with its creation").into()),
    }
}

/// A new, forced task with the old one's type, input and priority, linked both ways.
pub async fn retry(
    handler: &Handler,
    ctx: &Context,
    task_id: TaskId,
    policy: AddressPolicy,
) -> Result<(TaskId, u64), CommandError> {
    let stream = Task::stream_id(task_id);
    let old = handler.load_stream::<Task>(&stream).await?.state;
    if !old.exists || ctx.tenant_scope.is_some_and(|t| t != old.tenant_id) {
        return Err(DomainError::NotFound("task").into());
    }
    let new_id = retry_id(task_id);
    // Decide first on the old task, so an illegal retry creates nothing.
    let check = Task::decide(
        &old,
        TaskCommand::MarkRetried {
            new_task_id: new_id,
        },
    );
    check?;
    let created = created_as(handler, task_id).await?;
    let task = NewTask {
        forced: true,
        retry_of: Some(task_id),
        dedup_key: None,
        // A copy made by hand is not an attempt of the execution's step.
        step: None,
        ..created
    };
    // The retry belongs to the old task's tenant, also when an admin asks for it.
    let ctx = &Context {
        tenant_id: old.tenant_id,
        ..ctx.clone()
    };
    match handler
        .execute::<Task>(
            &Task::stream_id(new_id),
            ctx,
            TaskCommand::Create { task, policy },
        )
        .await
    {
        Ok(_) | Err(CommandError::Domain(DomainError::AlreadyExists(_))) => {}
        Err(e) => return Err(e),
    }
    let marked = handler
        .run::<Task>(
            ctx,
            task_id,
            TaskCommand::MarkRetried {
                new_task_id: new_id,
            },
        )
        .await?;
    Ok((new_id, marked.position))
}
