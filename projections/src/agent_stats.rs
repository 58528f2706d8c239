//! Agent stats (S0): per agent, operation totals and the real mean of
//! reported confidence, tasks by status, operations per day for 7 days,
//! online or offline and when it was last seen doing something.

use std::collections::{BTreeMap, HashMap, HashSet};

use agentledger_domain::ActorKind;
use agentledger_domain::Aggregate;
use agentledger_domain::agent::{Agent, AgentEvent};
use agentledger_domain::calendar;
use agentledger_domain::ids::{AgentId, TenantId};
use agentledger_domain::reports::{ACTIONS, ActionStatus, ReportEvent};
use agentledger_domain::task::{Task, TaskEvent, TaskStatus};
use agentledger_domain::tenant::{Tenant, TenantEvent};
use agentledger_store::{Database, on_database};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::engine::{
    Projection, ProjectionError, ROWS_PER_STATEMENT, clamp, decode_event, select_in,
};
use crate::{insert_rows, sql_projection};

pub struct AgentStats;

impl Projection for AgentStats {
    fn name(&self) -> &'static str {
        "agent_stats"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "rm_agent_stats",
            "rm_agent_daily_ops",
            "rm_agent_tasks",
            ZONES,
        ]
    }
}

/// The tenants' zones as agent stats count days in them.
pub const ZONES: &str = "rm_agent_stats_zones";

const SET_ONLINE: &str = "UPDATE rm_agent_stats SET online = $1 WHERE agent_id = $2";
// A disabled agent is offline too.
const SET_ENABLED: &str =
    "UPDATE rm_agent_stats SET enabled = $1, online = online * $1 WHERE agent_id = $2";

