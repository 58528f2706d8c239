//! The execution engine: a process manager that follows the log and does
//! what executions decide. A step started for an agent becomes a task (its
//! id derived from the execution, the step and the attempt, so re-reading
//! the log creates nothing twice) that only agents of the step's kind may
//! claim; a step started for a tool is a call of it. The ending of a task,
//! or of a call, is reported back to the execution, which decides what
//! follows. An attempt that failed or timed out, and every attempt of an
//! execution that ended, has its open task cancelled. Deadlines are watched
//! by [`spawn_deadlines`].
//!
//! A tool is called at most once per attempt: the engine claims the call
//! on the execution first (`StartCall`, recorded as `ToolCallStarted`), so
//! neither a second server nor the engine re-reading the log after a
//! restart calls it again. A call cut short by a stop leaves its attempt
//! to time out at its deadline and be retried as the step says (as a
//! worker lost mid-activity is in other workflow engines). HTTP tools are
//! sent an `Idempotency-Key` naming the attempt all the same, for a
//! network layer that retries.

use std::time::Duration;

use agentledger_commands::tasks::create as create_task;
use agentledger_commands::{CommandError, Context, derived_id};
use agentledger_domain::DomainError;
use agentledger_domain::codec::{CodecError, decode_if};
use agentledger_domain::execution::{
    Execution, ExecutionCommand, ExecutionEvent, ExecutionEventType, MAX_ERROR_BYTES, StepStatus,
};
use agentledger_domain::ids::{TaskId, TenantId};
use agentledger_domain::task::{NewTask, StepAttempt, Task, TaskCommand, TaskEvent, TaskStatus};
use agentledger_domain::tool::Tool;
use agentledger_domain::workflow::StepAction;
use agentledger_store::{EventFilter, Position, RecordedEvent};
use serde_json::Value;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::calls;
use crate::app::App;
use crate::reactors::{BoxError, Reactor, id_of, load, persist, retrying};

/// Its name in `reactor_checkpoints` and in the ids of what it appends.
pub const NAME: &str = "executions";
/// Its name in `/ready` and `/metrics`, where `NAME` is the read model's.
pub const LABEL: &str = "execution_engine";
const USER_AGENT: &str = concat!("agentledger-executions/", env!("CARGO_PKG_VERSION"));
/// The longest any call may take (a step's own timeout is shorter).
const LONGEST_CALL: Duration = Duration::from_secs(24 * 3600);

/// The task that does attempt `attempt` of `step` of `execution_id`.
pub fn task_id(execution_id: Uuid, step: &str, attempt: u32) -> TaskId {
    TaskId(derived_id(&format!(
        "execution-task:{execution_id}:{step}:{attempt}"
    )))
}

/// The task that does attempt `attempt` of `step` of `execution_id`, for
/// agents of `agent_kind`: its id and what it is created with.
pub(crate) fn step_task(
    tenant: TenantId,
    execution_id: Uuid,
    (step, attempt): (&str, u32),
    (agent_kind, task_type): (&str, &str),
    input: Value,
) -> (TaskId, NewTask) {
    let task = NewTask {
        tenant_id: tenant,
        task_type: task_type.to_owned(),
        input,
        priority: 0,
        callback_url: None,
        dedup_key: None,
        forced: false,
        retry_of: None,
        agent_kind: Some(agent_kind.to_owned()),
        step: Some(StepAttempt {
            execution_id,
            step: step.to_owned(),
            attempt,
        }),
    };
    (task_id(execution_id, step, attempt), task)
}

/// The `Idempotency-Key` of the calls of attempt `attempt` of `step`.
fn call_key(execution_id: Uuid, step: &str, attempt: u32) -> Uuid {
    derived_id(&format!("execution-call:{execution_id}:{step}:{attempt}"))
}

pub(crate) struct Engine {
    /// `None` when the outbound client cannot be built: tool steps then
    /// fail saying so.
    client: Option<reqwest::Client>,
}

