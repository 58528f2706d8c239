//! Exports of the log or a read model: what may be asked for (the same over
//! HTTP as query parameters and on the command line as flags), the source
//! that reads it, and an export that runs beside its reader.

use std::sync::Arc;

use agentledger_domain::ActorKind;
use agentledger_domain::ids::TenantId;
use agentledger_export::{
    Dataset, EventSource, ExportError, Format, ParseDatasetError, ReadModel, ReadModelSource, Sink,
    Source, export,
};
use agentledger_projections::engine::Projection;
use agentledger_projections::operation_log::OperationLog;
use agentledger_projections::run_log::RunLog;
use agentledger_projections::usage::{self, Grouping, Period, Usage};
use agentledger_store::{Database, EventStore};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::app::App;
use crate::caller::Operator;
use crate::error::AppError;
use crate::event_filter::EventQuery;
use crate::queries::usage::usage_days;
use crate::ranges::time_range;

/// Chunks in flight between the exporting task and the reader: a slow
/// reader slows the export down instead of filling memory.
const CHUNKS_IN_FLIGHT: usize = 4;

/// Parses a flag the way serde reads the same query parameter.
#[cfg(feature = "cli")]
fn by_serde<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|e| e.to_string())
}

// The export formats as the API's document lists them; `Format` (which also
// reads `ndjson`) is defined where utoipa cannot derive its schema.
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // never built: only its schema is used
pub enum FormatName {
    Csv,
    Jsonl,
    Parquet,
}

/// What to export.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `csv`, `jsonl` or `parquet`.
    #[cfg_attr(feature = "cli", arg(long, value_parser = by_serde::<Format>))]
    #[cfg_attr(feature = "openapi", param(inline, value_type = FormatName))]
    pub format: Format,
    /// One tenant. Required for read models; for events, all tenants when
    /// absent (admins). Auditors always export their own.
    #[cfg_attr(feature = "cli", arg(long))]
    pub tenant_id: Option<Uuid>,
    /// Events: comma-separated event types.
    #[cfg_attr(feature = "cli", arg(long))]
    pub types: Option<String>,
    /// Events: `agent`, `operator` or `system`.
    #[cfg_attr(feature = "cli", arg(long, value_parser = by_serde::<ActorKind>))]
    pub actor_kind: Option<ActorKind>,
    /// Events: who caused them.
    #[cfg_attr(feature = "cli", arg(long))]
    pub actor_id: Option<String>,
    /// Events: everything one request caused.
    #[cfg_attr(feature = "cli", arg(long))]
    pub correlation_id: Option<Uuid>,
    /// Occurred at or after (RFC 3339). Usage: from the tenant's day of it on.
    #[cfg_attr(feature = "cli", arg(long))]
    pub from: Option<DateTime<Utc>>,
    /// Occurred before (RFC 3339). Usage: up to and including the tenant's day of it.
    #[cfg_attr(feature = "cli", arg(long))]
    pub to: Option<DateTime<Utc>>,
    /// Usage: `day` (default) or `month`.
    #[cfg_attr(feature = "cli", arg(long, value_parser = by_serde::<Period>))]
    pub period: Option<Period>,
    /// Usage: `tenant` (default), `agent` or `model`.
    #[cfg_attr(feature = "cli", arg(long, value_parser = by_serde::<Grouping>))]
    pub by: Option<Grouping>,
    /// Read models: wait (at most 5 s) until the model has applied the log
    /// up to this position.
    #[cfg_attr(feature = "cli", arg(skip))]
    pub min_position: Option<u64>,
}

impl ExportQuery {
    fn events(&self) -> EventQuery<'_> {
        EventQuery {
            tenant_id: self.tenant_id,
            types: self.types.as_deref(),
            actor_kind: self.actor_kind,
            actor_id: self.actor_id.as_deref(),
            correlation_id: self.correlation_id,
            from: self.from,
            to: self.to,
        }
    }

    fn filters_events(&self) -> bool {
        self.types.is_some()
            || self.actor_kind.is_some()
            || self.actor_id.is_some()
            || self.correlation_id.is_some()
    }

    /// Whether this asks for the whole log, unfiltered.
    pub fn is_whole_log(&self) -> bool {
        !self.filters_events()
            && self.tenant_id.is_none()
            && self.from.is_none()
            && self.to.is_none()
    }
}