sql_projection!(AgentStats, |_this, conn, events| {
    // Registrations, status changes and task claims are applied in log order;
    // what agents did is folded per agent and added after them, once per batch.
    let mut activity: BTreeMap<String, Activity> = BTreeMap::new();
    let mut daily_ops: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut task_steps: BTreeMap<&str, Vec<TaskStep>> = BTreeMap::new();
    let mut zones = crate::zones::Seen::new();
    for event in events {
        if event.actor.kind == ActorKind::Agent {
            let seen = &mut activity
                .entry(event.actor.id.clone())
                .or_default()
                .last_seen_us;
            *seen = (*seen).max(Some(event.occurred_at.timestamp_micros()));
        }
        // Routed by stream as well as by type: an event appended by hand to
        // a stream of another kind is not the fact it names.
        let stream = event.stream_id.as_str();
        if let Some(agent_id) = Agent::CATEGORY.id_in(stream) {
            let update = match decode_event::<AgentEvent>(event)? {
                Some(AgentEvent::AgentRegistered { name, kind, .. }) => {
                    sqlx::query(
                        "INSERT INTO rm_agent_stats (agent_id, tenant_id, name, kind, online, enabled, last_seen_us, total_ops, \
                         success_ops, failed_ops, confidence_sum, confidence_count, seq) \
                         VALUES ($1, $2, $3, $4, 0, 1, NULL, 0, 0, 0, 0, 0, $5) ON CONFLICT (agent_id) DO NOTHING",
                    )
                    .bind(agent_id)
                    .bind(event.tenant_id.to_string())
                    .bind(name)
                    .bind(kind)
                    .bind(crate::engine::clamp(event.position))
                    .execute(&mut *conn)
                    .await?;
                    None
                }
                Some(AgentEvent::AgentWentOnline) => Some((SET_ONLINE, 1)),
                Some(AgentEvent::AgentWentOffline { .. }) => Some((SET_ONLINE, 0)),
                Some(AgentEvent::AgentEnabled) => Some((SET_ENABLED, 1)),
                Some(AgentEvent::AgentDisabled { .. }) => Some((SET_ENABLED, 0)),
                Some(AgentEvent::AgentRenamed { name }) => {
                    sqlx::query("UPDATE rm_agent_stats SET name = $1 WHERE agent_id = $2")
                        .bind(name)
                        .bind(agent_id)
                        .execute(&mut *conn)
                        .await?;
                    None
                }
                Some(AgentEvent::AgentRetired { .. }) => {
                    sqlx::query(
                        "UPDATE rm_agent_stats SET enabled = 0, online = 0, retired_us = $1 WHERE agent_id = $2",
                    )
                    .bind(event.occurred_at.timestamp_micros())
                    .bind(agent_id)
                    .execute(&mut *conn)
                    .await?;
                    None
                }
                _ => None,
            };
            if let Some((sql, value)) = update {
                sqlx::query(sql)
                    .bind(value)
                    .bind(agent_id)
                    .execute(&mut *conn)
                    .await?;
            }
        } else if ACTIONS.holds(stream) {
            let Some(ReportEvent::ActionRecorded {
                agent_id,
                status,
                confidence,
                ..
            }) = decode_event::<ReportEvent>(event)?
            else {
                continue;
            };
            let agent = activity.entry(agent_id.to_string()).or_default();
            agent.operations += 1;
            agent.successes += i64::from(*status == ActionStatus::Success);
            agent.confidences.extend(confidence);
            let zone = crate::zone_of!(conn, zones, ZONES, &event.tenant_id.to_string());
            *daily_ops
                .entry((agent_id.to_string(), calendar::day(zone, event.occurred_at)))
                .or_default() += 1;
        } else if Tenant::CATEGORY.holds(stream) {
            if let Some(TenantEvent::TenantTimeZoneSet { time_zone }) =
                decode_event::<TenantEvent>(event)?
            {
                let tenant = event.tenant_id.to_string();
                crate::remember_zone!(conn, zones, ZONES, &tenant, time_zone.as_deref());
            }
        } else if let Some(task_id) = Task::CATEGORY.id_in(stream) {
            let step = match decode_event::<TaskEvent>(event)? {
                Some(TaskEvent::TaskClaimed { agent_id }) => {
                    TaskStep::Claimed(agent_id.to_string())
                }
                Some(TaskEvent::TaskProgressed { .. }) => TaskStep::Now(TaskStatus::Processing),
                Some(TaskEvent::TaskCompleted { .. }) => TaskStep::Now(TaskStatus::Completed),
                Some(TaskEvent::TaskFailed { .. }) => TaskStep::Now(TaskStatus::Failed),
                Some(TaskEvent::TaskCancelled { .. }) => TaskStep::Now(TaskStatus::Cancelled),
                _ => continue,
            };
            task_steps.entry(task_id).or_default().push(step);
        }
    }
    // Sums of confidences are carried on from the stored sum in log order, so
    // the floating-point total is the same however the log was batched.
    let reported: Vec<&String> = activity
        .iter()
        .filter(|(_, a)| !a.confidences.is_empty())
        .map(|(agent, _)| agent)
        .collect();
    let mut stored: HashMap<String, f64> = HashMap::new();
    for chunk in reported.chunks(ROWS_PER_STATEMENT) {
        let mut select = select_in(
            "SELECT agent_id, confidence_sum FROM rm_agent_stats WHERE agent_id",
            chunk.iter().map(|agent| agent.as_str()),
        );
        stored.extend(
            select
                .build_query_as::<(String, f64)>()
                .fetch_all(&mut *conn)
                .await?,
        );
    }
    let totals: Vec<_> = activity
        .iter()
        .map(|(agent, done)| {
            let confidence_sum = stored
                .get(agent)
                .map(|sum| done.confidences.iter().fold(*sum, |sum, c| sum + c));
            (agent, done, confidence_sum)
        })
        .collect();
    // One statement for every agent of the batch: a batch of a busy fleet
    // names tens of agents, and a statement each was most of this model's
    // time (each is a round trip to the driver's thread).
    insert_rows!(
        conn,
        "WITH batch (agent_id, operations, successes, confidence_sum, confidences, last_seen_us) AS (",
        totals,
        ") UPDATE rm_agent_stats SET total_ops = rm_agent_stats.total_ops + batch.operations, \
         success_ops = rm_agent_stats.success_ops + batch.successes, \
         failed_ops = rm_agent_stats.failed_ops + batch.operations - batch.successes, \
         confidence_sum = COALESCE(batch.confidence_sum, rm_agent_stats.confidence_sum), \
         confidence_count = rm_agent_stats.confidence_count + batch.confidences, \
         last_seen_us = CASE WHEN batch.last_seen_us IS NOT NULL AND (rm_agent_stats.last_seen_us IS NULL \
         OR rm_agent_stats.last_seen_us < batch.last_seen_us) THEN batch.last_seen_us \
         ELSE rm_agent_stats.last_seen_us END \
         FROM batch WHERE rm_agent_stats.agent_id = batch.agent_id",
        |row, (agent, done, confidence_sum)| {
            row.push_bind(agent.as_str())
                .push_bind(done.operations)
                .push_bind(done.successes)
                .push_bind(*confidence_sum)
                .push_bind(clamp(done.confidences.len() as u64))
                .push_bind(done.last_seen_us);
        }
    );
    // A task's row is made by its first claim and its status follows later
    // events; a claim of a task that has a row changes nothing, and a status
    // before any row exists is lost. Which tasks have rows decides the rest.
    let mut known: HashSet<String> = HashSet::new();
    let ids: Vec<&str> = task_steps.keys().copied().collect();
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let mut select = select_in(
            "SELECT task_id FROM rm_agent_tasks WHERE task_id",
            chunk.iter().copied(),
        );
        known.extend(
            select
                .build_query_scalar::<String>()
                .fetch_all(&mut *conn)
                .await?,
        );
    }
    let last_status = |steps: &[TaskStep]| {
        steps.iter().rev().find_map(|step| match step {
            TaskStep::Now(status) => Some(*status),
            TaskStep::Claimed(_) => None,
        })
    };
    let mut claimed = Vec::new();
    for (task_id, steps) in &task_steps {
        if known.contains(*task_id) {
            if let Some(status) = last_status(steps) {
                sqlx::query("UPDATE rm_agent_tasks SET status = $1 WHERE task_id = $2")
                    .bind(status.as_str())
                    .bind(*task_id)
                    .execute(&mut *conn)
                    .await?;
            }
        } else if let Some((first, agent)) =
            steps.iter().enumerate().find_map(|(i, step)| match step {
                TaskStep::Claimed(agent) => Some((i, agent)),
                TaskStep::Now(_) => None,
            })
        {
            let status = last_status(&steps[first..]).unwrap_or(TaskStatus::Claimed);
            claimed.push((*task_id, agent.as_str(), status));
        }
    }
    insert_rows!(
        conn,
        "INSERT INTO rm_agent_tasks (task_id, agent_id, status) ",
        claimed,
        " ON CONFLICT (task_id) DO NOTHING",
        |row, (task_id, agent, status)| {
            row.push_bind(*task_id)
                .push_bind(*agent)
                .push_bind(status.as_str());
        }
    );
    let daily_ops: Vec<_> = daily_ops.into_iter().collect();
    insert_rows!(
        conn,
        "INSERT INTO rm_agent_daily_ops (agent_id, day, ops) ",
        daily_ops,
        " ON CONFLICT (agent_id, day) DO UPDATE SET ops = rm_agent_daily_ops.ops + excluded.ops",
        |row, ((agent, day), ops)| {
            row.push_bind(agent.as_str())
                .push_bind(day.as_str())
                .push_bind(*ops);
        }
    );
    Ok(())
});

