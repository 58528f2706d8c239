//! What a use case can answer instead of its result. `api` maps each to a
//! problem document in one place (`api/src/problem.rs`).

use std::time::Duration;

use agentledger_commands::CommandError;
use agentledger_commands::reports::BatchRefused;
use agentledger_domain::budget::{BudgetScope, Measure, Period};
use agentledger_domain::history::HistoryError;
use agentledger_export::ExportError;
use agentledger_projections::engine::ProjectionError;
use agentledger_store::StoreError;
use chrono::{DateTime, Utc};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    ReadModel(#[from] ProjectionError),
    /// An export could not start: its source cannot be read.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// Stored events that their aggregate cannot fold: the log holds
    /// something this build does not understand, the server's fault and
    /// not the caller's.
    #[error("stored events of `{stream_id}` do not fold: {error}")]
    Unfoldable {
        stream_id: String,
        error: HistoryError,
    },
    /// A batch of actions of which none was recorded.
    #[error("the batch was refused")]
    Batch(BatchRefused),
    /// The server cannot do it now; the client may retry.
    #[error("{0}")]
    Unavailable(String),
    /// The request is not what the API describes.
    #[error("{0}")]
    BadRequest(String),
    /// The first request with this `Idempotency-Key` is still running.
    #[error("retry when the first request has been answered")]
    IdempotencyKeyInUse,
    /// The `Idempotency-Key` was used for another request.
    #[error("an Idempotency-Key names one request: same method, path and body")]
    IdempotencyKeyReused,
    /// The request is well formed but a rule refuses it.
    #[error("{0}")]
    Unprocessable(String),
    /// Nothing the caller may see goes by that id.
    #[error("{0}")]
    NotFound(String),
    /// Credentials that prove nothing: absent, wrong or spent.
    #[error("{0}")]
    Unauthorized(String),
    /// The caller is known but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The caller's budget is spent; it may try again after this long.
    #[error("retry in {} s", .0.as_secs())]
    RateLimited(Duration),
    /// A budget that stops at its limit has reached it: the agent may claim
    /// and report again when the period ends (`wait`) or the limit is raised.
    #[error(
        "{} is spent: {used} of {limit} used; it lifts at {until} or when the limit is raised",
        scope.limit_name(*period, *measure)
    )]
    OverBudget {
        scope: BudgetScope,
        period: Period,
        measure: Measure,
        used: i64,
        limit: i128,
        until: DateTime<Utc>,
        wait: Duration,
    },
    /// A `min_position` no command handed out: the log ends before it.
    #[error("`min_position` {wanted} is past the end of the log")]
    PastHead { wanted: u64, head: u64 },
    /// The read model did not reach `min_position` in time.
    #[error("waited {} s for position {wanted}", waited.as_secs())]
    NotCaughtUp {
        wanted: u64,
        current: u64,
        waited: Duration,
    },
}