/// The source of `dataset` for `query`, with its first batch read; `scope`
/// is the only tenant the caller may read (`None`: any). A request the
/// rules refuse is an `AppError` of its own kind; a source that cannot be
/// read is `AppError::Export`.
pub async fn open_source(
    store: Arc<dyn EventStore>,
    db: Database,
    dataset: Dataset,
    query: &ExportQuery,
    scope: Option<TenantId>,
) -> Result<Box<dyn Source>, AppError> {
    if dataset != Dataset::Events && query.filters_events() {
        return Err(AppError::Unprocessable(
            "types, actor and correlation filters are for the events export".into(),
        ));
    }
    if dataset != Dataset::Usage && (query.period.is_some() || query.by.is_some()) {
        return Err(AppError::Unprocessable(
            "`period` and `by` are for the usage export".into(),
        ));
    }
    let filter = query.events().filter(scope)?;
    let model = match dataset {
        Dataset::Events => {
            let source = EventSource::new(store, filter).await?;
            return Ok(agentledger_export::primed(Box::new(source)).await?);
        }
        Dataset::Runs => {
            let (from_us, to_us) = time_range(query.from, query.to)?;
            ReadModel::Runs { from_us, to_us }
        }
        Dataset::Operations => {
            let (from_us, to_us) = time_range(query.from, query.to)?;
            ReadModel::Operations { from_us, to_us }
        }
        Dataset::Usage => {
            // The tenant's days, as the usage model counts them.
            let zone = match filter.tenant_id {
                Some(tenant) => {
                    agentledger_projections::zones::current(&db, usage::ZONES, TenantId(tenant))
                        .await?
                }
                None => agentledger_domain::calendar::zone(None),
            };
            let day = |t: DateTime<Utc>| t.with_timezone(&zone).date_naive();
            let (from, to) = usage_days(query.from.map(day), query.to.map(day), day(Utc::now()))?;
            ReadModel::Usage {
                from: from.format("%Y-%m-%d").to_string(),
                to: to.format("%Y-%m-%d").to_string(),
                period: query.period.unwrap_or(Period::Day),
                by: query.by.unwrap_or(Grouping::Tenant),
            }
        }
    };
    let Some(tenant) = filter.tenant_id else {
        return Err(AppError::Unprocessable(
            "read model exports are per tenant: give `tenant_id`".into(),
        ));
    };
    let source = ReadModelSource::new(db, TenantId(tenant), model);
    Ok(agentledger_export::primed(Box::new(source)).await?)
}

/// An export under way.
pub struct Export {
    pub dataset: Dataset,
    pub format: Format,
    /// The export's bytes as they are written. An error ends it early (a
    /// Parquet reader then finds no footer); dropping the receiver stops the
    /// export after its current batch.
    pub chunks: mpsc::Receiver<Result<Vec<u8>, ExportError>>,
}

/// Starts exporting `dataset` (by name) for an admin (any tenant) or an
/// auditor (its own). The rules are checked and the first rows read before
/// it returns, so a refusal or an unreadable source comes back as an error,
/// not as a cut-off export.
pub async fn start(
    app: &App,
    operator: &Operator,
    dataset: &str,
    query: &ExportQuery,
) -> Result<Export, AppError> {
    let scope = operator.audit_scope()?;
    let dataset: Dataset = dataset
        .parse()
        .map_err(|e: ParseDatasetError| AppError::NotFound(e.to_string()))?;
    // Read models are exported once they have applied the log up to
    // `min_position`; the log itself is always complete.
    let model: Option<&dyn Projection> = match dataset {
        Dataset::Events => None,
        Dataset::Runs => Some(&RunLog),
        Dataset::Operations => Some(&OperationLog),
        Dataset::Usage => Some(&Usage),
    };
    if let Some(model) = model {
        app.caught_up(model, query.min_position).await?;
    }
    let mut source = open_source(
        app.store.clone(),
        app.database.clone(),
        dataset,
        query,
        scope,
    )
    .await?;
    let format = query.format;
    let (sender, chunks) = mpsc::channel(CHUNKS_IN_FLIGHT);
    tokio::spawn(async move {
        let mut sink = ChannelSink(sender.clone());
        if let Err(e) = export(&mut *source, format, &mut sink, |_| {}).await {
            tracing::warn!(error = %e, "export ended early");
            let _ = sender.send(Err(e)).await;
        }
    });
    Ok(Export {
        dataset,
        format,
        chunks,
    })
}

struct ChannelSink(mpsc::Sender<Result<Vec<u8>, ExportError>>);

#[async_trait::async_trait]
impl Sink for ChannelSink {
    async fn write(&mut self, bytes: Vec<u8>) -> Result<(), ExportError> {
        let gone =
            || std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the reader went away").into();
        // Checked after every batch, even one that produced no bytes yet (a
        // Parquet row group still filling), so a reader that left stops the
        // export at once.
        if self.0.is_closed() {
            return Err(gone());
        }
        if bytes.is_empty() {
            return Ok(());
        }
        self.0.send(Ok(bytes)).await.map_err(|_| gone())
    }
}