/// One event of a task, as this model sees it.
enum TaskStep {
    Claimed(String),
    Now(TaskStatus),
}

/// What one agent did in a batch: when it was last seen acting, its
/// operations, and the confidences it reported, in log order.
#[derive(Default)]
struct Activity {
    last_seen_us: Option<i64>,
    operations: i64,
    successes: i64,
    confidences: Vec<f64>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayOps {
    pub date: String,
    pub operations: i64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentStatsView {
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub agent_id: String,
    pub name: String,
    pub kind: String,
    pub online: bool,
    pub enabled: bool,
    #[serde(rename = "last_seen_at", serialize_with = "crate::wire::maybe_instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub last_seen_us: Option<i64>,
    pub total_operations: i64,
    pub successful_operations: i64,
    pub failed_operations: i64,
    /// The mean of the confidences reported (actions without one are left out).
    pub average_confidence: Option<f64>,
    pub tasks_by_status: BTreeMap<String, i64>,
    /// The tenant's last 7 days (in its time zone), oldest first.
    pub operations_per_day: Vec<DayOps>,
}

#[derive(sqlx::FromRow)]
struct Row {
    agent_id: String,
    name: String,
    kind: String,
    online: i64,
    enabled: i64,
    last_seen_us: Option<i64>,
    total_ops: i64,
    success_ops: i64,
    failed_ops: i64,
    confidence_sum: f64,
    confidence_count: i64,
}

const COLUMNS: &str = "agent_id, name, kind, online, enabled, last_seen_us, total_ops, success_ops, failed_ops, \
     confidence_sum, confidence_count";

/// The stats of the tenant's agents (all, or the one named), by agent id.
pub async fn read(
    db: &Database,
    tenant: TenantId,
    agent: Option<AgentId>,
    now: DateTime<Utc>,
) -> Result<Vec<AgentStatsView>, ProjectionError> {
    let tenant_text = tenant.to_string();
    let agent = agent.map(|a| a.to_string());
    let sql = format!(
        "SELECT {COLUMNS} FROM rm_agent_stats WHERE tenant_id = $1 AND (CAST($2 AS TEXT) IS NULL OR agent_id = $2) ORDER BY agent_id"
    );
    let rows: Vec<Row> = on_database!(db, p => sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql.clone()))
        .bind(&tenant_text).bind(&agent).fetch_all(p).await?);
    // Whole calendar days back from the tenant's date, as the dashboard.
    let zone = crate::zones::current(db, ZONES, tenant).await?;
    let today = now.with_timezone(&zone).date_naive();
    let days: Vec<String> = (0..7)
        .rev()
        .map(|d| {
            (today - chrono::Days::new(d))
                .format("%Y-%m-%d")
                .to_string()
        })
        .collect();
    // Tasks and daily operations of all the agents read, in one query each.
    let tasks: Vec<(String, String, i64)> = on_database!(db, p => sqlx::query_as(
        "SELECT t.agent_id, t.status, COUNT(*) FROM rm_agent_tasks t JOIN rm_agent_stats s ON s.agent_id = t.agent_id \
         WHERE s.tenant_id = $1 AND (CAST($2 AS TEXT) IS NULL OR s.agent_id = $2) GROUP BY t.agent_id, t.status"
    ).bind(&tenant_text).bind(&agent).fetch_all(p).await?);
    let daily: Vec<(String, String, i64)> = on_database!(db, p => sqlx::query_as(
        "SELECT d.agent_id, d.day, d.ops FROM rm_agent_daily_ops d JOIN rm_agent_stats s ON s.agent_id = d.agent_id \
         WHERE s.tenant_id = $1 AND (CAST($2 AS TEXT) IS NULL OR s.agent_id = $2) AND d.day >= $3"
    ).bind(&tenant_text).bind(&agent).bind(days.first().cloned().unwrap_or_default()).fetch_all(p).await?);
    let mut tasks_of: HashMap<String, BTreeMap<String, i64>> = HashMap::new();
    for (agent_id, status, count) in tasks {
        tasks_of.entry(agent_id).or_default().insert(status, count);
    }
    let ops_on: HashMap<(String, String), i64> = daily
        .into_iter()
        .map(|(agent_id, day, ops)| ((agent_id, day), ops))
        .collect();
    let mut views = Vec::with_capacity(rows.len());
    for row in rows {
        views.push(AgentStatsView {
            operations_per_day: days
                .iter()
                .map(|d| DayOps {
                    date: d.clone(),
                    operations: ops_on
                        .get(&(row.agent_id.clone(), d.clone()))
                        .copied()
                        .unwrap_or(0),
                })
                .collect(),
            average_confidence: (row.confidence_count > 0)
                .then(|| row.confidence_sum / row.confidence_count as f64),
            tasks_by_status: tasks_of.remove(&row.agent_id).unwrap_or_default(),
            agent_id: row.agent_id,
            name: row.name,
            kind: row.kind,
            online: row.online != 0,
            enabled: row.enabled != 0,
            last_seen_us: row.last_seen_us,
            total_operations: row.total_ops,
            successful_operations: row.success_ops,
            failed_operations: row.failed_ops,
        });
    }
    Ok(views)
}

