//! Request extractors whose rejections are problem documents rather than
//! axum's plain-text ones.

use axum::body::{Body, Bytes};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequest, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::problem::Problem;

/// Like `axum::Json`: a malformed, oversized or mistyped body answers 400, 413
/// or 415 with `application/problem+json`. The body must be a JSON object, as
/// every body the document describes is.
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (body, value) = read::<S, T>(req, state).await?;
        if !starts_with(&body, b'{') {
            return Err(not_an_object());
        }
        Ok(Json(value))
    }
}

/// An optional body: absent when the request has no `Content-Type` or is
/// JSON `null` (as the document describes it), so `POST …/disable` works with
/// or without `{"reason": …}`.
impl<S, T> OptionalFromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        if req.headers().get(CONTENT_TYPE).is_none() {
            return Ok(None);
        }
        let (body, value) = read::<S, Option<T>>(req, state).await?;
        if value.is_some() && !starts_with(&body, b'{') {
            return Err(not_an_object());
        }
        Ok(value.map(Json))
    }
}

/// The body as sent, and as `T`. serde reads a struct from a JSON array as
/// well, field by field in order (`[null, null]` would be an `Invalidate` of
/// every entry), so callers look at the text too.
async fn read<S, T>(req: Request, state: &S) -> Result<(Bytes, T), Problem>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    let (parts, body) = req.into_parts();
    let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
        .await
        .map_err(|rejection| body_problem(rejection.status(), rejection.body_text()))?;
    let again = Request::from_parts(parts, Body::from(bytes.clone()));
    match <axum::Json<T> as FromRequest<S>>::from_request(again, state).await {
        Ok(axum::Json(value)) => Ok((bytes, value)),
        Err(rejection) => Err(json_problem(&rejection)),
    }
}

fn starts_with(body: &[u8], byte: u8) -> bool {
    body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&byte)
}

fn not_an_object() -> Problem {
    body_problem(
        StatusCode::BAD_REQUEST,
        "the body must be a JSON object".into(),
    )
}

fn json_problem(rejection: &JsonRejection) -> Problem {
    body_problem(rejection.status(), rejection.body_text())
}

fn body_problem(status: StatusCode, detail: String) -> Problem {
    let (status, slug, title) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "The request body is too large",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Expected an application/json body",
        ),
        // Unknown fields and wrong types are the same kind of client error as
        // malformed JSON: 400, not axum's 422.
        _ => (
            StatusCode::BAD_REQUEST,
            "invalid-body",
            "The request body is not valid",
        ),
    };
    Problem::new(status, slug, title).detail(detail)
}

/// Like `axum::extract::Path`: an id that does not parse answers 400 with a problem.
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) => Err(Problem::bad_request(rejection.body_text())),
        }
    }
}

/// Like `axum::extract::Query`: bad query parameters answer 400 with a problem.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(rejection) => Err(query_problem(&rejection)),
        }
    }
}

/// What chrono says of a time it cannot read: words that name no format.
const TIME_ERRORS: [&str; 7] = [
    "premature end of input",
    "input contains invalid characters",
    "trailing input",
    "input is out of range",
    "input is not enough for unique date and time",
    "no possible date and time matching input",
    "bad or unsupported format string",
];

fn query_problem(rejection: &QueryRejection) -> Problem {
    let mut detail = rejection.body_text();
    // "from: premature end of input" leaves a client guessing; say what a
    // time must look like. The same words come from a day that does not
    // read (usage's `from`), so both forms are named.
    if TIME_ERRORS.iter().any(|e| detail.contains(e)) {
        detail.push_str(
            " (a time is an RFC 3339 date-time with an offset, such as 2026-12-01T00:00:00Z \
             or 2026-12-01T09:30:00+01:00; a parameter the document gives as a date is a \
             day alone, such as 2026-12-01)",
        );
    }
    Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid-query",
        "The query parameters are not valid",
    )
    .detail(detail)
}
