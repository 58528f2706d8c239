//! Who is calling, from the `Authorization: Bearer …` header: an operator API
//! key (`alk_…`) or an agent access token (a JWT).

use agentledger_commands::auth::{Principal, authenticate_agent, authenticate_api_key, is_api_key};
use agentledger_domain::agent::Agent;
use agentledger_domain::api_key::Role;
use agentledger_domain::ids::{AgentId, TenantId};
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use uuid::Uuid;

use crate::problem::Problem;
use crate::state::AppState;

fn bearer(parts: &Parts) -> Result<&str, Problem> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| Problem::unauthorized("an Authorization: Bearer header is required"))?;
    let value = header
        .to_str()
        .map_err(|_| Problem::unauthorized("malformed Authorization header"))?;
    // The scheme is case-insensitive (RFC 9110 §11.1): `bearer` is as good.
    value
        .trim_start()
        .split_once([' ', '\t'])
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Problem::unauthorized("expected a Bearer token"))
}

/// The `X-Correlation-Id` a client sent, or a new one: every event a request
/// causes carries it, so an audit can follow the request across streams.
pub fn correlation_id(parts: &Parts) -> Uuid {
    correlation_of(&parts.headers)
}

/// The same, from the headers alone (for routes without credentials).
pub fn correlation_of(headers: &axum::http::HeaderMap) -> Uuid {
    headers
        .get(CORRELATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(Uuid::now_v7)
}

/// Gives every request a correlation id (the client's `X-Correlation-Id` if it
/// sent a valid one) and answers with it, so a client can look up in the log
/// everything its request caused.
pub async fn correlate(
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (mut parts, body) = request.into_parts();
    let id = correlation_id(&parts);
    let value = axum::http::HeaderValue::from_str(&id.to_string())
        .unwrap_or_else(|_| axum::http::HeaderValue::from_static(""));
    parts.headers.insert(CORRELATION_HEADER, value.clone());
    request = axum::extract::Request::from_parts(parts, body);
    let mut response = next.run(request).await;
    response.headers_mut().insert(CORRELATION_HEADER, value);
    response
}

pub const CORRELATION_HEADER: &str = "x-correlation-id";

/// An operator, by API key.
pub struct Operator {
    pub principal: Principal,
    pub role: Role,
    pub tenant_id: TenantId,
    pub correlation_id: Uuid,
}

impl Operator {
    /// Admins and operators; viewers and auditors only read.
    pub fn require_commands(&self) -> Result<(), Problem> {
        if self.role.can_run_commands() {
            Ok(())
        } else {
            Err(Problem::forbidden(
                "this API key's role cannot run commands",
            ))
        }
    }

    pub fn require_admin(&self) -> Result<(), Problem> {
        if self.role == Role::Admin {
            Ok(())
        } else {
            Err(Problem::forbidden("only admin API keys can do this"))
        }
    }

    pub fn context(&self) -> agentledger_commands::Context {
        self.principal.context(Some(self.correlation_id))
    }

    /// Audit reads (the raw log, past states, exports): admins read every
    /// tenant (`None`), auditors their own.
    pub fn audit_scope(&self) -> Result<Option<TenantId>, Problem> {
        match self.role {
            Role::Admin => Ok(None),
            Role::Auditor => Ok(Some(self.tenant_id)),
            _ => Err(Problem::forbidden(
                "audit reads need an admin or auditor key",
            )),
        }
    }

    /// Whether this operator may see objects of `tenant`.
    pub fn sees(&self, tenant: TenantId) -> bool {
        self.principal
            .tenant_scope()
            .is_none_or(|scope| scope == tenant)
    }
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let token = bearer(parts)?;
        if !is_api_key(token) {
            return Err(Problem::forbidden("this route is for operators' API keys"));
        }
        let principal = authenticate_api_key(&state.handler, token).await?;
        let Principal::Operator {
            role, tenant_id, ..
        } = principal
        else {
            return Err(Problem::forbidden("this route is for operators' API keys"));
        };
        Ok(Self {
            principal,
            role,
            tenant_id,
            correlation_id: correlation_id(parts),
        })
    }
}

/// An agent, by access token, within its rate limit.
pub struct AgentCaller {
    pub principal: Principal,
    pub agent_id: AgentId,
    pub agent: Agent,
    pub correlation_id: Uuid,
}

impl AgentCaller {
    pub fn context(&self) -> agentledger_commands::Context {
        self.principal.context(Some(self.correlation_id))
    }

    /// The agent polled: see `agentledger_app::presence::seen`.
    pub async fn seen(&self, state: &AppState) -> Result<u64, Problem> {
        let ctx = self.context();
        Ok(agentledger_app::presence::seen(state, &ctx, self.agent_id, self.agent.online).await?)
    }

    pub fn require(&self, scope: &str) -> Result<(), Problem> {
        if self.agent.has_permission(scope) {
            Ok(())
        } else {
            Err(Problem::forbidden(format!(
                "the agent lacks the `{scope}` permission"
            )))
        }
    }
}

impl FromRequestParts<AppState> for AgentCaller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let token = bearer(parts)?;
        if is_api_key(token) {
            return Err(Problem::forbidden(
                "this route is for agents' access tokens",
            ));
        }
        let (principal, agent) = authenticate_agent(&state.handler, &state.tokens, token).await?;
        let Principal::Agent { agent_id, .. } = principal else {
            return Err(Problem::forbidden(
                "this route is for agents' access tokens",
            ));
        };
        state
            .limits
            .agent_call(agent_id, agent.rate_limit_per_minute)
            .map_err(Problem::too_many_requests)?;
        Ok(Self {
            principal,
            agent_id,
            agent,
            correlation_id: correlation_id(parts),
        })
    }
}

/// Either kind of caller, for routes both may use.
pub enum Caller {
    Operator(Operator),
    Agent(AgentCaller),
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        if is_api_key(bearer(parts)?) {
            Operator::from_request_parts(parts, state)
                .await
                .map(Caller::Operator)
        } else {
            AgentCaller::from_request_parts(parts, state)
                .await
                .map(Caller::Agent)
        }
    }
}
