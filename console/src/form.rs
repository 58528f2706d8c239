//! What pages are asked through their URLs and forms: a query string read
//! into a type (a malformed one is a 400 page, not a plain-text error), and
//! the blanks of a filter form, which mean "any".

use agentledger_api::problem::Problem;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::de::DeserializeOwned;

use crate::format::Zone;
use crate::page::PageError;

/// A query string as `T`.
pub struct PageQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for PageQuery<T> {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, PageError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| PageQuery(q.0))
            .map_err(|e| bad_request(e.body_text()))
    }
}

/// A request the page cannot read: a 400 page saying why.
pub fn bad_request(detail: impl Into<String>) -> PageError {
    PageError(Problem::bad_request(detail))
}

/// A filter field: blank is no filter.
pub fn given(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// A field read as `T`, blank being none; `what` names it in the error.
pub fn parsed<T: std::str::FromStr>(
    value: &Option<String>,
    what: &str,
) -> Result<Option<T>, PageError> {
    given(value)
        .map(|v| {
            v.parse::<T>()
                .map_err(|_| bad_request(format!("`{what}` is not valid: {v:?}")))
        })
        .transpose()
}

/// A `datetime-local` field: a wall-clock time in the tenant's zone (or a
/// full RFC 3339 time, typed by hand).
pub fn local_time(
    value: &Option<String>,
    zone: Zone,
    what: &str,
) -> Result<Option<DateTime<Utc>>, PageError> {
    let Some(text) = given(value) else {
        return Ok(None);
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(&text) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    let naive = NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| {
            bad_request(format!(
                "`{what}` is not a time: {text:?} (YYYY-MM-DDTHH:MM in {})",
                zone.name()
            ))
        })?;
    // A time skipped by a change to summer time does not exist there; one
    // repeated reads as its first occurrence.
    zone.0
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| Some(t.with_timezone(&Utc)))
        .ok_or_else(|| bad_request(format!("`{what}` {text} does not occur in {}", zone.name())))
}
