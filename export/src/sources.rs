//! What can be exported, each as a stream of Arrow record batches with typed
//! columns: integers as integers, times as UTC timestamps (µs), JSON payloads
//! as JSON text.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use agentledger_domain::ids::TenantId;
use agentledger_projections::operation_log::{self, Operation};
use agentledger_projections::run_log::{self, Run};
use agentledger_projections::usage::{self, Grouping, Period, UsageRow};
use agentledger_store::{Database, EventFilter, EventStore, Prefix, RecordedEvent, to_hex};
use arrow_array::builder::{
    Decimal128Builder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::ExportError;
use crate::format::JSON_TEXT;

/// The zone of every timestamp column, as an offset: arrow's CSV and JSON
/// writers name zones only by offset unless they carry a zone database.
const UTC: &str = "+00:00";

/// Rows read from the database per batch.
pub const PAGE: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    Events,
    Runs,
    Operations,
    Usage,
}

#[derive(Debug, thiserror::Error)]
#[error("unknown export `{0}` (expected events, runs, operations or usage)")]
pub struct ParseDatasetError(String);

impl FromStr for Dataset {
    type Err = ParseDatasetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "events" => Ok(Dataset::Events),
            "runs" => Ok(Dataset::Runs),
            "operations" => Ok(Dataset::Operations),
            "usage" => Ok(Dataset::Usage),
            other => Err(ParseDatasetError(other.to_owned())),
        }
    }
}

impl Dataset {
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Events => "events",
            Dataset::Runs => "runs",
            Dataset::Operations => "operations",
            Dataset::Usage => "usage",
        }
    }
}

#[async_trait::async_trait]
pub trait Source: Send {
    fn schema(&self) -> SchemaRef;
    /// The next batch, or `None` at the end.
    async fn next_batch(&mut self) -> Result<Option<RecordBatch>, ExportError>;
}

fn utc_timestamp(name: &str, nullable: bool) -> Field {
    Field::new(
        name,
        DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
        nullable,
    )
}

fn text(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

fn int64(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Int64, nullable)
}

/// Money as US dollars with six exact decimals: the read models' micro-dollars
/// with the unit the API takes and answers in.
const USD: (u8, i8) = (18, 6);

fn usd(name: &str) -> Field {
    Field::new(name, DataType::Decimal128(USD.0, USD.1), false)
}

fn usd_builder(n: usize) -> Result<Decimal128Builder, ExportError> {
    Ok(Decimal128Builder::with_capacity(n).with_precision_and_scale(USD.0, USD.1)?)
}