/// Every agent the model shows online, of every tenant.
pub async fn online(db: &Database) -> Result<Vec<(AgentId, TenantId)>, ProjectionError> {
    let rows: Vec<(String, String)> = on_database!(db, p => sqlx::query_as(
        "SELECT agent_id, tenant_id FROM rm_agent_stats WHERE online = 1"
    ).fetch_all(p).await?);
    Ok(rows
        .into_iter()
        .filter_map(|(agent, tenant)| {
            Some((AgentId(agent.parse().ok()?), TenantId(tenant.parse().ok()?)))
        })
        .collect())
}

/// An agent in a list.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentRow {
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub agent_id: String,
    pub name: String,
    pub kind: String,
    pub online: bool,
    pub enabled: bool,
    #[serde(rename = "last_seen_at", serialize_with = "crate::wire::maybe_instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub last_seen_us: Option<i64>,
    pub total_operations: i64,
    pub failed_operations: i64,
    /// When it was retired; absent while it is not.
    #[serde(rename = "retired_at", serialize_with = "crate::wire::maybe_instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub retired_us: Option<i64>,
    /// The position of its registration: the key the list is paged by.
    pub seq: i64,
}

/// What a list of agents keeps.
#[derive(Debug, Clone, Default)]
pub struct AgentFilter {
    pub tenant_id: TenantId,
    pub enabled: Option<bool>,
    pub online: Option<bool>,
    pub kind: Option<String>,
}

