//! `min_position`: a query waits until its read model has applied the log up
//! to the position a command answered with, so a client reads its own writes.

use std::time::Duration;

use agentledger_projections::follower::Progress;

use crate::error::AppError;

/// How long a query waits for its read model, unless it asks for less.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(5);

pub async fn reached(progress: &Progress, min_position: Option<u64>) -> Result<(), AppError> {
    let Some(wanted) = min_position else {
        return Ok(());
    };
    if progress.wait_for(wanted, DEFAULT_WAIT).await {
        return Ok(());
    }
    Err(AppError::NotCaughtUp {
        wanted,
        current: progress.position(),
        waited: DEFAULT_WAIT,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Over HTTP a position past the head is refused before any wait (422), so
    // the answer of a model that lags is shown here.
    #[tokio::test]
    async fn a_model_that_does_not_get_there_says_where_it_is() {
        match reached(&Progress::never(), Some(1)).await {
            Err(AppError::NotCaughtUp {
                wanted: 1,
                current: 0,
                waited,
            }) => assert_eq!(waited, DEFAULT_WAIT),
            other => panic!("a model that never moves got there: {other:?}"),
        }
        assert!(reached(&Progress::never(), None).await.is_ok());
    }
}