fn batch(schema: &SchemaRef, columns: Vec<ArrayRef>) -> Result<RecordBatch, ExportError> {
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

/// The log, in position order, up to the head as it was when the export
/// started: a consistent snapshot while appends go on.
pub struct EventSource {
    prefix: Prefix,
    schema: SchemaRef,
}

impl EventSource {
    pub async fn new(store: Arc<dyn EventStore>, filter: EventFilter) -> Result<Self, ExportError> {
        let until = store.head_position().await?;
        let json = HashMap::from([(JSON_TEXT.0.to_owned(), JSON_TEXT.1.to_owned())]);
        let schema = Arc::new(Schema::new(vec![
            int64("position", false),
            text("stream_id", false),
            int64("stream_version", false),
            text("event_id", false),
            text("event_type", false),
            Field::new("schema_version", DataType::Int32, false),
            text("tenant_id", false),
            utc_timestamp("occurred_at", false),
            utc_timestamp("recorded_at", false),
            text("actor_kind", false),
            text("actor_id", false),
            text("correlation_id", true),
            text("causation_id", true),
            text("payload", false).with_metadata(json),
            text("hash", false),
        ]));
        Ok(Self {
            prefix: Prefix::new(store, filter, until, PAGE),
            schema,
        })
    }

    fn encode(&self, events: &[RecordedEvent]) -> Result<RecordBatch, ExportError> {
        let n = events.len();
        let mut position = Int64Builder::with_capacity(n);
        let mut stream_id = StringBuilder::new();
        let mut stream_version = Int64Builder::with_capacity(n);
        let mut event_id = StringBuilder::new();
        let mut event_type = StringBuilder::new();
        let mut schema_version = Int32Builder::with_capacity(n);
        let mut tenant_id = StringBuilder::new();
        let mut occurred_at = TimestampMicrosecondBuilder::with_capacity(n).with_timezone(UTC);
        let mut recorded_at = TimestampMicrosecondBuilder::with_capacity(n).with_timezone(UTC);
        let mut actor_kind = StringBuilder::new();
        let mut actor_id = StringBuilder::new();
        let mut correlation_id = StringBuilder::new();
        let mut causation_id = StringBuilder::new();
        let mut payload = StringBuilder::new();
        let mut hash = StringBuilder::new();
        for e in events {
            position.append_value(e.position as i64);
            stream_id.append_value(&e.stream_id);
            stream_version.append_value(e.stream_version as i64);
            event_id.append_value(e.event_id.to_string());
            event_type.append_value(&e.event_type);
            schema_version.append_value(e.schema_version);
            tenant_id.append_value(e.tenant_id.to_string());
            occurred_at.append_value(e.occurred_at.timestamp_micros());
            recorded_at.append_value(e.recorded_at.timestamp_micros());
            actor_kind.append_value(e.actor.kind.as_str());
            actor_id.append_value(&e.actor.id);
            correlation_id.append_option(e.correlation_id.map(|u| u.to_string()));
            causation_id.append_option(e.causation_id.map(|u| u.to_string()));
            payload.append_value(e.payload.to_string());
            hash.append_value(to_hex(&e.hash));
        }
        batch(
            &self.schema,
            vec![
                Arc::new(position.finish()),
                Arc::new(stream_id.finish()),
                Arc::new(stream_version.finish()),
                Arc::new(event_id.finish()),
                Arc::new(event_type.finish()),
                Arc::new(schema_version.finish()),
                Arc::new(tenant_id.finish()),
                Arc::new(occurred_at.finish()),
                Arc::new(recorded_at.finish()),
                Arc::new(actor_kind.finish()),
                Arc::new(actor_id.finish()),
                Arc::new(correlation_id.finish()),
                Arc::new(causation_id.finish()),
                Arc::new(payload.finish()),
                Arc::new(hash.finish()),
            ],
        )
    }
}

#[async_trait::async_trait]
impl Source for EventSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    async fn next_batch(&mut self) -> Result<Option<RecordBatch>, ExportError> {
        match self.prefix.next_page().await? {
            Some(events) => self.encode(&events).map(Some),
            None => Ok(None),
        }
    }
}

/// A read model to export, with what selects its rows besides the tenant.
#[derive(Debug, Clone)]
pub enum ReadModel {
    /// Runs that occurred in `[from_us, to_us)` (Unix µs), either open.
    Runs {
        from_us: Option<i64>,
        to_us: Option<i64>,
    },
    /// Operations that occurred in `[from_us, to_us)`.
    Operations {
        from_us: Option<i64>,
        to_us: Option<i64>,
    },
    /// Usage per period from `from` to `to` (`YYYY-MM-DD`, inclusive).
    Usage {
        from: String,
        to: String,
        period: Period,
        by: Grouping,
    },
}

/// The run log, operation log or usage of one tenant, newest first as the
/// API lists them, a page at a time.
pub struct ReadModelSource {
    db: Database,
    tenant_id: TenantId,
    model: ReadModel,
    /// The keyset cursor: the last position of the previous page.
    before: Option<i64>,
    done: bool,
    schema: SchemaRef,
}