/// The context of what the engine does because of `cause` for the
/// execution: its events carry the execution's id as correlation id,
/// whoever's request (or timeout) caused them.
fn reaction(tenant: TenantId, cause: &RecordedEvent, execution_id: Uuid) -> Context {
    Context::reaction(tenant, NAME, cause.event_id, Some(execution_id))
}

/// Where a first start begins: before the first execution the log holds,
/// or at the head when it holds none (read before looking, so an execution
/// started meanwhile comes after it).
async fn first_start(app: &App) -> Result<Position, BoxError> {
    let head = app.store.head_position().await?;
    let filter = EventFilter {
        event_types: vec![ExecutionEventType::ExecutionStarted.into_str().to_owned()],
        ..EventFilter::default()
    };
    let first = app.store.read_all(1, 1, &filter).await?;
    Ok(first.first().map_or(head, |e| e.position.saturating_sub(1)))
}

#[async_trait::async_trait]
impl Reactor for Engine {
    const NAME: &'static str = NAME;

    async fn resume(
        app: &App,
        saved: Option<(Position, String)>,
    ) -> Result<(Position, Self), BoxError> {
        let client = crate::outbound::client(app.address_policy, LONGEST_CALL, USER_AGENT)
            .inspect_err(|e| {
                tracing::error!(error = %e, "the tool client cannot be built; tool steps will fail");
            })
            .ok();
        let engine = Self { client };
        let position = match saved {
            Some((position, _)) => position,
            None => first_start(app).await?,
        };
        Ok((position, engine))
    }

    fn saved(&self) -> Result<String, serde_json::Error> {
        Ok("{}".into())
    }

    async fn react(&mut self, app: &App, event: &RecordedEvent) -> Result<(), CodecError> {
        if let Some(execution_id) = id_of::<Execution>(event) {
            let Some(happened) = decode_if::<ExecutionEvent>(
                &event.event_type,
                event.schema_version,
                &event.payload,
            )?
            else {
                return Ok(());
            };
            match happened {
                ExecutionEvent::StepStarted {
                    step,
                    attempt,
                    input,
                    ..
                } => {
                    self.start_step(app, event, execution_id, &step, attempt, input)
                        .await?;
                }
                ExecutionEvent::StepFailed {
                    step,
                    attempt,
                    error,
                    ..
                } => {
                    app.tool_calls.abort(&(execution_id, step.clone(), attempt));
                    let reason = format!("the step's attempt {attempt} ended: {error}");
                    let id = task_id(execution_id, &step, attempt);
                    cancel_task(app, event, execution_id, id, reason).await?;
                }
                ExecutionEvent::ExecutionFailed { .. }
                | ExecutionEvent::ExecutionCancelled { .. } => {
                    app.tool_calls.abort_all(execution_id);
                    let execution = load::<Execution>(app, execution_id).await?;
                    for (step, run) in &execution.steps {
                        if run.status == StepStatus::Running {
                            let id = task_id(execution_id, step, run.attempt);
                            let reason = "the execution ended".to_owned();
                            cancel_task(app, event, execution_id, id, reason).await?;
                        }
                    }
                }
                _ => {}
            }
            return Ok(());
        }
        if let Some(task) = id_of::<Task>(event) {
            report_task(app, event, TaskId(task)).await?;
        }
        Ok(())
    }
}

