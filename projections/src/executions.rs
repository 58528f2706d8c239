//! Executions as they stand, each with its steps (status, attempts,
//! timings, the task of an agent step) and the tokens and cost of the runs
//! its tasks reported; and the deadlines of the attempts under way, which
//! the engine watches.

use agentledger_domain::Aggregate;
use agentledger_domain::execution::{Execution, ExecutionEvent, ExecutionStatus, StepStatus};
use agentledger_domain::ids::TenantId;
use agentledger_domain::reports::ReportEvent;
use agentledger_domain::task::TaskEvent;
use agentledger_domain::workflow::StepAction;
use agentledger_store::{Database, on_database};
use serde::Serialize;

use crate::engine::{CAP, Decoded, Projection, ProjectionError, clamp, decode_event};
use crate::sql_projection;

pub struct Executions;

impl Projection for Executions {
    fn name(&self) -> &'static str {
        "executions"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["rm_executions", "rm_execution_steps", "rm_execution_tasks"]
    }
}

/// What one event changes in the model, as statements both backends run.
enum Change<'a> {
    None,
    Execution(&'a str, &'a ExecutionEvent),
    Task(String, &'a agentledger_domain::task::StepAttempt),
    Run {
        task_id: String,
        prompt_tokens: i64,
        completion_tokens: i64,
        cost_micros: i64,
    },
}

fn change<'a>(event: &'a Decoded<'_>) -> Result<Change<'a>, ProjectionError> {
    if let Some(id) = Execution::CATEGORY.id_in(&event.stream_id) {
        return Ok(decode_event::<ExecutionEvent>(event)?
            .map_or(Change::None, |e| Change::Execution(id, e)));
    }
    if let Some(TaskEvent::TaskCreated(task)) = decode_event::<TaskEvent>(event)? {
        return Ok(
            match (
                &task.step,
                agentledger_domain::task::Task::CATEGORY.id_in(&event.stream_id),
            ) {
                (Some(step), Some(task_id)) => Change::Task(task_id.to_owned(), step),
                _ => Change::None,
            },
        );
    }
    if let Some(ReportEvent::LlmRunRecorded {
        task_id: Some(task_id),
        prompt_tokens,
        completion_tokens,
        cost_micros,
        ..
    }) = decode_event::<ReportEvent>(event)?
    {
        return Ok(Change::Run {
            task_id: task_id.to_string(),
            prompt_tokens: clamp(*prompt_tokens),
            completion_tokens: clamp(*completion_tokens),
            cost_micros: *cost_micros,
        });
    }
    Ok(Change::None)
}

/// The update charging a run's tokens ($1, $2) and cost ($3) to the rows
/// `filter` names, each sum stopping at `CAP` as every model's does.
fn charge_sql(table: &str, filter: &str) -> String {
    let add = |column: &str, value: &str| {
        format!(
            "{column} = CASE WHEN {column} + {value} > {CAP} THEN {CAP} ELSE {column} + {value} END"
        )
    };
    format!(
        "UPDATE {table} SET {}, {}, {}, {} WHERE {filter}",
        add("prompt_tokens", "$1"),
        add("completion_tokens", "$2"),
        add("cost_micros", "$3"),
        add("runs", "1")
    )
}