impl ReadModelSource {
    pub fn new(db: Database, tenant_id: TenantId, model: ReadModel) -> Self {
        let schema = Arc::new(Schema::new(match model {
            ReadModel::Runs { .. } => vec![
                int64("position", false),
                text("run_id", false),
                text("agent_id", false),
                text("app_type", false),
                text("trigger_type", false),
                text("member_id", true),
                text("model", false),
                int64("prompt_tokens", false),
                int64("completion_tokens", false),
                usd("cost_usd"),
                int64("latency_ms", false),
                text("status", false),
                text("error_message", true),
                text("session_id", true),
                utc_timestamp("occurred_at", false),
            ],
            ReadModel::Operations { .. } => vec![
                int64("position", false),
                text("agent_id", false),
                text("action", false),
                text("resource_type", false),
                text("resource_id", true),
                text("status", false),
                Field::new("confidence", DataType::Float64, true),
                int64("execution_time_ms", true),
                utc_timestamp("occurred_at", false),
            ],
            ReadModel::Usage { .. } => vec![
                text("period", false),
                text("key", false),
                int64("calls", false),
                int64("prompt_tokens", false),
                int64("completion_tokens", false),
                int64("total_tokens", false),
                usd("cost_usd"),
            ],
        }));
        Self {
            db,
            tenant_id,
            model,
            before: None,
            done: false,
            schema,
        }
    }

    fn runs(&self, rows: &[Run]) -> Result<RecordBatch, ExportError> {
        let n = rows.len();
        let mut position = Int64Builder::with_capacity(n);
        let mut run_id = StringBuilder::new();
        let mut agent_id = StringBuilder::new();
        let mut app_type = StringBuilder::new();
        let mut trigger_type = StringBuilder::new();
        let mut member_id = StringBuilder::new();
        let mut model = StringBuilder::new();
        let mut prompt_tokens = Int64Builder::with_capacity(n);
        let mut completion_tokens = Int64Builder::with_capacity(n);
        let mut cost_usd = usd_builder(n)?;
        let mut latency_ms = Int64Builder::with_capacity(n);
        let mut status = StringBuilder::new();
        let mut error_message = StringBuilder::new();
        let mut session_id = StringBuilder::new();
        let mut occurred_at = TimestampMicrosecondBuilder::with_capacity(n).with_timezone(UTC);
        for r in rows {
            position.append_value(r.position);
            run_id.append_value(&r.run_id);
            agent_id.append_value(&r.agent_id);
            app_type.append_value(&r.app_type);
            trigger_type.append_value(&r.trigger_type);
            member_id.append_option(r.member_id.as_deref());
            model.append_value(&r.model);
            prompt_tokens.append_value(r.prompt_tokens);
            completion_tokens.append_value(r.completion_tokens);
            cost_usd.append_value(i128::from(r.cost_micros));
            latency_ms.append_value(r.latency_ms);
            status.append_value(&r.status);
            error_message.append_option(r.error_message.as_deref());
            session_id.append_option(r.session_id.as_deref());
            occurred_at.append_value(r.occurred_at_us);
        }
        batch(
            &self.schema,
            vec![
                Arc::new(position.finish()),
                Arc::new(run_id.finish()),
                Arc::new(agent_id.finish()),
                Arc::new(app_type.finish()),
                Arc::new(trigger_type.finish()),
                Arc::new(member_id.finish()),
                Arc::new(model.finish()),
                Arc::new(prompt_tokens.finish()),
                Arc::new(completion_tokens.finish()),
                Arc::new(cost_usd.finish()),
                Arc::new(latency_ms.finish()),
                Arc::new(status.finish()),
                Arc::new(error_message.finish()),
                Arc::new(session_id.finish()),
                Arc::new(occurred_at.finish()),
            ],
        )
    }

