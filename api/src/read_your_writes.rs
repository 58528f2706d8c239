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

#[cfg(test)]
mod tests {
    use super::*;

    // Over HTTP a position past the head is refused before any wait (422), so
    // the answer of a model that lags is shown here.
    #[tokio::test]
    async fn a_model_that_does_not_get_there_answers_503_with_where_it_is() {
        let problem = reached(&Progress::never(), Some(1)).await.err();
        let problem = problem.unwrap_or_else(|| panic!("a model that never moves got there"));
        assert_eq!(problem.status, 503);
        assert_eq!(problem.extensions["current_position"], 0);
        assert_eq!(problem.retry_after, Some(1));
        assert!(reached(&Progress::never(), None).await.is_ok());
    }
}
