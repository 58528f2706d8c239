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

use crate::page::not_found;
use crate::views::{
    agent_actions, agents, alerts, as_of, audit, budgets, downloads, executions, operations,
    overview, runs, tasks, webhooks, workflows,
};

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
        .route("/console/runs", get(runs::page))
        .route("/console/runs/{run_id}", get(runs::detail))
        .route("/console/agents", get(agents::page))
        .route("/console/agents/{agent_id}", get(agents::detail))
        .route(
            "/console/agents/{agent_id}/disable",
            post(agent_actions::disable),
        )
        .route(
            "/console/agents/{agent_id}/enable",
            post(agent_actions::enable),
        )
        .route(
            "/console/agents/{agent_id}/commands",
            post(agent_actions::issue),
        )
        .route(
            "/console/agents/{agent_id}/lifecycle",
            post(agent_actions::lifecycle),
        )
        .route(
            "/console/agents/{agent_id}/secret",
            post(agent_actions::rotate),
        )
        .route("/console/tasks", get(tasks::page))
        .route("/console/tasks/{task_id}", get(tasks::detail))
        .route("/console/tasks/{task_id}/output", get(tasks::output_live))
        .route("/console/tasks/{task_id}/cancel", post(tasks::cancel))
        .route("/console/tasks/{task_id}/retry", post(tasks::retry))
        .route("/console/workflows", get(workflows::page))
        .route("/console/workflows/{workflow_id}", get(workflows::detail))
        .route("/console/executions", get(executions::page))
        .route(
            "/console/executions/{execution_id}",
            get(executions::detail),
        )
        .route(
            "/console/executions/{execution_id}/live",
            get(executions::live),
        )
        .route(
            "/console/executions/{execution_id}/cancel",
            post(executions::cancel),
        )
        .route(
            "/console/executions/{execution_id}/pause",
            post(executions::pause),
        )
        .route(
            "/console/executions/{execution_id}/resume",
            post(executions::resume),
        )
        .route("/console/webhooks", get(webhooks::page))
        .route("/console/webhooks/{webhook_id}", get(webhooks::detail))
        .route(
            "/console/webhooks/{webhook_id}/deliveries/{delivery_id}",
            get(webhooks::delivery),
        )
        .route(
            "/console/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
            post(webhooks::redeliver),
        )
        .route("/console/budgets", get(budgets::page))
        .route("/console/budgets/set", post(budgets::set))
        .route("/console/budgets/remove", post(budgets::remove))
        .route("/console/audit", get(audit::page))
        .route("/console/audit/verify", get(audit::verify))
        .route("/console/audit/as-of", get(as_of::page))
        .route("/console/audit/export", get(downloads::download))
        .route("/console/{*rest}", get(|| async { not_found("page") }))
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
