//! Exports as downloads: the log or a read model of the tenant shown, as
//! CSV, JSON Lines or Parquet, started by the app's export use case and
//! streamed as the API streams it, so the browser saves a file while the
//! rows are still being read. Times are typed in the tenant's zone.

use std::str::FromStr;

use agentledger_api::state::AppState;
use agentledger_app::exports::{self, ExportQuery};
use agentledger_domain::ActorKind;
use agentledger_projections::usage::{Grouping, Period};
use axum::extract::State;
use serde::Deserialize;
use uuid::Uuid;

use crate::form::{PageQuery, bad_request, given, local_time, parsed};
use crate::page::{Layout, PageError, PageResult};
use crate::session::Signed;

/// What to export, as the audit page's form and links ask for it.
#[derive(Debug, Default, Deserialize)]
pub struct Asked {
    /// `events` (the default), `runs`, `operations` or `usage`.
    pub dataset: Option<String>,
    /// `csv`, `jsonl` or `parquet`.
    pub format: Option<String>,
    pub types: Option<String>,
    pub actor_kind: Option<String>,
    pub actor_id: Option<String>,
    pub correlation_id: Option<String>,
    /// In the tenant's zone (`datetime-local`).
    pub from: Option<String>,
    pub to: Option<String>,
    /// Usage: `tenant` (blank), `agent` or `model`.
    pub by: Option<String>,
    /// Usage: `day` (blank) or `month`.
    pub period: Option<String>,
}

/// A field that must be given, read as `T`.
fn required<T: FromStr>(value: &Option<String>, what: &str) -> Result<T, PageError> {
    parsed::<T>(value, what)?.ok_or_else(|| bad_request(format!("`{what}` is required")))
}

fn grouping(by: &Option<String>) -> Result<Option<Grouping>, PageError> {
    match given(by).as_deref() {
        None => Ok(None),
        Some("tenant") => Ok(Some(Grouping::Tenant)),
        Some("agent") => Ok(Some(Grouping::Agent)),
        Some("model") => Ok(Some(Grouping::Model)),
        Some(other) => Err(bad_request(format!(
            "`by` is tenant, agent or model, not {other:?}"
        ))),
    }
}

fn period(period: &Option<String>) -> Result<Option<Period>, PageError> {
    match given(period).as_deref() {
        None => Ok(None),
        Some("day") => Ok(Some(Period::Day)),
        Some("month") => Ok(Some(Period::Month)),
        Some(other) => Err(bad_request(format!(
            "`period` is day or month, not {other:?}"
        ))),
    }
}

/// The export as a file to save. Refusals (a role without audit reads, a
/// filter the dataset does not take) come back before the first byte, as
/// a page.
pub async fn download(
    State(state): State<AppState>,
    signed: Signed,
    PageQuery(asked): PageQuery<Asked>,
) -> PageResult {
    let layout = Layout::of(&state, &signed.session, "audit", "Exports").await?;
    let operator = &signed.session.operator;
    let dataset = given(&asked.dataset).unwrap_or_else(|| "events".into());
    // The form offers `by` and `period` for every dataset; they mean
    // something to the usage export only, which is the one they are sent to.
    let usage = dataset == "usage";
    let query = ExportQuery {
        format: required(&asked.format, "format")?,
        // The tenant the console shows, an admin's choice included.
        tenant_id: Some(operator.tenant_id.0),
        types: given(&asked.types),
        actor_kind: parsed::<ActorKind>(&asked.actor_kind, "actor kind")?,
        actor_id: given(&asked.actor_id),
        correlation_id: parsed::<Uuid>(&asked.correlation_id, "correlation id")?,
        from: local_time(&asked.from, layout.zone, "from")?,
        to: local_time(&asked.to, layout.zone, "to")?,
        period: if usage { period(&asked.period)? } else { None },
        by: if usage { grouping(&asked.by)? } else { None },
        min_position: None,
    };
    let export = exports::start(&state, operator, &dataset, &query).await?;
    Ok(agentledger_api::routes::exports::download(export))
}
