//! What every read-model query shares: whose rows the caller may read, page
//! sizes and cursors, time ranges, and read-model failures as problems.

use agentledger_domain::ids::TenantId;
use agentledger_store::AsOf;
use chrono::{DateTime, Utc};

use crate::problem::Problem;
use agentledger_app::caller::Operator;

// How the document describes `as_of` (`agentledger_store::AsOf` reads it):
// a log position, or an RFC 3339 time.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // never built: only its schema is used
pub enum AsOfParam {
    Position(u64),
    Time(DateTime<Utc>),
}

pub const DEFAULT_PAGE: i64 = 50;
pub const MAX_PAGE: i64 = 500;

/// A position or version as asked for. They are stored as signed 64-bit
/// integers, as the document says (`int64`): a larger one is no place in the
/// log, and answering as if it were would hide the client's mistake.
pub fn in_log(name: &str, asked: u64) -> Result<u64, Problem> {
    if i64::try_from(asked).is_err() {
        return Err(Problem::unprocessable(format!(
            "`{name}` is at most {}",
            i64::MAX
        )));
    }
    Ok(asked)
}

/// `as_of` as asked for, with its position checked like any other.
pub fn as_of_in_log(asked: Option<AsOf>) -> Result<Option<AsOf>, Problem> {
    if let Some(AsOf::Position(position)) = asked {
        in_log("as_of", position)?;
    }
    Ok(asked)
}

/// The tenant a query reads: the caller's own, or the one asked for if the
/// caller may see it. Any other is "not found", never "forbidden".
pub fn tenant_of(operator: &Operator, asked: Option<TenantId>) -> Result<String, Problem> {
    Ok(operator.tenant_to_read(asked)?.to_string())
}

pub fn page_limit(asked: Option<i64>) -> Result<i64, Problem> {
    let limit = asked.unwrap_or(DEFAULT_PAGE);
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(limit)
    } else {
        Err(Problem::bad_request(format!(
            "limit must be 1 to {MAX_PAGE}"
        )))
    }
}

/// The cursor of the next (older) page: the last key of a full page.
pub fn next_cursor<T>(items: &[T], limit: i64, key: impl Fn(&T) -> i64) -> Option<i64> {
    (items.len() as i64 == limit)
        .then(|| items.last().map(key))
        .flatten()
}

/// A `from`..`to` range as microseconds, `from` inclusive, `to` exclusive.
pub fn time_range(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<(Option<i64>, Option<i64>), Problem> {
    if let (Some(from), Some(to)) = (from, to)
        && from >= to
    {
        return Err(Problem::unprocessable("`from` must be before `to`"));
    }
    Ok((
        from.map(|t| t.timestamp_micros()),
        to.map(|t| t.timestamp_micros()),
    ))
}
