//! Budgets and batch runs: estimate, then confirm into one task per
//! (app type, member) pair.

use agentledger_domain::address::AddressPolicy;
use agentledger_domain::budget::{Batch, BatchCommand, Budget, BudgetCommand};
use agentledger_domain::ids::TaskId;
use agentledger_domain::task::{NewTask, Task, TaskCommand};
use agentledger_domain::{Aggregate, DomainError};
use serde_json::json;
use uuid::Uuid;

use crate::error::CommandError;
use crate::handler::{Context, Executed, Handler, derived_id};

/// The task type batch confirmations create.
pub const BATCH_TASK_TYPE: &str = "batch_run";

/// Sets, changes or removes one of the tenant's budgets.
pub async fn change(
    handler: &Handler,
    ctx: &Context,
    command: BudgetCommand,
) -> Result<Executed<Budget>, CommandError> {
    handler
        .execute::<Budget>(&Budget::stream_id(ctx.tenant_id), ctx, command)
        .await
}

pub async fn estimate(
    handler: &Handler,
    ctx: &Context,
    batch_id: Uuid,
    command: BatchCommand,
) -> Result<Executed<Batch>, CommandError> {
    handler
        .execute::<Batch>(&Batch::stream_id(batch_id), ctx, command)
        .await
}

/// Confirms the batch, then creates its tasks. A second confirmation is a
/// conflict. Task ids derive from the batch, so if the server stops half way
/// the batch reactor (`create_batch_tasks` on `BatchConfirmed`) completes it.
pub async fn confirm(
    handler: &Handler,
    ctx: &Context,
    batch_id: Uuid,
) -> Result<(Vec<TaskId>, u64), CommandError> {
    let stream = Batch::stream_id(batch_id);
    let batch = handler.load_stream::<Batch>(&stream).await?.state;
    let task_ids = batch_task_ids(batch_id, batch.pairs().len());
    let confirmed = handler
        .execute::<Batch>(
            &stream,
            ctx,
            BatchCommand::Confirm {
                task_ids: task_ids.clone(),
                at: ctx.at,
            },
        )
        .await?;
    let created = create_tasks(handler, ctx, batch_id, &confirmed.state).await?;
    Ok((task_ids, created.max(confirmed.position)))
}

fn batch_task_ids(batch_id: Uuid, count: usize) -> Vec<TaskId> {
    (0..count)
        .map(|i| TaskId(derived_id(&format!("batch:{batch_id}:{i}"))))
        .collect()
}

/// Creates whatever tasks of a confirmed batch do not exist yet.
pub async fn create_batch_tasks(
    handler: &Handler,
    ctx: &Context,
    batch_id: Uuid,
) -> Result<u64, CommandError> {
    let batch = handler.load::<Batch>(batch_id).await?.state;
    create_tasks(handler, ctx, batch_id, &batch).await
}

async fn create_tasks(
    handler: &Handler,
    ctx: &Context,
    batch_id: Uuid,
    batch: &Batch,
) -> Result<u64, CommandError> {
    let ctx = Context {
        tenant_id: batch.tenant_id,
        ..ctx.clone()
    };
    let mut position = 0;
    for ((app_type, member_id), task_id) in batch.pairs().iter().zip(&batch.task_ids) {
        let task = NewTask {
            tenant_id: batch.tenant_id,
            task_type: BATCH_TASK_TYPE.into(),
            input: json!({ "batch_id": batch_id, "app_type": app_type, "member_id": member_id }),
            priority: 0,
            callback_url: None,
            dedup_key: None,
            forced: true,
            retry_of: None,
            agent_kind: None,
            step: None,
        };
        match handler
            .execute::<Task>(
                &Task::stream_id(*task_id),
                &ctx,
                TaskCommand::Create {
                    task,
                    // Batch tasks call no URL.
                    policy: AddressPolicy::default(),
                },
            )
            .await
        {
            Ok(executed) => position = position.max(executed.position),
            Err(CommandError::Domain(DomainError::AlreadyExists(_))) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(position)
}
