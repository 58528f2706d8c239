//! What every page shares: the frame (navigation, tenant, zone, who is
//! signed in), rendering, and error pages. An error is mapped to its status
//! and words by the API's one mapping (`Problem`), and shown as a page.

use agentledger_api::problem::Problem;
use agentledger_app::console_sessions::Session;
use agentledger_app::queries::{ListParams, MAX_PAGE, directory};
use agentledger_app::{App, AppError};
use agentledger_domain::calendar;
use agentledger_domain::tenant::Tenant;
use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::format::Zone;

/// The views, in the order of the navigation; the digit before each is its
/// keyboard shortcut.
pub const NAV: [(&str, &str); 10] = [
    ("overview", "Overview"),
    ("operations", "Operations"),
    ("runs", "Runs"),
    ("agents", "Agents"),
    ("tasks", "Tasks"),
    ("workflows", "Workflows"),
    ("alerts", "Alerts"),
    ("budgets", "Budgets"),
    ("audit", "Audit"),
    ("webhooks", "Webhooks"),
];

/// The frame of a page.
pub struct Layout {
    /// Which entry of [`NAV`] is open.
    pub view: &'static str,
    pub title: String,
    pub tenant_id: String,
    pub tenant_name: String,
    pub zone: Zone,
    pub role: &'static str,
    /// Whether write buttons are shown (the server refuses writes of other
    /// roles anyway).
    pub can_write: bool,
    pub is_admin: bool,
    pub csrf: String,
    /// When the session ends by itself, in the tenant's zone.
    pub session_ends: String,
    /// For admins: the tenants they may switch to, `(id, name)`.
    pub tenants: Vec<(String, String)>,
}

impl Layout {
    pub async fn of(
        app: &App,
        session: &Session,
        view: &'static str,
        title: impl Into<String>,
    ) -> Result<Self, PageError> {
        let operator = &session.operator;
        let tenant = app.handler.load::<Tenant>(operator.tenant_id).await?.state;
        let zone = Zone(calendar::zone(tenant.time_zone.as_deref()));
        let is_admin = operator.role == agentledger_domain::api_key::Role::Admin;
        let tenants = if is_admin {
            let all = ListParams {
                limit: Some(MAX_PAGE),
                ..ListParams::default()
            };
            directory::tenants(app, operator, all)
                .await?
                .items
                .into_iter()
                .map(|t| (t.tenant_id, t.name))
                .collect()
        } else {
            Vec::new()
        };
        Ok(Self {
            view,
            title: title.into(),
            tenant_id: operator.tenant_id.to_string(),
            tenant_name: tenant.name,
            zone,
            role: operator.role.as_str(),
            can_write: operator.role.can_run_commands(),
            is_admin,
            csrf: session.csrf.clone(),
            session_ends: zone.at(&session.expires_at),
            tenants,
        })
    }
}

/// The zone the session's tenant counts its days in, for a part of a page
/// sent on its own (a live update).
pub async fn zone_of(app: &App, session: &Session) -> Result<Zone, PageError> {
    let tenant = app
        .handler
        .load::<Tenant>(session.operator.tenant_id)
        .await?
        .state;
    Ok(Zone(calendar::zone(tenant.time_zone.as_deref())))
}

/// A page that could not be shown: its status and what to say.
#[derive(Debug)]
pub struct PageError(pub Problem);

macro_rules! page_error_from {
    ($($error:ty),*) => {$(
        impl From<$error> for PageError {
            fn from(err: $error) -> Self {
                PageError(Problem::from(err))
            }
        }
    )*};
}

page_error_from!(
    AppError,
    agentledger_commands::CommandError,
    agentledger_store::StoreError,
    agentledger_projections::engine::ProjectionError
);

impl From<Problem> for PageError {
    fn from(problem: Problem) -> Self {
        PageError(problem)
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    detail: &'a str,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let problem = self.0;
        let status =
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let page = ErrorPage {
            status: problem.status,
            title: problem.title,
            detail: problem.detail.as_deref().unwrap_or(""),
        };
        let mut response = (status, html(&page)).into_response();
        if let Some(seconds) = problem.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// A template as a page; a template that fails to render is a server error.
pub fn html(template: &impl Template) -> Response {
    match template.render() {
        Ok(body) => Html(body).into_response(),
        Err(err) => {
            tracing::error!(%err, "a console template failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page failed to render",
            )
                .into_response()
        }
    }
}

/// A template as HTML to put in a page or send live.
pub fn rendered(template: &impl Template) -> Result<String, PageError> {
    template.render().map_err(|err| {
        tracing::error!(%err, "a console template failed to render");
        PageError(Problem::internal())
    })
}

/// The answer of a page handler.
pub type PageResult = Result<Response, PageError>;

/// A page's answer: the template rendered.
pub fn page(template: &impl Template) -> PageResult {
    Ok(html(template))
}

/// Not found, as a page: the same answer whether the object does not exist
/// or is another tenant's.
pub fn not_found(what: &str) -> PageError {
    PageError::from(AppError::NotFound(format!("{what} not found")))
}

/// The answer to a write made from a page: the read models have it, so the
/// page is shown again as it now stands.
pub fn refresh() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert("HX-Refresh", HeaderValue::from_static("true"));
    response
}
