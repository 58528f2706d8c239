use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use std::future::Future;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_scalar::{Scalar, Servable};

use crate::connections::Limits;
use crate::openapi::ApiDoc;
use crate::problem::Problem;
use crate::routes;
use crate::state::AppState;

/// Request bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// The API's routes and `more` (the web console's), behind the same layers:
/// correlation ids, idempotent replays, body limits, tracing and metrics.
pub fn router_with(state: AppState, more: Router<AppState>) -> Router {
    let (router, mut api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::health::routes())
        .merge(routes::streams::routes())
        .merge(routes::audit::routes())
        .merge(routes::exports::routes())
        .merge(routes::operators::routes())
        .merge(routes::agents::routes())
        .merge(routes::enrollment::routes())
        .merge(routes::presets::routes())
        .merge(routes::reports::routes())
        .merge(routes::tasks::routes())
        .merge(routes::instructions::routes())
        .merge(routes::lifecycle::routes())
        .merge(routes::alerts::routes())
        .merge(routes::budgets::routes())
        .merge(routes::webhooks::routes())
        .merge(routes::deliveries::routes())
        .merge(routes::tools::routes())
        .merge(routes::workflows::routes())
        .merge(routes::executions::routes())
        .merge(routes::directory::routes())
        .merge(routes::operations::routes())
        .merge(routes::dashboard::routes())
        .merge(routes::runs::routes())
        .merge(routes::agent_stats::routes())
        .merge(routes::read_lists::routes())
        .merge(routes::live::routes())
        .routes(utoipa_axum::routes!(crate::metrics::render))
        .split_for_parts();
    crate::openapi::complete(&mut api);
    let document = api.clone();
    router
        .route(
            "/openapi.json",
            get(move || std::future::ready(axum::Json(document.clone()))),
        )
        .merge(Scalar::with_url("/docs", api))
        .merge(more)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::track,
        ))
        .fallback(|| async { Problem::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            Problem::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            )
        })
        // Inside the idempotency layer: a replayed answer keeps the
        // correlation id of the request that made it.
        .layer(axum::middleware::from_fn(crate::auth::correlate))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::idempotency::idempotent,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// A bound, not yet serving, server.
pub struct RunningServer {
    listener: TcpListener,
    app: Router,
    limits: Limits,
}

/// Binds `addr` (port 0 picks a free port) to serve `app` (a [`router`]).
pub async fn start(app: Router, addr: SocketAddr) -> std::io::Result<RunningServer> {
    let listener = TcpListener::bind(addr).await?;
    Ok(RunningServer {
        listener,
        app,
        limits: Limits::default(),
    })
}

impl RunningServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// How many connections it holds and for how long (`connections`).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Serves until `shutdown` completes, then stops accepting connections and
    /// waits for the requests in flight to be answered.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        crate::connections::serve(self.listener, self.app, self.limits, shutdown).await
    }
}