impl Engine {
    /// Does attempt `attempt` of `step`, if it is still the one under way:
    /// a task for an agent step, a call for a tool step.
    async fn start_step(
        &self,
        app: &App,
        cause: &RecordedEvent,
        execution_id: Uuid,
        step: &str,
        attempt: u32,
        input: Value,
    ) -> Result<(), CodecError> {
        let execution = load::<Execution>(app, execution_id).await?;
        let current = execution
            .steps
            .get(step)
            .is_some_and(|run| run.status == StepStatus::Running && run.attempt == attempt);
        let Some(spec) = execution.spec.steps.iter().find(|s| s.key == step) else {
            return Ok(());
        };
        if !current || execution.status.is_over() {
            return Ok(());
        }
        let tenant = execution.tenant_id;
        let ctx = reaction(tenant, cause, execution_id);
        match &spec.action {
            StepAction::Agent {
                agent_kind,
                task_type,
            } => {
                let (id, task) = step_task(
                    tenant,
                    execution_id,
                    (step, attempt),
                    (agent_kind, task_type),
                    input,
                );
                let refused = |e: &CommandError| matches!(e, CommandError::Domain(_));
                let created = retrying(
                    "create a step's task",
                    || create_task(&app.handler, &ctx, id, task.clone(), app.address_policy),
                    refused,
                )
                .await;
                match created {
                    Ok(_) | Err(CommandError::Domain(DomainError::AlreadyExists(_))) => {}
                    // A task that cannot be made fails the attempt, saying why.
                    Err(e) => {
                        let error = format!("the step's task cannot be created: {e}");
                        report(app, &ctx, cause, execution_id, step, attempt, Err(error)).await;
                    }
                }
            }
            StepAction::Tool { tool_id, mcp_tool } => {
                let tool = load::<Tool>(app, *tool_id).await?;
                let refused = if !tool.exists || tool.tenant_id != tenant {
                    Some("the tool is not one of this tenant's".to_owned())
                } else {
                    tool.disabled
                        .as_ref()
                        .map(|why| format!("the tool is disabled: {why}"))
                };
                let checked = app
                    .address_policy
                    .check_url("tool endpoint", &tool.definition.endpoint)
                    .map(|_| ())
                    .map_err(|e| e.to_string());
                let client = self.client.clone().ok_or("the tool client cannot be built");
                let (client, timeout) = match (refused, checked, client) {
                    (Some(why), _, _) | (None, Err(why), _) => {
                        report(app, &ctx, cause, execution_id, step, attempt, Err(why)).await;
                        return Ok(());
                    }
                    (None, Ok(()), Err(why)) => {
                        report(
                            app,
                            &ctx,
                            cause,
                            execution_id,
                            step,
                            attempt,
                            Err(why.into()),
                        )
                        .await;
                        return Ok(());
                    }
                    (None, Ok(()), Ok(client)) => {
                        (client, Duration::from_secs(u64::from(spec.timeout_seconds)))
                    }
                };
                // The first to claim the call makes it; not derived from the
                // cause, so a claim decided again after a restart finds it made.
                let claim = Context {
                    derive_event_ids: false,
                    ..ctx.clone()
                };
                let start_call = ExecutionCommand::StartCall {
                    step: step.to_owned(),
                    attempt,
                };
                let refused = |e: &CommandError| matches!(e, CommandError::Domain(_));
                let claimed = retrying(
                    "claim a tool call",
                    || {
                        app.handler
                            .run::<Execution>(&claim, execution_id, start_call.clone())
                    },
                    refused,
                )
                .await;
                if !claimed.is_ok_and(|done| !done.events.is_empty()) {
                    return Ok(());
                }
                let (app2, cause, step) = (app.clone(), cause.clone(), step.to_owned());
                let mcp_tool = mcp_tool.clone();
                let attempt_key = call_key(execution_id, &step, attempt);
                // Not awaited: a call may take as long as its step allows,
                // and the engine goes on meanwhile.
                app.tool_calls
                    .spawn(tenant, (execution_id, step.clone(), attempt), async move {
                        let output = calls::call(
                            &client,
                            &tool.definition,
                            mcp_tool.as_deref(),
                            input,
                            timeout,
                            attempt_key,
                        )
                        .await;
                        report(&app2, &ctx, &cause, execution_id, &step, attempt, output).await;
                    });
            }
        }
        Ok(())
    }
}

