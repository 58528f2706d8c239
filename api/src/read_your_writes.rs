//! `min_position`: a query waits until its read model has applied the log up
//! to the position a command answered with, so a client reads its own writes.

use std::time::Duration;

use agentledger_projections::follower::Progress;
use axum::http::StatusCode;

use crate::problem::Problem;

/// How long a query waits for its read model, unless it asks for less.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(5);

pub async fn reached(progress: &Progress, min_position: Option<u64>) -> Result<(), Problem> {
    let Some(wanted) = min_position else {
        return Ok(());
    };
    if progress.wait_for(wanted, DEFAULT_WAIT).await {
        return Ok(());
    }
    let mut problem = Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "not-caught-up",
        "The read model has not reached min_position",
    )
    .detail(format!(
        "waited {} s for position {wanted}",
        DEFAULT_WAIT.as_secs()
    ))
    .with("current_position", progress.position());
    problem.retry_after = Some(1);
    Err(problem)
}
