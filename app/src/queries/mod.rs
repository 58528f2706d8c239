//! Read-model queries. Each takes the caller and settles what it may read
//! (the tenant, for operators; its own, for agents), waits until the model
//! has applied the log up to `min_position`, and answers with what it read
//! and the log position that reflects.

pub mod agent_stats;
pub mod budgets;
pub mod command_history;
pub mod dashboard;
pub mod directory;
pub mod operations;
mod page;
pub mod runs;
pub mod tasks;
pub mod usage;
pub mod webhooks_and_cache;

use agentledger_domain::ids::TenantId;
use chrono::{NaiveDate, Utc};

use crate::app::App;
use crate::error::AppError;

#[cfg(feature = "openapi")]
pub use page::Listed;
pub use page::{DEFAULT_PAGE, ListParams, MAX_PAGE, Page};

/// Text filters are compared with stored text, which never holds U+0000
/// (and PostgreSQL cannot even take it as a parameter): a filter holding
/// one is refused alike on every backend. The document allows any string
/// there, so it is a rule's refusal (422), not a malformed request.
pub(crate) fn check_text_filters(fields: &[(&str, Option<&str>)]) -> Result<(), AppError> {
    match fields
        .iter()
        .find(|(_, v)| v.is_some_and(|v| v.contains('\0')))
    {
        Some((name, _)) => Err(AppError::Unprocessable(format!(
            "`{name}` holds U+0000, which no stored text does"
        ))),
        None => Ok(()),
    }
}

/// What a query read, and the log position the model had applied when it
/// read it (or more).
#[derive(Debug, Clone)]
pub struct Answer<T> {
    pub value: T,
    pub position: u64,
}

/// The tenant's date today, in the zone `table` (a model's copy of the
/// tenants' zones) holds for it.
pub(crate) async fn today(app: &App, table: &str, tenant: TenantId) -> Result<NaiveDate, AppError> {
    let zone = agentledger_projections::zones::current(&app.database, table, tenant).await?;
    Ok(Utc::now().with_timezone(&zone).date_naive())
}
