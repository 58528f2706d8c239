//! What to export, asked the same way over HTTP (query parameters) and on
//! the command line (flags), and the source that reads it.

use std::sync::Arc;

use agentledger_domain::ActorKind;
use agentledger_domain::ids::TenantId;
use agentledger_export::{Dataset, EventSource, Format, ReadModel, ReadModelSource, Source};
use agentledger_projections::usage::{Grouping, Period};
use agentledger_store::{Database, EventStore};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::event_query::EventQuery;
use crate::problem::Problem;
use crate::read_model::time_range;
use crate::routes::read_lists::usage_days;

/// Parses a flag the way serde reads the same query parameter.
fn by_serde<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|e| e.to_string())
}

// The export formats as the document lists them; `Format` (which also
// reads `ndjson`) is defined where utoipa cannot derive its schema.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // never built: only its schema is used
pub enum FormatName {
    Csv,
    Jsonl,
    Parquet,
}

#[derive(Debug, Clone, Deserialize, utoipa::IntoParams, clap::Args)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `csv`, `jsonl` or `parquet`.
    #[arg(long, value_parser = by_serde::<Format>)]
    #[param(inline, value_type = FormatName)]
    pub format: Format,
    /// One tenant. Required for read models; for events, all tenants when
    /// absent (admins). Auditors always export their own.
    #[arg(long)]
    pub tenant_id: Option<Uuid>,
    /// Events: comma-separated event types.
    #[arg(long)]
    pub types: Option<String>,
    /// Events: `agent`, `operator` or `system`.
    #[arg(long, value_parser = by_serde::<ActorKind>)]
    pub actor_kind: Option<ActorKind>,
    /// Events: who caused them.
    #[arg(long)]
    pub actor_id: Option<String>,
    /// Events: everything one request caused.
    #[arg(long)]
    pub correlation_id: Option<Uuid>,
    /// Occurred at or after (RFC 3339). Usage: from the tenant's day of it on.
    #[arg(long)]
    pub from: Option<DateTime<Utc>>,
    /// Occurred before (RFC 3339). Usage: up to and including the tenant's day of it.
    #[arg(long)]
    pub to: Option<DateTime<Utc>>,
    /// Usage: `day` (default) or `month`.
    #[arg(long, value_parser = by_serde::<Period>)]
    pub period: Option<Period>,
    /// Usage: `tenant` (default), `agent` or `model`.
    #[arg(long, value_parser = by_serde::<Grouping>)]
    pub by: Option<Grouping>,
    /// Read models: wait (at most 5 s) until the model has applied the log
    /// up to this position.
    #[arg(skip)]
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

/// Why an export cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ExportRequestError {
    /// The request itself is wrong.
    #[error("{0}")]
    Refused(Problem),
    #[error(transparent)]
    Export(#[from] agentledger_export::ExportError),
}

impl From<Problem> for ExportRequestError {
    fn from(problem: Problem) -> Self {
        Self::Refused(problem)
    }
}

/// The source of `dataset` for `query`, with its first batch read; `scope`
/// is the only tenant the caller may read (`None`: any).
pub async fn open_source(
    store: Arc<dyn EventStore>,
    db: Database,
    dataset: Dataset,
    query: &ExportQuery,
    scope: Option<TenantId>,
) -> Result<Box<dyn Source>, ExportRequestError> {
    if dataset != Dataset::Events && query.filters_events() {
        return Err(Problem::unprocessable(
            "types, actor and correlation filters are for the events export",
        )
        .into());
    }
    if dataset != Dataset::Usage && (query.period.is_some() || query.by.is_some()) {
        return Err(Problem::unprocessable("`period` and `by` are for the usage export").into());
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
                Some(tenant) => agentledger_projections::zones::current(
                    &db,
                    agentledger_projections::usage::ZONES,
                    &tenant.to_string(),
                )
                .await
                .map_err(Problem::from)?,
                None => agentledger_domain::calendar::zone(None),
            };
            let day = |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&zone).date_naive();
            let (from, to) = usage_days(
                query.from.map(day),
                query.to.map(day),
                day(chrono::Utc::now()),
            )?;
            ReadModel::Usage {
                from: from.format("%Y-%m-%d").to_string(),
                to: to.format("%Y-%m-%d").to_string(),
                period: query.period.unwrap_or(Period::Day),
                by: query.by.unwrap_or(Grouping::Tenant),
            }
        }
    };
    let Some(tenant) = filter.tenant_id else {
        return Err(
            Problem::unprocessable("read model exports are per tenant: give `tenant_id`").into(),
        );
    };
    let source = ReadModelSource::new(db, tenant.to_string(), model);
    Ok(agentledger_export::primed(Box::new(source)).await?)
}
