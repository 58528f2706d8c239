//! The process's metrics: HTTP requests and latencies, refused logins, the
//! log head, and how far every model (persistent or in memory) has applied
//! the log; written in the Prometheus text format.

use agentledger_commands::auth::LoginFailure;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::app::App;

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

    /// One answered request, by its route pattern (not its path, so ids do
    /// not explode the label set).
    pub fn request_answered(&self, method: &str, route: &str, status: &str, seconds: f64) {
        self.latency
            .with_label_values(&[method, route])
            .observe(seconds);
        self.requests
            .with_label_values(&[method, route, status])
            .inc();
    }

    /// The registry in the Prometheus text format, with the positions, lags
    /// and stalls of `app`'s models read now.
    pub async fn render(&self, app: &App) -> Vec<u8> {
        if let Ok(head) = app.store.head_position().await {
            self.positions.with_label_values(&["head"]).set(head as i64);
            for (name, progress) in app.models() {
                let position = progress.position();
                self.positions
                    .with_label_values(&[name])
                    .set(position as i64);
                self.lag
                    .with_label_values(&[name])
                    .set(head.saturating_sub(position) as i64);
            }
        }
        for (name, progress) in app.models() {
            self.stalled
                .with_label_values(&[name])
                .set(i64::from(progress.stall().is_some()));
        }
        let mut body = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut body) {
            tracing::warn!(error = %e, "cannot encode metrics");
        }
        body
    }
}
