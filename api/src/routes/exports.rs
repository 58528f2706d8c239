//! Streaming exports for analysts and auditors: the body is written while the
//! rows are read, a page at a time, so neither side holds the whole export.

use std::io;

use agentledger_export::{Dataset, Sink, export};
use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;
use utoipa_axum::{router::OpenApiRouter, routes};

use agentledger_projections::engine::Projection;
use agentledger_projections::operation_log::OperationLog;
use agentledger_projections::run_log::RunLog;
use agentledger_projections::usage::Usage;

use crate::exports::{ExportQuery, ExportRequestError, open_source};
use crate::extract::{Path, Query};
use crate::problem::Problem;
use crate::state::AppState;
use agentledger_app::caller::Operator;

/// Chunks in flight between the exporting task and the connection: a slow
/// client slows the export down instead of filling memory.
const CHUNKS_IN_FLIGHT: usize = 4;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export_dataset))
}

struct ChannelSink(mpsc::Sender<io::Result<Vec<u8>>>);

#[async_trait::async_trait]
impl Sink for ChannelSink {
    async fn write(&mut self, bytes: Vec<u8>) -> Result<(), agentledger_export::ExportError> {
        let gone = || io::Error::new(io::ErrorKind::BrokenPipe, "the client went away").into();
        // Checked after every batch, even one that produced no bytes yet (a
        // Parquet row group still filling), so a client that left stops the
        // export at once.
        if self.0.is_closed() {
            return Err(gone());
        }
        if bytes.is_empty() {
            return Ok(());
        }
        self.0.send(Ok(bytes)).await.map_err(|_| gone())
    }
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
    let scope = operator.audit_scope()?;
    let dataset: Dataset = dataset
        .parse()
        .map_err(|e: agentledger_export::ParseDatasetError| Problem::not_found(e.to_string()))?;
    // Read models are exported once they have applied the log up to
    // `min_position`; the log itself is always complete.
    let model: Option<&dyn Projection> = match dataset {
        Dataset::Events => None,
        Dataset::Runs => Some(&RunLog),
        Dataset::Operations => Some(&OperationLog),
        Dataset::Usage => Some(&Usage),
    };
    if let Some(model) = model {
        state.caught_up(model, query.min_position).await?;
    }
    let mut source = open_source(
        state.store.clone(),
        state.database.clone(),
        dataset,
        &query,
        scope,
    )
    .await
    .map_err(|e| match e {
        ExportRequestError::Refused(problem) => problem,
        ExportRequestError::Export(e) => {
            tracing::error!(error = %e, "export cannot start");
            Problem::unavailable("the export cannot start right now")
        }
    })?;
    let format = query.format;
    let (sender, receiver) = mpsc::channel(CHUNKS_IN_FLIGHT);
    tokio::spawn(async move {
        let mut sink = ChannelSink(sender.clone());
        if let Err(e) = export(&mut *source, format, &mut sink, |_| {}).await {
            tracing::warn!(error = %e, "export ended early");
            let _ = sender.send(Err(io::Error::other(e.to_string()))).await;
        }
    });
    let body = Body::from_stream(futures::stream::unfold(receiver, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    }));
    let filename = format!(
        "attachment; filename=\"agentledger-{}.{}\"",
        dataset.name(),
        format.extension()
    );
    Ok((
        [
            (CONTENT_TYPE, format.content_type().to_owned()),
            (CONTENT_DISPOSITION, filename),
        ],
        body,
    )
        .into_response())
}
