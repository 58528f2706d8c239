//! `/metrics` in the Prometheus text format: HTTP requests and latencies,
//! refused logins, the log head, and how far every model (persistent or in
//! memory) has applied the log.

use std::time::Instant;

use agentledger_commands::auth::LoginFailure;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::state::AppState;

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    positions: IntGaugeVec,
    lag: IntGaugeVec,
    stalled: IntGaugeVec,
    applied: IntCounterVec,
    batches: HistogramVec,
    login_failures: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("agentledger_http_requests_total", "HTTP requests answered"),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "agentledger_http_request_seconds",
                "Time to answer an HTTP request",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["method", "route"],
        )?;
        let positions = IntGaugeVec::new(
            Opts::new(
                "agentledger_position",
                "Log position: the head, and what each model has applied",
            ),
            &["of"],
        )?;
        let lag = IntGaugeVec::new(
            Opts::new(
                "agentledger_projection_lag_events",
                "Events between the log head and a model's position",
            ),
            &["projection"],
        )?;
        let stalled = IntGaugeVec::new(
            Opts::new(
                "agentledger_projection_stalled",
                "1 while a model is stopped at an event it cannot apply",
            ),
            &["projection"],
        )?;
        let applied = IntCounterVec::new(
            Opts::new(
                "agentledger_projection_events_applied_total",
                "Events a persistent read model applied",
            ),
            &["projection"],
        )?;
        let batches = HistogramVec::new(
            HistogramOpts::new(
                "agentledger_projection_batch_events",
                "Events per read-model transaction",
            )
            .buckets(vec![1.0, 2.0, 5.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0]),
            &["projection"],
        )?;
        let login_failures = IntCounterVec::new(
            Opts::new(
                "agentledger_login_failures_total",
                "Refused agent logins, by why (unknown_agent ones are in no event)",
            ),
            &["reason"],
        )?;
        // Present from the start, so a rate can be taken from the first scrape.
        for failure in LoginFailure::ALL {
            login_failures.with_label_values(&[failure.label()]);
        }
        registry.register(Box::new(login_failures.clone()))?;
        registry.register(Box::new(applied.clone()))?;
        registry.register(Box::new(batches.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(positions.clone()))?;
        registry.register(Box::new(lag.clone()))?;
        registry.register(Box::new(stalled.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            positions,
            lag,
            stalled,
            applied,
            batches,
            login_failures,
        })
    }

    pub fn login_failed(&self, failure: LoginFailure) {
        self.login_failures
            .with_label_values(&[failure.label()])
            .inc();
    }

    /// Counts what each persistent read model applies, batch by batch.
    pub fn projection_observer(&self) -> agentledger_projections::engine::Observer {
        let (applied, batches) = (self.applied.clone(), self.batches.clone());
        std::sync::Arc::new(move |projection, events| {
            applied
                .with_label_values(&[projection])
                .inc_by(events as u64);
            batches
                .with_label_values(&[projection])
                .observe(events as f64);
        })
    }
}

/// Counts and times every request, by its route pattern (not its path, so ids
/// do not explode the label set).
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let metrics = &state.metrics;
    metrics
        .latency
        .with_label_values(&[&method, &route])
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .with_label_values(&[&method, &route, response.status().as_str()])
        .inc();
    response
}

/// The registry in the Prometheus text format, with the positions and lags
/// read when asked.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    summary = "Prometheus metrics",
    responses(
        (status = 200, description = "The Prometheus text exposition format, version 0.0.4", body = String, content_type = "text/plain"),
        crate::openapi::Problems
    ),
)]
pub async fn render(State(state): State<AppState>) -> Response {
    let metrics = &state.metrics;
    if let Ok(head) = state.store.head_position().await {
        metrics
            .positions
            .with_label_values(&["head"])
            .set(head as i64);
        for (name, progress) in state.models() {
            let position = progress.position();
            metrics
                .positions
                .with_label_values(&[name])
                .set(position as i64);
            metrics
                .lag
                .with_label_values(&[name])
                .set(head.saturating_sub(position) as i64);
        }
    }
    for (name, progress) in state.models() {
        metrics
            .stalled
            .with_label_values(&[name])
            .set(i64::from(progress.stall().is_some()));
    }
    let mut body = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&metrics.registry.gather(), &mut body) {
        tracing::warn!(error = %e, "cannot encode metrics");
    }
    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}
