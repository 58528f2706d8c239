//! Signing in and out, and who a request comes from: the session cookie,
//! looked up on every request (so sign-out, expiry and a revoked key take
//! effect at once), and for writes the session's CSRF token as well.

use agentledger_app::console_sessions::{self as sessions, SESSION_TTL, Session};
use askama::Template;
use axum::extract::{Form, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use cookie::{Cookie, SameSite};
use serde::Deserialize;

use agentledger_api::auth::correlation_id;
use agentledger_api::state::AppState;

use crate::page::{PageError, PageResult, html};

pub const COOKIE: &str = "agentledger_session";
/// The header htmx sends every write with (set once on `<body>`).
pub const CSRF_HEADER: &str = "x-csrf-token";
const SIGN_IN: &str = "/console/sign-in";

/// A request from a signed-in operator.
pub struct Signed {
    pub session: Session,
    /// The session's token, to end it or check it again from a live feed.
    pub token: String,
}

/// A write from a signed-in operator: same origin, with the session's CSRF
/// token. Whether the operator's role may make it is the app's to say.
pub struct Writer(pub Signed);

/// Why a request was not let in.
pub enum Refused {
    /// No session, or one that has ended: to the sign-in page.
    SignIn {
        htmx: bool,
    },
    Page(PageError),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::SignIn { htmx: true } => {
                let mut response = StatusCode::UNAUTHORIZED.into_response();
                response
                    .headers_mut()
                    .insert("HX-Redirect", HeaderValue::from_static(SIGN_IN));
                response
            }
            Refused::SignIn { htmx: false } => Redirect::to(SIGN_IN).into_response(),
            Refused::Page(page) => page.into_response(),
        }
    }
}

fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE)
        .map(|c| c.value().to_owned())
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Refused> {
        let htmx = parts.headers.contains_key("hx-request");
        let token = session_token(&parts.headers).ok_or(Refused::SignIn { htmx })?;
        match sessions::session(state, &token, correlation_id(parts)).await {
            Ok(session) => Ok(Signed { session, token }),
            Err(agentledger_app::AppError::Unauthorized(_)) => Err(Refused::SignIn { htmx }),
            Err(err) => Err(Refused::Page(err.into())),
        }
    }
}

impl FromRequestParts<AppState> for Writer {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Refused> {
        same_origin(&parts.method, &parts.headers).map_err(Refused::Page)?;
        let signed = Signed::from_request_parts(parts, state).await?;
        let presented = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !signed.session.csrf_matches(presented) {
            return Err(Refused::Page(forbidden(
                "this form is missing its CSRF token or carries another session's; reload the page",
            )));
        }
        Ok(Writer(signed))
    }
}

fn forbidden(detail: &str) -> PageError {
    PageError::from(agentledger_app::AppError::Forbidden(detail.into()))
}

/// A write must come from a page of this server: browsers say where a
/// request comes from (`Sec-Fetch-Site`, `Origin`), and a cross-site one is
/// refused whatever else it carries. This also guards the sign-in form,
/// which has no session yet to hold a CSRF token.
fn same_origin(method: &Method, headers: &HeaderMap) -> Result<(), PageError> {
    if method == Method::GET || method == Method::HEAD {
        return Ok(());
    }
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // Browsers say it outright; older ones and other clients are judged by
    // `Origin` against the host they asked for (the proxy's, behind one).
    if let Some(site) = text("sec-fetch-site") {
        return if site == "same-origin" || site == "none" {
            Ok(())
        } else {
            Err(forbidden("a request from another site is refused"))
        };
    }
    if let Some(origin) = text("origin") {
        let host = text("x-forwarded-host")
            .or_else(|| text("host"))
            .unwrap_or_default();
        let origin_host = origin
            .split_once("://")
            .map_or(origin, |(_, rest)| rest)
            .trim_end_matches('/');
        if !origin_host.eq_ignore_ascii_case(host) {
            return Err(forbidden("a request from another origin is refused"));
        }
    }
    Ok(())
}

/// Whether the request reached the server over TLS (as a proxy in front of
/// it says): the cookie is then marked `Secure`.
fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

fn session_cookie(value: String, max_age: cookie::time::Duration, secure: bool) -> HeaderValue {
    let cookie = Cookie::build((COOKIE, value))
        .path("/console")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(max_age)
        .build();
    HeaderValue::from_str(&cookie.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage<'a> {
    error: Option<&'a str>,
}

pub async fn sign_in_page() -> Response {
    html(&SignInPage { error: None })
}

#[derive(Deserialize)]
pub struct SignInForm {
    api_key: String,
}

/// Exchanges the API key typed in for a session cookie.
pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> PageResult {
    same_origin(&Method::POST, &headers)?;
    // A session this browser already holds ends: one browser, one session.
    if let Some(old) = session_token(&headers) {
        sessions::sign_out(&state, &old).await?;
    }
    let signed_in = match sessions::sign_in(&state, &form.api_key).await {
        Ok(signed_in) => signed_in,
        Err(
            agentledger_app::AppError::Unauthorized(_)
            | agentledger_app::AppError::Command(agentledger_commands::CommandError::Unauthorized(_)),
        ) => {
            let page = SignInPage {
                error: Some("That is not an operator API key, or it was revoked."),
            };
            return Ok((StatusCode::UNAUTHORIZED, html(&page)).into_response());
        }
        Err(err) => return Err(err.into()),
    };
    let max_age = cookie::time::Duration::seconds(SESSION_TTL.num_seconds());
    let mut response = Redirect::to("/console/overview").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(signed_in.token, max_age, over_tls(&headers)),
    );
    Ok(response)
}

/// Ends the session and forgets the cookie.
pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    Writer(signed): Writer,
) -> PageResult {
    sessions::sign_out(&state, &signed.token).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert("HX-Redirect", HeaderValue::from_static(SIGN_IN));
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(
            String::new(),
            cookie::time::Duration::ZERO,
            over_tls(&headers),
        ),
    );
    Ok(response)
}

#[derive(Deserialize)]
pub struct SwitchForm {
    tenant_id: agentledger_domain::ids::TenantId,
}

/// Shows another tenant (admins).
pub async fn switch_tenant(
    State(state): State<AppState>,
    Writer(signed): Writer,
    Form(form): Form<SwitchForm>,
) -> PageResult {
    sessions::switch_tenant(&state, &signed.session, &signed.token, form.tenant_id).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert("HX-Redirect", HeaderValue::from_static("/console/overview"));
    Ok(response)
}