/// The tenant's agents, newest first, before `before` (a `seq`).
pub async fn list(
    db: &Database,
    filter: &AgentFilter,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AgentRow>, ProjectionError> {
    type Listed = (
        String,
        String,
        String,
        i64,
        i64,
        Option<i64>,
        i64,
        i64,
        Option<i64>,
        i64,
    );
    let flag = |b: Option<bool>| b.map(i64::from);
    let rows: Vec<Listed> = on_database!(db, p => sqlx::query_as(
        "SELECT agent_id, name, kind, online, enabled, last_seen_us, total_ops, failed_ops, retired_us, seq \
         FROM rm_agent_stats WHERE tenant_id = $1 \
         AND (CAST($2 AS BIGINT) IS NULL OR enabled = $2) \
         AND (CAST($3 AS BIGINT) IS NULL OR online = $3) \
         AND (CAST($4 AS TEXT) IS NULL OR kind = $4) \
         AND (CAST($5 AS BIGINT) IS NULL OR seq < $5) ORDER BY seq DESC LIMIT $6"
    )
    .bind(filter.tenant_id.to_string())
    .bind(flag(filter.enabled))
    .bind(flag(filter.online))
    .bind(filter.kind.as_deref())
    .bind(before)
    .bind(limit)
    .fetch_all(p)
    .await?);
    Ok(rows
        .into_iter()
        .map(
            |(
                agent_id,
                name,
                kind,
                online,
                enabled,
                last_seen_us,
                total,
                failed,
                retired_us,
                seq,
            )| AgentRow {
                agent_id,
                name,
                kind,
                online: online != 0,
                enabled: enabled != 0,
                last_seen_us,
                total_operations: total,
                failed_operations: failed,
                retired_us,
                seq,
            },
        )
        .collect())
}
