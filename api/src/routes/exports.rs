//! Streaming exports for analysts and auditors: the body is written while the
//! rows are read, a page at a time, so neither side holds the whole export.

use agentledger_app::caller::Operator;
use agentledger_app::exports::{self, ExportQuery};
use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::extract::{Path, Query};
use crate::problem::Problem;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export_dataset))
}

// What can be exported, as the document lists them; `Dataset` parses the
// path and answers 404 for anything else.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // never built: only its schema is used
enum DatasetName {
    Events,
    Runs,
    Operations,
    Usage,
}

/// `events` (the log with its full envelopes, filtered like
/// `/api/v1/events`), `runs`, `operations` or `usage` (read models of one
/// tenant). The body streams; a failure after the first bytes ends it early,
/// which a Parquet reader detects (the footer is missing).
#[utoipa::path(
    get,
    path = "/api/v1/exports/{dataset}",
    tag = "audit",
    summary = "Export events or a read model as CSV, JSON Lines or Parquet (admin, auditor)",
    params(("dataset" = inline(DatasetName), Path), ExportQuery),
    responses(
        (status = 200, description = "The export, streamed in the format asked for", content(
            (String = "text/csv"),
            (String = "application/jsonl"),
            (String = "application/vnd.apache.parquet"),
        )),
        crate::openapi::Problems
    ),
    security(("operator_key" = [])),
)]
async fn export_dataset(
    State(state): State<AppState>,
    operator: Operator,
    Path(dataset): Path<String>,
    Query(query): Query<ExportQuery>,
) -> Result<Response, Problem> {
    let export = exports::start(&state, &operator, &dataset, &query).await?;
    Ok(download(export))
}

/// An export as a file download, streamed as it is written (the web
/// console's downloads answer the same way).
pub fn download(export: exports::Export) -> Response {
    let body = Body::from_stream(futures::stream::unfold(
        export.chunks,
        |mut rx| async move { rx.recv().await.map(|chunk| (chunk, rx)) },
    ));
    let filename = format!(
        "attachment; filename=\"agentledger-{}.{}\"",
        export.dataset.name(),
        export.format.extension()
    );
    (
        [
            (CONTENT_TYPE, export.format.content_type().to_owned()),
            (CONTENT_DISPOSITION, filename),
        ],
        body,
    )
        .into_response()
}