sql_projection!(Executions, |_this, conn, events| {
    for event in events {
        let at = event.occurred_at.timestamp_micros();
        match change(event)? {
            Change::None => {}
            Change::Execution(id, execution) => {
                let (status, failed_step, error) = match execution {
                    ExecutionEvent::ExecutionStarted {
                        workflow_id,
                        version,
                        spec,
                        input,
                        ..
                    } => {
                        sqlx::query(
                            "INSERT INTO rm_executions (execution_id, tenant_id, workflow_id, version, status, input, \
                             started_us, prompt_tokens, completion_tokens, cost_micros, runs, seq) \
                             VALUES ($1, $2, $3, $4, 'running', $5, $6, 0, 0, 0, 0, $7) \
                             ON CONFLICT (execution_id) DO NOTHING",
                        )
                        .bind(id)
                        .bind(event.tenant_id.to_string())
                        .bind(workflow_id.to_string())
                        .bind(i64::from(*version))
                        .bind(input.to_string())
                        .bind(at)
                        .bind(clamp(event.position))
                        .execute(&mut *conn)
                        .await?;
                        for (ordinal, step) in spec.steps.iter().enumerate() {
                            let action = match step.action {
                                StepAction::Agent { .. } => "agent",
                                StepAction::Tool { .. } => "tool",
                            };
                            sqlx::query(
                                "INSERT INTO rm_execution_steps (execution_id, step, ordinal, action, status, \
                                 attempts, prompt_tokens, completion_tokens, cost_micros, runs) \
                                 VALUES ($1, $2, $3, $4, 'waiting', 0, 0, 0, 0, 0) \
                                 ON CONFLICT (execution_id, step) DO NOTHING",
                            )
                            .bind(id)
                            .bind(&step.key)
                            .bind(clamp(ordinal as u64))
                            .bind(action)
                            .execute(&mut *conn)
                            .await?;
                        }
                        continue;
                    }
                    ExecutionEvent::StepStarted {
                        step,
                        attempt,
                        input,
                        deadline,
                    } => {
                        sqlx::query(
                            "UPDATE rm_execution_steps SET status = 'running', attempts = $1, input = $2, \
                             output = NULL, task_id = NULL, started_us = $3, ended_us = NULL, deadline_us = $4 \
                             WHERE execution_id = $5 AND step = $6",
                        )
                        .bind(i64::from(*attempt))
                        .bind(input.to_string())
                        .bind(at)
                        .bind(deadline.timestamp_micros())
                        .bind(id)
                        .bind(step)
                        .execute(&mut *conn)
                        .await?;
                        continue;
                    }
                    // The call itself shows in the step's times and outcome.
                    ExecutionEvent::ToolCallStarted { .. } => continue,
                    ExecutionEvent::StepSucceeded { step, output, .. } => {
                        sqlx::query(
                            "UPDATE rm_execution_steps SET status = 'succeeded', output = $1, ended_us = $2, \
                             deadline_us = NULL WHERE execution_id = $3 AND step = $4",
                        )
                        .bind(output.to_string())
                        .bind(at)
                        .bind(id)
                        .bind(step)
                        .execute(&mut *conn)
                        .await?;
                        continue;
                    }
                    ExecutionEvent::StepFailed {
                        step,
                        error,
                        retried,
                        ..
                    } => {
                        let status = if *retried {
                            StepStatus::Waiting
                        } else {
                            StepStatus::Failed
                        };
                        sqlx::query(
                            "UPDATE rm_execution_steps SET status = $1, error = $2, ended_us = $3, \
                             deadline_us = NULL WHERE execution_id = $4 AND step = $5",
                        )
                        .bind(status.as_str())
                        .bind(error)
                        .bind(at)
                        .bind(id)
                        .bind(step)
                        .execute(&mut *conn)
                        .await?;
                        continue;
                    }
                    ExecutionEvent::ExecutionPaused | ExecutionEvent::ExecutionResumed => {
                        let status = if matches!(execution, ExecutionEvent::ExecutionPaused) {
                            ExecutionStatus::Paused
                        } else {
                            ExecutionStatus::Running
                        };
                        sqlx::query("UPDATE rm_executions SET status = $1 WHERE execution_id = $2")
                            .bind(status.as_str())
                            .bind(id)
                            .execute(&mut *conn)
                            .await?;
                        continue;
                    }
                    ExecutionEvent::ExecutionCompleted => (ExecutionStatus::Completed, None, None),
                    ExecutionEvent::ExecutionFailed { step, error } => {
                        (ExecutionStatus::Failed, Some(step), Some(error))
                    }
                    ExecutionEvent::ExecutionCancelled { reason } => {
                        (ExecutionStatus::Cancelled, None, Some(reason))
                    }
                };
                sqlx::query(
                    "UPDATE rm_executions SET status = $1, failed_step = $2, error = $3, ended_us = $4 \
                     WHERE execution_id = $5",
                )
                .bind(status.as_str())
                .bind(failed_step)
                .bind(error)
                .bind(at)
                .bind(id)
                .execute(&mut *conn)
                .await?;
                // An ended execution has no deadline left to watch.
                sqlx::query(
                    "UPDATE rm_execution_steps SET deadline_us = NULL WHERE execution_id = $1 \
                     AND deadline_us IS NOT NULL",
                )
                .bind(id)
                .execute(&mut *conn)
                .await?;
            }
            Change::Task(task_id, step) => {
                let execution_id = step.execution_id.to_string();
                sqlx::query(
                    "INSERT INTO rm_execution_tasks (task_id, execution_id, step) VALUES ($1, $2, $3) \
                     ON CONFLICT (task_id) DO NOTHING",
                )
                .bind(&task_id)
                .bind(&execution_id)
                .bind(&step.step)
                .execute(&mut *conn)
                .await?;
                sqlx::query(
                    "UPDATE rm_execution_steps SET task_id = $1 WHERE execution_id = $2 AND step = $3 \
                     AND attempts = $4",
                )
                .bind(&task_id)
                .bind(&execution_id)
                .bind(&step.step)
                .bind(i64::from(step.attempt))
                .execute(&mut *conn)
                .await?;
            }
            Change::Run {
                task_id,
                prompt_tokens,
                completion_tokens,
                cost_micros,
            } => {
                let Some((execution_id, step)) = sqlx::query_as::<_, (String, String)>(
                    "SELECT execution_id, step FROM rm_execution_tasks WHERE task_id = $1",
                )
                .bind(&task_id)
                .fetch_optional(&mut *conn)
                .await?
                else {
                    continue;
                };
                for (table, filter) in [
                    ("rm_executions", "execution_id = $4"),
                    ("rm_execution_steps", "execution_id = $4 AND step = $5"),
                ] {
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(charge_sql(table, filter)))
                        .bind(prompt_tokens)
                        .bind(completion_tokens)
                        .bind(cost_micros)
                        .bind(&execution_id);
                    if table == "rm_execution_steps" {
                        query = query.bind(&step);
                    }
                    query.execute(&mut *conn).await?;
                }
            }
        }
    }
    Ok(())
});

