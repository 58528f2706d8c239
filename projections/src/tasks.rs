//! Tasks and trigger jobs (S0, S1, S4): every task as it is now, listable by
//! type, status and time; each task's full history of status changes and
//! progress; and the tasks skipped as duplicates, per UTC day.

use std::collections::BTreeMap;

use agentledger_domain::Aggregate;
use agentledger_domain::calendar;
use agentledger_domain::dedup::{DedupEvent, DedupEventType};
use agentledger_domain::ids::{TaskId, TenantId};
use agentledger_domain::task::{NewTask, Task, TaskEvent, TaskStatus};
use agentledger_domain::tenant::TenantEvent;
use agentledger_store::{Database, on_database};
use serde::Serialize;

use crate::engine::{Decoded, Projection, ProjectionError, decode_event};
use crate::{insert_rows, sql_projection};

pub struct Tasks;

impl Projection for Tasks {
    fn name(&self) -> &'static str {
        "tasks"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["rm_tasks", "rm_task_history", "rm_task_skips", ZONES]
    }
}

/// The tenants' zones as the skipped duplicates count days in them.
pub const ZONES: &str = "rm_tasks_zones";

/// What one task event changes: the new status (if any), the agent, the
/// progress, and the result or error it brought.
struct Change {
    status: Option<TaskStatus>,
    agent_id: Option<String>,
    percent: Option<i64>,
    message: Option<String>,
    result: Option<String>,
    error: Option<String>,
    retried_as: Option<String>,
}

fn change(event: &TaskEvent) -> Change {
    let none = Change {
        status: None,
        agent_id: None,
        percent: None,
        message: None,
        result: None,
        error: None,
        retried_as: None,
    };
    match event {
        TaskEvent::TaskCreated(_) => Change {
            status: Some(TaskStatus::Pending),
            ..none
        },
        TaskEvent::TaskClaimed { agent_id } => Change {
            status: Some(TaskStatus::Claimed),
            agent_id: Some(agent_id.to_string()),
            ..none
        },
        TaskEvent::TaskProgressed {
            agent_id,
            percent,
            message,
            ..
        } => Change {
            status: Some(TaskStatus::Processing),
            agent_id: Some(agent_id.to_string()),
            percent: Some(i64::from(*percent)),
            message: message.clone(),
            ..none
        },
        TaskEvent::TaskCompleted { agent_id, result } => Change {
            status: Some(TaskStatus::Completed),
            agent_id: Some(agent_id.to_string()),
            percent: Some(100),
            result: Some(result.to_string()),
            ..none
        },
        TaskEvent::TaskFailed {
            agent_id, error, ..
        } => Change {
            status: Some(TaskStatus::Failed),
            agent_id: Some(agent_id.to_string()),
            error: Some(error.clone()),
            ..none
        },
        TaskEvent::TaskCancelled { reason } => Change {
            status: Some(TaskStatus::Cancelled),
            message: reason.clone(),
            ..none
        },
        TaskEvent::TaskRetried { new_task_id } => Change {
            retried_as: Some(new_task_id.to_string()),
            ..none
        },
    }
}

impl Change {
    /// This change, then `later` on top: each field takes the later value
    /// when there is one, as `COALESCE(new, old)` does in the row's update.
    fn then(&mut self, later: Change) {
        fn keep<T>(field: &mut Option<T>, later: Option<T>) {
            if later.is_some() {
                *field = later;
            }
        }
        keep(&mut self.status, later.status);
        keep(&mut self.agent_id, later.agent_id);
        keep(&mut self.percent, later.percent);
        keep(&mut self.message, later.message);
        keep(&mut self.result, later.result);
        keep(&mut self.error, later.error);
        keep(&mut self.retried_as, later.retried_as);
    }
}

/// A task's events in one batch, folded: its creation if the batch holds it,
/// every later change merged, and the time of the last event.
struct BatchTask<'a> {
    created: Option<(&'a Decoded<'a>, &'a NewTask)>,
    change: Change,
    updated_us: i64,
}

