//! The OpenAPI 3.1 document, generated from the route handlers themselves:
//! a route is registered only through `routes!`, which also documents it.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::problem::Problem;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "agentledger",
        description = "Control plane and audit ledger for fleets of AI agents. Every change is an event; \
                       every command answers with the global `position` of its last event. Errors are \
                       `application/problem+json` (RFC 9457). Commands accept an `Idempotency-Key` header."
    ),
    modifiers(&Security),
    components(schemas(Problem))
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut operator = Http::new(HttpAuthScheme::Bearer);
        operator.description =
            Some("An operator API key (`alk_…`), with a role and a tenant".into());
        components.add_security_scheme("operator_key", SecurityScheme::Http(operator));
        let mut agent = Http::new(HttpAuthScheme::Bearer);
        agent.bearer_format = Some("JWT".into());
        agent.description = Some("An agent access token from /api/v1/agents/auth".into());
        components.add_security_scheme("agent_token", SecurityScheme::Http(agent));
    }
}

/// The errors any route may answer with, all as problem documents.
#[derive(utoipa::IntoResponses)]
pub enum Problems {
    #[response(
        status = 400,
        description = "Malformed body, query or path",
        content_type = "application/problem+json"
    )]
    BadRequest(Problem),
    #[response(
        status = 401,
        description = "Missing, invalid or expired credentials",
        content_type = "application/problem+json"
    )]
    Unauthorized(Problem),
    #[response(
        status = 403,
        description = "The caller's role or permissions do not allow this",
        content_type = "application/problem+json"
    )]
    Forbidden(Problem),
    #[response(
        status = 404,
        description = "No such object in the caller's tenant",
        content_type = "application/problem+json"
    )]
    NotFound(Problem),
    #[response(
        status = 409,
        description = "Not allowed in the current state, or an expected-version conflict",
        content_type = "application/problem+json"
    )]
    Conflict(Problem),
    #[response(
        status = 413,
        description = "Body too large",
        content_type = "application/problem+json"
    )]
    TooLarge(Problem),
    #[response(
        status = 422,
        description = "The command is not valid",
        content_type = "application/problem+json"
    )]
    Invalid(Problem),
    #[response(
        status = 429,
        description = "Rate limited; see Retry-After",
        content_type = "application/problem+json"
    )]
    RateLimited(Problem),
    #[response(
        status = 503,
        description = "Shutting down or contended; retry",
        content_type = "application/problem+json"
    )]
    Unavailable(Problem),
}