/// An execution as listed and shown.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ExecutionRow {
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub execution_id: String,
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub workflow_id: String,
    pub version: i64,
    /// `running`, `paused`, `completed`, `failed` or `cancelled`.
    pub status: String,
    /// The input it was started with, as JSON text.
    pub input: String,
    #[serde(rename = "started_at", serialize_with = "crate::wire::instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub started_us: i64,
    #[serde(rename = "ended_at", serialize_with = "crate::wire::maybe_instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub ended_us: Option<i64>,
    /// The step whose attempts ran out, when it failed.
    pub failed_step: Option<String>,
    /// Why it failed, or was cancelled.
    pub error: Option<String>,
    /// Of the runs its tasks reported.
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    #[serde(rename = "cost_usd", serialize_with = "crate::wire::usd")]
    #[cfg_attr(feature = "openapi", schema(value_type = f64))]
    pub cost_micros: i64,
    pub runs: i64,
    /// The position of its start: the key the list is paged by.
    pub seq: i64,
}

/// A step of an execution: its attempt under way or last made.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct StepRow {
    pub step: String,
    /// `agent` or `tool`.
    pub action: String,
    /// `waiting`, `running`, `succeeded` or `failed`.
    pub status: String,
    pub attempts: i64,
    /// The task of its last attempt, for an agent step.
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub task_id: Option<String>,
    /// The input of its last attempt, as JSON text.
    pub input: Option<String>,
    /// Its output, as JSON text, once it succeeded.
    pub output: Option<String>,
    /// Why its last failed attempt failed.
    pub error: Option<String>,
    #[serde(rename = "started_at", serialize_with = "crate::wire::maybe_instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub started_us: Option<i64>,
    #[serde(rename = "ended_at", serialize_with = "crate::wire::maybe_instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub ended_us: Option<i64>,
    /// When the attempt under way times out.
    #[serde(rename = "deadline", serialize_with = "crate::wire::maybe_instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub deadline_us: Option<i64>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    #[serde(rename = "cost_usd", serialize_with = "crate::wire::usd")]
    #[cfg_attr(feature = "openapi", schema(value_type = f64))]
    pub cost_micros: i64,
    pub runs: i64,
}