sql_projection!(Tasks, |_this, conn, events| {
    let mut tasks: BTreeMap<&str, BatchTask> = BTreeMap::new();
    let mut history = Vec::new();
    let mut skips = Vec::new();
    let mut zones = crate::zones::Seen::new();
    for event in events {
        let at = event.occurred_at.timestamp_micros();
        if let Some(TenantEvent::TenantTimeZoneSet { time_zone }) =
            decode_event::<TenantEvent>(event)?
        {
            let tenant = event.tenant_id.to_string();
            crate::remember_zone!(conn, zones, ZONES, &tenant, time_zone.as_deref());
        } else if let Some(task_id) = Task::CATEGORY.id_in(&event.stream_id) {
            let Some(task_event) = decode_event::<TaskEvent>(event)? else {
                continue;
            };
            let created = match task_event {
                TaskEvent::TaskCreated(new) => Some((event, new)),
                _ => None,
            };
            let c = change(task_event);
            if let Some(status) = c.status {
                history.push((
                    task_id,
                    event.position as i64,
                    status,
                    c.agent_id.clone(),
                    c.percent,
                    c.message.clone().or_else(|| c.error.clone()),
                    at,
                ));
            }
            match tasks.get_mut(task_id) {
                Some(row) => {
                    row.change.then(c);
                    row.updated_us = at;
                    row.created = row.created.take().or(created);
                }
                None => {
                    tasks.insert(
                        task_id,
                        BatchTask {
                            created,
                            change: c,
                            updated_us: at,
                        },
                    );
                }
            }
        } else if event.event_type == DedupEventType::DuplicateTaskSkipped.into_str()
            && let Some(DedupEvent::DuplicateTaskSkipped {
                dedup_key,
                task_id,
                duplicate_of,
            }) = decode_event::<DedupEvent>(event)?
        {
            let zone = crate::zone_of!(conn, zones, ZONES, &event.tenant_id.to_string());
            skips.push((
                event,
                task_id.to_string(),
                duplicate_of.to_string(),
                dedup_key,
                calendar::day(zone, event.occurred_at),
            ));
        }
    }
    // Tasks created in this batch are inserted as they stand at its end;
    // tasks created before get one update each.
    let mut created = Vec::new();
    let mut changed = Vec::new();
    for (task_id, task) in tasks {
        match task.created {
            Some((event, new)) => created.push((task_id, event, new, task.change, task.updated_us)),
            None => changed.push((task_id, task.change, task.updated_us)),
        }
    }
    insert_rows!(
        conn,
        "INSERT INTO rm_tasks (task_id, tenant_id, task_type, status, priority, agent_id, progress, \
         progress_message, dedup_key, retry_of, retried_as, result, error, created_us, updated_us, position) ",
        created,
        " ON CONFLICT (task_id) DO NOTHING",
        |row, (task_id, event, new, c, updated_us)| {
            row.push_bind(*task_id)
                .push_bind(event.tenant_id.to_string())
                .push_bind(new.task_type.as_str())
                .push_bind(c.status.unwrap_or(TaskStatus::Pending).as_str())
                .push_bind(i64::from(new.priority))
                .push_bind(c.agent_id.as_deref())
                .push_bind(c.percent.unwrap_or(0))
                .push_bind(c.message.as_deref())
                .push_bind(new.dedup_key.as_deref())
                .push_bind(new.retry_of.map(|t| t.to_string()))
                .push_bind(c.retried_as.as_deref())
                .push_bind(c.result.as_deref())
                .push_bind(c.error.as_deref())
                .push_bind(event.occurred_at.timestamp_micros())
                .push_bind(*updated_us)
                .push_bind(event.position as i64);
        }
    );
    for (task_id, c, updated_us) in &changed {
        sqlx::query(
            "UPDATE rm_tasks SET status = COALESCE($1, status), agent_id = COALESCE($2, agent_id), \
             progress = COALESCE($3, progress), progress_message = COALESCE($4, progress_message), \
             result = COALESCE($5, result), error = COALESCE($6, error), retried_as = COALESCE($7, retried_as), \
             updated_us = $8 WHERE task_id = $9",
        )
        .bind(c.status.map(TaskStatus::as_str))
        .bind(&c.agent_id)
        .bind(c.percent)
        .bind(&c.message)
        .bind(&c.result)
        .bind(&c.error)
        .bind(&c.retried_as)
        .bind(*updated_us)
        .bind(*task_id)
        .execute(&mut *conn)
        .await?;
    }
    insert_rows!(
        conn,
        "INSERT INTO rm_task_history (task_id, position, status, agent_id, percent, message, at_us) ",
        history,
        " ON CONFLICT (task_id, position) DO NOTHING",
        |row, (task_id, position, status, agent_id, percent, message, at)| {
            row.push_bind(*task_id)
                .push_bind(*position)
                .push_bind(status.as_str())
                .push_bind(agent_id.as_deref())
                .push_bind(*percent)
                .push_bind(message.as_deref())
                .push_bind(*at);
        }
    );
    insert_rows!(
        conn,
        "INSERT INTO rm_task_skips (position, tenant_id, task_id, duplicate_of, dedup_key, day, at_us) ",
        skips,
        " ON CONFLICT (position) DO NOTHING",
        |row, (event, task_id, duplicate_of, dedup_key, day)| {
            row.push_bind(event.position as i64)
                .push_bind(event.tenant_id.to_string())
                .push_bind(task_id.as_str())
                .push_bind(duplicate_of.as_str())
                .push_bind(dedup_key.as_str())
                .push_bind(day.as_str())
                .push_bind(event.occurred_at.timestamp_micros());
        }
    );
    Ok(())
});

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub tenant_id: TenantId,
    pub task_type: Option<String>,
    pub status: Option<String>,
    pub from_us: Option<i64>,
    pub to_us: Option<i64>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct TaskRow {
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub task_id: String,
    pub task_type: String,
    pub status: String,
    pub priority: i64,
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub agent_id: Option<String>,
    pub progress: i64,
    pub progress_message: Option<String>,
    pub dedup_key: Option<String>,
    pub retry_of: Option<String>,
    pub retried_as: Option<String>,
    /// The result the agent reported, as JSON text.
    pub result: Option<String>,
    pub error: Option<String>,
    #[serde(rename = "created_at", serialize_with = "crate::wire::instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_us: i64,
    #[serde(rename = "updated_at", serialize_with = "crate::wire::instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_us: i64,
    /// The position of the task's creation: the cursor of the list.
    pub position: i64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct HistoryEntry {
    pub position: i64,
    pub status: String,
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub agent_id: Option<String>,
    pub percent: Option<i64>,
    pub message: Option<String>,
    #[serde(rename = "at", serialize_with = "crate::wire::instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at_us: i64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskDetail {
    #[serde(flatten)]
    pub task: TaskRow,
    /// Every status change and progress report, oldest first.
    pub history: Vec<HistoryEntry>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct SkippedTask {
    pub position: i64,
    /// The id the skipped task would have had.
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub task_id: String,
    pub duplicate_of: String,
    pub dedup_key: String,
    #[serde(rename = "at", serialize_with = "crate::wire::instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at_us: i64,
}

const COLUMNS: &str = "task_id, task_type, status, priority, agent_id, progress, progress_message, dedup_key, \
     retry_of, retried_as, result, error, created_us, updated_us, position";

/// Tasks newest first (by creation), before the cursor `before`.
pub async fn list(
    db: &Database,
    f: &Filter,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<TaskRow>, ProjectionError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM rm_tasks WHERE tenant_id = $1 \
         AND (CAST($2 AS TEXT) IS NULL OR task_type = $2) \
         AND (CAST($3 AS TEXT) IS NULL OR status = $3) \
         AND (CAST($4 AS BIGINT) IS NULL OR created_us >= $4) \
         AND (CAST($5 AS BIGINT) IS NULL OR created_us < $5) \
         AND (CAST($6 AS BIGINT) IS NULL OR position < $6) ORDER BY position DESC LIMIT $7"
    );
    Ok(
        on_database!(db, p => sqlx::query_as::<_, TaskRow>(sqlx::AssertSqlSafe(sql.clone()))
        .bind(f.tenant_id.to_string()).bind(&f.task_type).bind(&f.status).bind(f.from_us).bind(f.to_us)
        .bind(before).bind(limit)
        .fetch_all(p)
        .await?),
    )
}

/// One task of the tenant with its history.
pub async fn detail(
    db: &Database,
    tenant: TenantId,
    task_id: TaskId,
) -> Result<Option<TaskDetail>, ProjectionError> {
    let task_id = task_id.to_string();
    let sql = format!("SELECT {COLUMNS} FROM rm_tasks WHERE tenant_id = $1 AND task_id = $2");
    let task = on_database!(db, p => sqlx::query_as::<_, TaskRow>(sqlx::AssertSqlSafe(sql.clone()))
        .bind(tenant.to_string()).bind(&task_id).fetch_optional(p).await?);
    let Some(task) = task else {
        return Ok(None);
    };
    let history = on_database!(db, p => sqlx::query_as::<_, HistoryEntry>(
        "SELECT position, status, agent_id, percent, message, at_us FROM rm_task_history WHERE task_id = $1 ORDER BY position"
    ).bind(&task_id).fetch_all(p).await?);
    Ok(Some(TaskDetail { task, history }))
}

/// The tasks skipped as duplicates on `day` (`YYYY-MM-DD`, UTC), oldest first.
pub async fn skipped(
    db: &Database,
    tenant: TenantId,
    day: &str,
) -> Result<Vec<SkippedTask>, ProjectionError> {
    Ok(on_database!(db, p => sqlx::query_as::<_, SkippedTask>(
        "SELECT position, task_id, duplicate_of, dedup_key, at_us FROM rm_task_skips \
         WHERE tenant_id = $1 AND day = $2 ORDER BY position"
    ).bind(tenant.to_string()).bind(day).fetch_all(p).await?))
}
