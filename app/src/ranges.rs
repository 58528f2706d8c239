//! What a read may ask for, checked the same way by every read: positions
//! that can be in the log, points in its past, time ranges.

use agentledger_store::AsOf;
use chrono::{DateTime, Utc};

use crate::error::AppError;

/// A position or version as asked for. They are stored as signed 64-bit
/// integers, as the document says (`int64`): a larger one is no place in the
/// log, and answering as if it were would hide the client's mistake.
pub(crate) fn in_log(name: &str, asked: u64) -> Result<u64, AppError> {
    if i64::try_from(asked).is_err() {
        return Err(AppError::Unprocessable(format!(
            "`{name}` is at most {}",
            i64::MAX
        )));
    }
    Ok(asked)
}

/// `as_of` as asked for, with its position checked like any other.
pub(crate) fn as_of_in_log(asked: Option<AsOf>) -> Result<Option<AsOf>, AppError> {
    if let Some(AsOf::Position(position)) = asked {
        in_log("as_of", position)?;
    }
    Ok(asked)
}

/// A `from`..`to` range as microseconds, `from` inclusive, `to` exclusive.
pub(crate) fn time_range(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<(Option<i64>, Option<i64>), AppError> {
    if let (Some(from), Some(to)) = (from, to)
        && from >= to
    {
        return Err(AppError::Unprocessable("`from` must be before `to`".into()));
    }
    Ok((
        from.map(|t| t.timestamp_micros()),
        to.map(|t| t.timestamp_micros()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_past_int64_and_empty_time_ranges_are_refused_by_rule() {
        assert!(in_log("from_position", i64::MAX as u64).is_ok());
        assert!(matches!(
            in_log("from_position", i64::MAX as u64 + 1),
            Err(AppError::Unprocessable(_))
        ));
        assert!(matches!(
            as_of_in_log(Some(AsOf::Position(u64::MAX))),
            Err(AppError::Unprocessable(_))
        ));
        let now = Utc::now();
        assert!(matches!(
            time_range(Some(now), Some(now)),
            Err(AppError::Unprocessable(_))
        ));
        assert_eq!(
            time_range(None, Some(now)).ok(),
            Some((None, Some(now.timestamp_micros())))
        );
    }
}
