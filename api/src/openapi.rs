//! The OpenAPI 3.1 document, generated from the route handlers themselves:
//! a route is registered only through `routes!`, which also documents it.

use agentledger_projections::usage::{Grouping, Period};
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Response};
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
    // Referenced only from query parameters, which utoipa does not collect.
    components(schemas(Problem, Period, Grouping))
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

/// The errors any route may answer with, all as problem documents. Routes
/// that read a body also get those of `BodyProblems`.
#[derive(utoipa::IntoResponses)]
pub enum Problems {
    #[response(
        status = 400,
        description = "Not what this document describes: malformed JSON, a body that is not an object, unknown fields or parameters, wrong types (an integer written as `1.0` too), values out of the stated bounds of a path or query",
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
        status = 422,
        description = "Well-formed, but a rule refuses it: the domain's checks (`/problems/validation`) or what a schema cannot state (`/problems/unprocessable-request`)",
        content_type = "application/problem+json"
    )]
    Invalid(Problem),
    #[response(
        status = 429,
        description = "Rate limited (`/problems/rate-limited`), or, on an agent's task claims and run reports, a budget that stops at its limit is spent (`/problems/budget-exhausted`, naming it in `budget`, `period`, `measure`, `used`, `limit` and `lifts_at`); see Retry-After",
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

/// What the routes' annotations leave to the whole document, applied once
/// every route is merged in (the `modifiers` of `ApiDoc` run before that):
/// the errors only a route that reads a JSON body answers with
/// (`extract::Json`), added to every operation with a request body so none
/// can miss them.
pub fn complete(openapi: &mut utoipa::openapi::OpenApi) {
    let problem = |description: &str| {
        RefOr::T(
            Response::builder()
                .description(description)
                .content(
                    "application/problem+json",
                    Content::new(Some(Ref::from_schema_name("Problem"))),
                )
                .build(),
        )
    };
    let too_large = format!(
        "The body is larger than {} MiB",
        crate::server::MAX_BODY_BYTES / (1024 * 1024)
    );
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            if !reads_json(operation) {
                continue;
            }
            let responses = &mut operation.responses.responses;
            responses
                .entry("413".into())
                .or_insert_with(|| problem(&too_large));
            responses
                .entry("415".into())
                .or_insert_with(|| problem("The body is not `application/json` (`Content-Type`)"));
        }
    }
}

fn reads_json(operation: &Operation) -> bool {
    operation
        .request_body
        .as_ref()
        .is_some_and(|body| match body {
            RefOr::T(body) => body.content.contains_key("application/json"),
            RefOr::Ref(_) => false,
        })
}