    fn operations(&self, rows: &[Operation]) -> Result<RecordBatch, ExportError> {
        let n = rows.len();
        let mut position = Int64Builder::with_capacity(n);
        let mut agent_id = StringBuilder::new();
        let mut action = StringBuilder::new();
        let mut resource_type = StringBuilder::new();
        let mut resource_id = StringBuilder::new();
        let mut status = StringBuilder::new();
        let mut confidence = Float64Builder::with_capacity(n);
        let mut execution_time_ms = Int64Builder::with_capacity(n);
        let mut occurred_at = TimestampMicrosecondBuilder::with_capacity(n).with_timezone(UTC);
        for r in rows {
            position.append_value(r.position);
            agent_id.append_value(&r.agent_id);
            action.append_value(&r.action);
            resource_type.append_value(&r.resource_type);
            resource_id.append_option(r.resource_id.as_deref());
            status.append_value(&r.status);
            confidence.append_option(r.confidence);
            execution_time_ms.append_option(r.execution_time_ms);
            occurred_at.append_value(r.occurred_at_us);
        }
        batch(
            &self.schema,
            vec![
                Arc::new(position.finish()),
                Arc::new(agent_id.finish()),
                Arc::new(action.finish()),
                Arc::new(resource_type.finish()),
                Arc::new(resource_id.finish()),
                Arc::new(status.finish()),
                Arc::new(confidence.finish()),
                Arc::new(execution_time_ms.finish()),
                Arc::new(occurred_at.finish()),
            ],
        )
    }

    fn usage(&self, rows: &[UsageRow]) -> Result<RecordBatch, ExportError> {
        let n = rows.len();
        let mut period = StringBuilder::new();
        let mut key = StringBuilder::new();
        let mut counts: [Int64Builder; 4] = std::array::from_fn(|_| Int64Builder::with_capacity(n));
        let mut cost_usd = usd_builder(n)?;
        for r in rows {
            period.append_value(&r.period);
            key.append_value(&r.key);
            for (builder, value) in counts.iter_mut().zip([
                r.calls,
                r.prompt_tokens,
                r.completion_tokens,
                r.total_tokens,
            ]) {
                builder.append_value(value);
            }
            cost_usd.append_value(i128::from(r.cost_micros));
        }
        let mut columns: Vec<ArrayRef> = vec![Arc::new(period.finish()), Arc::new(key.finish())];
        columns.extend(counts.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        columns.push(Arc::new(cost_usd.finish()));
        batch(&self.schema, columns)
    }
}

#[async_trait::async_trait]
impl Source for ReadModelSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    async fn next_batch(&mut self) -> Result<Option<RecordBatch>, ExportError> {
        if self.done {
            return Ok(None);
        }
        let limit = PAGE as i64;
        let tenant_id = self.tenant_id;
        let (encoded, last, len) = match &self.model {
            ReadModel::Runs { from_us, to_us } => {
                let filter = run_log::Filter {
                    tenant_id,
                    from_us: *from_us,
                    to_us: *to_us,
                    ..Default::default()
                };
                let rows = run_log::list(&self.db, &filter, self.before, limit).await?;
                (
                    self.runs(&rows)?,
                    rows.last().map(|r| r.position),
                    rows.len(),
                )
            }
            ReadModel::Operations { from_us, to_us } => {
                let filter = operation_log::Filter {
                    tenant_id,
                    from_us: *from_us,
                    to_us: *to_us,
                    ..Default::default()
                };
                let rows = operation_log::list(&self.db, &filter, self.before, limit).await?;
                (
                    self.operations(&rows)?,
                    rows.last().map(|r| r.position),
                    rows.len(),
                )
            }
            ReadModel::Usage {
                from,
                to,
                period,
                by,
            } => {
                // Usage is aggregated per period: small enough for one batch.
                self.done = true;
                let rows = usage::history(&self.db, tenant_id, from, to, *period, *by).await?;
                if rows.is_empty() {
                    return Ok(None);
                }
                return self.usage(&rows).map(Some);
            }
        };
        self.before = last;
        if len < PAGE {
            self.done = true;
        }
        Ok((len > 0).then_some(encoded))
    }
}
