//! Command history (S2): every command sent to an agent, newest first, with
//! the output it streamed, the latest progress of a lifecycle command, and
//! its result.

use agentledger_domain::Aggregate;
use agentledger_domain::ids::{AgentId, TenantId};
use agentledger_domain::instruction::{Instruction, InstructionEvent, InstructionStatus};
use agentledger_store::{Database, on_database};
use serde::Serialize;

use crate::engine::{Projection, ProjectionError, decode_event};
use crate::sql_projection;

pub struct CommandHistory;

impl Projection for CommandHistory {
    fn name(&self) -> &'static str {
        "command_history"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["rm_commands"]
    }
}

sql_projection!(CommandHistory, |_this, conn, events| {
    for event in events {
        let Some(command_id) = Instruction::CATEGORY.id_in(&event.stream_id) else {
            continue;
        };
        let Some(instruction) = decode_event::<InstructionEvent>(event)? else {
            continue;
        };
        let at = event.occurred_at.timestamp_micros();
        let status = |s: InstructionStatus| s.to_string();
        match instruction {
            InstructionEvent::CommandIssued {
                tenant_id,
                agent_id,
                command,
                args,
                template_id,
                deadline,
                ..
            } => {
                sqlx::query(
                    "INSERT INTO rm_commands (command_id, tenant_id, agent_id, command, args, template_id, status, \
                     issued_us, deadline_us, finished_us, success, exit_code, output, streamed_output, position) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, NULL, NULL, NULL, '', $10) \
                     ON CONFLICT (command_id) DO NOTHING",
                )
                .bind(command_id)
                .bind(tenant_id.to_string())
                .bind(agent_id.to_string())
                .bind(command)
                .bind(args.to_string())
                .bind(template_id.map(|t| t.to_string()))
                .bind(status(InstructionStatus::Issued))
                .bind(at)
                .bind(deadline.timestamp_micros())
                .bind(event.position as i64)
                .execute(&mut *conn)
                .await?;
            }
            InstructionEvent::CommandDelivered => {
                sqlx::query("UPDATE rm_commands SET status = $1 WHERE command_id = $2")
                    .bind(status(InstructionStatus::Delivered))
                    .bind(command_id)
                    .execute(&mut *conn)
                    .await?;
            }
            InstructionEvent::CommandOutputAppended { chunk, .. } => {
                sqlx::query("UPDATE rm_commands SET streamed_output = streamed_output || $1 WHERE command_id = $2")
                    .bind(chunk)
                    .bind(command_id)
                    .execute(&mut *conn)
                    .await?;
            }
            InstructionEvent::CommandProgressReported { stage, percent } => {
                sqlx::query(
                    "UPDATE rm_commands SET progress_stage = $1, progress_percent = $2 WHERE command_id = $3",
                )
                .bind(stage)
                .bind(i64::from(*percent))
                .bind(command_id)
                .execute(&mut *conn)
                .await?;
            }
            InstructionEvent::CommandFinished {
                success,
                exit_code,
                output,
            } => {
                let done = if *success {
                    InstructionStatus::Succeeded
                } else {
                    InstructionStatus::Failed
                };
                sqlx::query(
                    "UPDATE rm_commands SET status = $1, finished_us = $2, success = $3, exit_code = $4, output = $5 \
                     WHERE command_id = $6",
                )
                .bind(status(done))
                .bind(at)
                .bind(i64::from(*success))
                .bind(exit_code.map(i64::from))
                .bind(output)
                .bind(command_id)
                .execute(&mut *conn)
                .await?;
            }
            InstructionEvent::CommandTimedOut => {
                sqlx::query(
                    "UPDATE rm_commands SET status = $1, finished_us = $2 WHERE command_id = $3",
                )
                .bind(status(InstructionStatus::TimedOut))
                .bind(at)
                .bind(command_id)
                .execute(&mut *conn)
                .await?;
            }
        }
    }
    Ok(())
});

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct CommandRow {
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub command_id: String,
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub agent_id: String,
    pub command: String,
    /// The arguments, as JSON text.
    pub args: String,
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub template_id: Option<String>,
    /// `issued`, `delivered`, `succeeded`, `failed` or `timed_out`.
    pub status: String,
    #[serde(rename = "issued_at", serialize_with = "crate::wire::instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub issued_us: i64,
    #[serde(rename = "deadline", serialize_with = "crate::wire::instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub deadline_us: i64,
    #[serde(rename = "finished_at", serialize_with = "crate::wire::maybe_instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub finished_us: Option<i64>,
    /// 1 or 0 once finished.
    pub success: Option<i64>,
    pub exit_code: Option<i64>,
    /// The output given with the result.
    pub output: Option<String>,
    /// Every chunk streamed while it ran, in order.
    pub streamed_output: String,
    /// The stage a lifecycle command's agent last reported; absent before
    /// its first report and for other commands. Every report is in the
    /// command's detail.
    pub progress_stage: Option<String>,
    /// The percent reported with that stage, 0 to 100.
    pub progress_percent: Option<i64>,
    /// The position of the command's issue: the cursor of the list.
    pub position: i64,
}

/// The agent's commands in the tenant, newest first, before the cursor.
pub async fn list(
    db: &Database,
    tenant: TenantId,
    agent: AgentId,
    status: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<CommandRow>, ProjectionError> {
    Ok(on_database!(db, p => sqlx::query_as::<_, CommandRow>(
        "SELECT command_id, agent_id, command, args, template_id, status, issued_us, deadline_us, finished_us, \
         success, exit_code, output, streamed_output, progress_stage, progress_percent, position FROM rm_commands \
         WHERE tenant_id = $1 AND agent_id = $2 AND (CAST($3 AS TEXT) IS NULL OR status = $3) \
         AND (CAST($4 AS BIGINT) IS NULL OR position < $4) ORDER BY position DESC LIMIT $5"
    )
    .bind(tenant.to_string()).bind(agent.to_string()).bind(status).bind(before).bind(limit)
    .fetch_all(p)
    .await?))
}

/// Unfinished commands whose deadline is at or before `now_us`, of every
/// tenant, oldest deadline first: (command id, tenant id).
pub async fn overdue(
    db: &Database,
    now_us: i64,
    limit: i64,
) -> Result<Vec<(String, String)>, ProjectionError> {
    Ok(on_database!(db, p => sqlx::query_as(
        "SELECT command_id, tenant_id FROM rm_commands WHERE status IN ('issued', 'delivered') \
         AND deadline_us <= $1 ORDER BY deadline_us LIMIT $2"
    )
    .bind(now_us)
    .bind(limit)
    .fetch_all(p)
    .await?))
}