const EXECUTION_COLUMNS: &str = "execution_id, workflow_id, version, status, input, started_us, ended_us, \
     failed_step, error, prompt_tokens, completion_tokens, cost_micros, runs, seq";

/// What a list of executions keeps.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub tenant_id: TenantId,
    pub workflow_id: Option<String>,
    pub status: Option<String>,
}

/// The tenant's executions, newest first, before `before` (a `seq`).
pub async fn list(
    db: &Database,
    filter: &Filter,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<ExecutionRow>, ProjectionError> {
    let sql = format!(
        "SELECT {EXECUTION_COLUMNS} FROM rm_executions WHERE tenant_id = $1 \
         AND (CAST($2 AS TEXT) IS NULL OR workflow_id = $2) \
         AND (CAST($3 AS TEXT) IS NULL OR status = $3) \
         AND (CAST($4 AS BIGINT) IS NULL OR seq < $4) ORDER BY seq DESC LIMIT $5"
    );
    Ok(
        on_database!(db, p => sqlx::query_as::<_, ExecutionRow>(sqlx::AssertSqlSafe(sql.clone()))
        .bind(filter.tenant_id.to_string())
        .bind(filter.workflow_id.as_deref())
        .bind(filter.status.as_deref())
        .bind(before)
        .bind(limit)
        .fetch_all(p)
        .await?),
    )
}

/// One execution and its steps in the workflow's order, if the model has it.
pub async fn detail(
    db: &Database,
    execution_id: &str,
) -> Result<Option<(ExecutionRow, Vec<StepRow>)>, ProjectionError> {
    let sql = format!("SELECT {EXECUTION_COLUMNS} FROM rm_executions WHERE execution_id = $1");
    let steps = "SELECT step, action, status, attempts, task_id, input, output, error, started_us, ended_us, \
         deadline_us, prompt_tokens, completion_tokens, cost_micros, runs FROM rm_execution_steps \
         WHERE execution_id = $1 ORDER BY ordinal";
    Ok(on_database!(db, p => {
        let Some(row) = sqlx::query_as::<_, ExecutionRow>(sqlx::AssertSqlSafe(sql.clone())).bind(execution_id).fetch_optional(p).await? else {
            return Ok(None);
        };
        let steps = sqlx::query_as::<_, StepRow>(steps).bind(execution_id).fetch_all(p).await?;
        Some((row, steps))
    }))
}

/// Executions with an attempt whose deadline is at or before `now_us`: the
/// tenant and execution of each, at most `limit`, the longest overdue first.
pub async fn overdue(
    db: &Database,
    now_us: i64,
    limit: i64,
) -> Result<Vec<(String, String)>, ProjectionError> {
    Ok(on_database!(db, p => sqlx::query_as::<_, (String, String)>(
        "SELECT e.tenant_id, s.execution_id FROM rm_execution_steps s \
         JOIN rm_executions e ON e.execution_id = s.execution_id \
         WHERE s.deadline_us IS NOT NULL AND s.deadline_us <= $1 \
         GROUP BY e.tenant_id, s.execution_id ORDER BY MIN(s.deadline_us) LIMIT $2"
    )
    .bind(now_us)
    .bind(limit)
    .fetch_all(p)
    .await?))
}
