//! The web console: pages rendered on the server from the read models, made
//! interactive with htmx and live with its SSE extension, for dashboard
//! readers and audit reviewers. It is served by the API's server under
//! `/console`, signs in with an operator API key, and calls the same
//! application layer as the API, so every rule holds here as there.

pub mod assets;
pub mod chart;
pub mod form;
pub mod format;
pub mod live;
pub mod page;
pub mod session;
pub mod views;

use agentledger_api::state::AppState;
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Redirect;
use axum::routing::{get, post};

use crate::page::{PageError, not_found};
use crate::views::{alerts, as_of, audit, budgets, downloads, operations, overview};

/// Every page may run only the console's own scripts, embed nothing from
/// elsewhere and be framed by no one.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; \
     base-uri 'none'; object-src 'none'";

/// The API and the console, as one server serves them.
pub fn router(state: AppState) -> Router<()> {
    agentledger_api::router_with(state, routes())
}

/// The console's routes, to be served beside the API's.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::to("/console/overview") }),
        )
        .route(
            "/console/",
            get(|| async { Redirect::to("/console/overview") }),
        )
        .route("/console/assets/{*path}", get(assets::serve))
        .route(
            "/console/sign-in",
            get(session::sign_in_page).post(session::sign_in),
        )
        .route("/console/sign-out", post(session::sign_out))
        .route("/console/tenant", post(session::switch_tenant))
        .route("/console/overview", get(overview::page))
        .route("/console/overview/live", get(overview::live))
        .route("/console/operations", get(operations::page))
        .route("/console/operations/live", get(operations::live))
        .route("/console/alerts", get(alerts::page))
        .route("/console/alerts/{alert_id}/{action}", post(alerts::handle))
        .route("/console/budgets", get(budgets::page))
        .route("/console/budgets/set", post(budgets::set))
        .route("/console/budgets/remove", post(budgets::remove))
        .route("/console/audit", get(audit::page))
        .route("/console/audit/verify", get(audit::verify))
        .route("/console/audit/as-of", get(as_of::page))
        .route("/console/audit/export", get(downloads::download))
        .route(
            "/console/{*rest}",
            get(|| async { PageError::from(not_found("page")) }),
        )
        .layer(axum::middleware::map_response(secure_headers))
}

async fn secure_headers(mut response: axum::response::Response) -> axum::response::Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        // Pages hold a tenant's data: never kept by a shared cache, nor
        // shown again from the browser's after sign-out.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
