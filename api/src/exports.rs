//! What to export, asked the same way over HTTP (query parameters) and on
//! the command line (flags), and the source that reads it.

use std::sync::Arc;

use agentledger_domain::ActorKind;
use agentledger_export::{Dataset, EventSource, Format, ReadModel, ReadModelSource, Source};
use agentledger_projections::usage::{Grouping, Period};
use agentledger_store::{Database, EventFilter, EventStore};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::extract::comma_list;

/// Parses a flag the way serde reads the same query parameter.
fn by_serde<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|e| e.to_string())
}

#[derive(Debug, Clone, Deserialize, utoipa::IntoParams, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `csv`, `jsonl` or `parquet`.
    #[arg(long, value_parser = by_serde::<Format>)]
    #[param(value_type = String)]
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
    #[param(value_type = Option<String>)]
    pub actor_kind: Option<ActorKind>,
    /// Events: who caused them.
    #[arg(long)]
    pub actor_id: Option<String>,
    /// Events: everything one request caused.
    #[arg(long)]
    pub correlation_id: Option<Uuid>,
    /// Occurred at or after (RFC 3339). Usage: from this UTC day on.
    #[arg(long)]
    pub from: Option<DateTime<Utc>>,
    /// Occurred before (RFC 3339). Usage: up to this UTC day.
    #[arg(long)]
    pub to: Option<DateTime<Utc>>,
    /// Usage: `day` (default) or `month`.
    #[arg(long, value_parser = by_serde::<Period>)]
    #[param(value_type = Option<String>)]
    pub period: Option<Period>,
    /// Usage: `tenant` (default), `agent` or `model`.
    #[arg(long, value_parser = by_serde::<Grouping>)]
    #[param(value_type = Option<String>)]
    pub by: Option<Grouping>,
}

/// Why an export cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ExportRequestError {
    #[error("{0}")]
    Invalid(String),
    #[error("tenant not found")]
    TenantNotFound,
    #[error(transparent)]
    Export(#[from] agentledger_export::ExportError),
}

/// The source of `dataset` for `query`; `scope` is the only tenant the
/// caller may read (`None`: any).
pub async fn open_source(
    store: Arc<dyn EventStore>,
    db: Database,
    dataset: Dataset,
    query: &ExportQuery,
    scope: Option<Uuid>,
) -> Result<Box<dyn Source>, ExportRequestError> {
    let invalid = |why: &str| ExportRequestError::Invalid(why.to_owned());
    if let (Some(from), Some(to)) = (query.from, query.to)
        && from >= to
    {
        return Err(invalid("`from` must be before `to`"));
    }
    if let (Some(scope), Some(asked)) = (scope, query.tenant_id)
        && scope != asked
    {
        return Err(ExportRequestError::TenantNotFound);
    }
    let tenant = scope.or(query.tenant_id);
    let event_only = query.types.is_some()
        || query.actor_kind.is_some()
        || query.actor_id.is_some()
        || query.correlation_id.is_some();
    let usage_only = query.period.is_some() || query.by.is_some();
    if dataset != Dataset::Events && event_only {
        return Err(invalid(
            "types, actor and correlation filters are for the events export",
        ));
    }
    if dataset != Dataset::Usage && usage_only {
        return Err(invalid("`period` and `by` are for the usage export"));
    }
    let from_us = query.from.map(|t| t.timestamp_micros());
    let to_us = query.to.map(|t| t.timestamp_micros());
    let model = match dataset {
        Dataset::Events => {
            let filter = EventFilter {
                event_types: comma_list(query.types.as_deref()),
                tenant_id: tenant,
                actor_kind: query.actor_kind,
                actor_id: query.actor_id.clone(),
                correlation_id: query.correlation_id,
                occurred_from: query.from,
                occurred_to: query.to,
            };
            return Ok(Box::new(EventSource::new(store, filter).await?));
        }
        Dataset::Runs => ReadModel::Runs { from_us, to_us },
        Dataset::Operations => ReadModel::Operations { from_us, to_us },
        Dataset::Usage => {
            let to = query.to.unwrap_or_else(Utc::now);
            let from = query.from.unwrap_or(to - Duration::days(29));
            ReadModel::Usage {
                from: from.format("%Y-%m-%d").to_string(),
                to: to.format("%Y-%m-%d").to_string(),
                period: query.period.unwrap_or(Period::Day),
                by: query.by.unwrap_or(Grouping::Tenant),
            }
        }
    };
    let Some(tenant) = tenant else {
        return Err(invalid(
            "read model exports are per tenant: give `tenant_id`",
        ));
    };
    Ok(Box::new(ReadModelSource::new(
        db,
        tenant.to_string(),
        model,
    )))
}