/// Tells the execution how attempt `attempt` of `step` went.
async fn report(
    app: &App,
    ctx: &Context,
    cause: &RecordedEvent,
    execution_id: Uuid,
    step: &str,
    attempt: u32,
    outcome: Result<Value, String>,
) {
    let at = agentledger_store::now();
    let command = match outcome {
        Ok(output) => ExecutionCommand::StepSucceeded {
            step: step.to_owned(),
            attempt,
            output,
            at,
        },
        Err(error) => ExecutionCommand::StepFailed {
            step: step.to_owned(),
            attempt,
            error: agentledger_domain::text::clean(&error, MAX_ERROR_BYTES),
            at,
        },
    };
    persist("report a step to its execution", cause, || {
        app.handler
            .run::<Execution>(ctx, execution_id, command.clone())
    })
    .await;
}

/// Cancels the task, if it is still open.
async fn cancel_task(
    app: &App,
    cause: &RecordedEvent,
    execution_id: Uuid,
    task_id: TaskId,
    reason: String,
) -> Result<(), CodecError> {
    let task = load::<Task>(app, task_id).await?;
    let open = [
        TaskStatus::Pending,
        TaskStatus::Claimed,
        TaskStatus::Processing,
    ];
    if !task.exists || !open.contains(&task.status) {
        return Ok(());
    }
    let ctx = reaction(task.tenant_id, cause, execution_id);
    let reason = agentledger_domain::text::clean(&reason, 1000);
    persist("cancel a step's task", cause, || {
        app.handler.run::<Task>(
            &ctx,
            task_id,
            TaskCommand::Cancel {
                reason: Some(reason.clone()),
            },
        )
    })
    .await;
    Ok(())
}

/// Reports the ending of a task that does an attempt of a step to its
/// execution.
async fn report_task(app: &App, event: &RecordedEvent, id: TaskId) -> Result<(), CodecError> {
    let Some(happened) =
        decode_if::<TaskEvent>(&event.event_type, event.schema_version, &event.payload)?
    else {
        return Ok(());
    };
    let outcome = match happened {
        TaskEvent::TaskCompleted { result, .. } => Ok(result),
        TaskEvent::TaskFailed { error, .. } => Err(format!("the agent failed the task: {error}")),
        TaskEvent::TaskCancelled { reason } => Err(format!(
            "the task was cancelled{}",
            reason.map(|r| format!(": {r}")).unwrap_or_default()
        )),
        _ => return Ok(()),
    };
    let task = load::<Task>(app, id).await?;
    let Some(step) = task.step else {
        return Ok(());
    };
    let ctx = reaction(task.tenant_id, event, step.execution_id);
    report(
        app,
        &ctx,
        event,
        step.execution_id,
        &step.step,
        step.attempt,
        outcome,
    )
    .await;
    Ok(())
}

/// Executions timed out per look at most; the rest wait for the next.
const DEADLINES_PER_LOOK: i64 = 500;

/// Times out, once every `period`, the attempts past their deadline. Due
/// executions are read from the executions read model, so a restart reads
/// them where they are; `TimeOut` is the execution's own decision (nothing
/// unless an attempt under way is past its deadline), so a model that lags
/// or two servers doing this at once time nothing out twice.
pub(crate) fn spawn_deadlines(app: App, period: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        loop {
            ticks.tick().await;
            let now = agentledger_store::now();
            let due = match agentledger_projections::executions::overdue(
                &app.database,
                now.timestamp_micros(),
                DEADLINES_PER_LOOK,
            )
            .await
            {
                Ok(due) => due,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the executions' deadlines");
                    continue;
                }
            };
            for (tenant, execution) in due {
                let (Ok(tenant), Ok(execution_id)) =
                    (tenant.parse::<Uuid>(), execution.parse::<Uuid>())
                else {
                    continue;
                };
                let ctx = Context {
                    correlation_id: Some(execution_id),
                    ..Context::system(TenantId(tenant), "execution-deadlines")
                };
                if let Err(e) = app
                    .handler
                    .run::<Execution>(&ctx, execution_id, ExecutionCommand::TimeOut { at: now })
                    .await
                {
                    tracing::warn!(%execution_id, error = %e, "cannot time out an execution's step");
                }
            }
        }
    })
}
