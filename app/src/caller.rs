//! Who is calling, once their credentials are checked: an operator (by API
//! key) or an agent (by access token), and what each may do. Every use case
//! takes one of these and checks it itself, so no second way in can skip a
//! check.

use agentledger_commands::Context;
use agentledger_commands::auth::{Principal, authenticate_agent, authenticate_api_key, is_api_key};
use agentledger_domain::agent::Agent;
use agentledger_domain::api_key::Role;
use agentledger_domain::ids::{AgentId, TenantId};
use uuid::Uuid;

use crate::app::App;
use crate::error::AppError;

/// An operator, by API key.
#[derive(Clone)]
pub struct Operator {
    pub principal: Principal,
    pub role: Role,
    pub tenant_id: TenantId,
    pub correlation_id: Uuid,
}

impl Operator {
    /// Admins and operators; viewers and auditors only read.
    pub fn require_commands(&self) -> Result<(), AppError> {
        if self.role.can_run_commands() {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                "this API key's role cannot run commands".into(),
            ))
        }
    }

    pub fn require_admin(&self) -> Result<(), AppError> {
        if self.role == Role::Admin {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                "only admin API keys can do this".into(),
            ))
        }
    }

    pub fn context(&self) -> Context {
        self.principal.context(Some(self.correlation_id))
    }

    /// Audit reads (the raw log, past states, exports): admins read every
    /// tenant (`None`), auditors their own.
    pub fn audit_scope(&self) -> Result<Option<TenantId>, AppError> {
        match self.role {
            Role::Admin => Ok(None),
            Role::Auditor => Ok(Some(self.tenant_id)),
            _ => Err(AppError::Forbidden(
                "audit reads need an admin or auditor key".into(),
            )),
        }
    }

    /// Whether this operator may see objects of `tenant`.
    pub fn sees(&self, tenant: TenantId) -> bool {
        self.principal
            .tenant_scope()
            .is_none_or(|scope| scope == tenant)
    }

    /// The tenant a read is about: the operator's own, or the one asked for
    /// if the operator may see it. Any other is "not found", never
    /// "forbidden", so ids of other tenants cannot be probed.
    pub fn tenant_to_read(&self, asked: Option<TenantId>) -> Result<TenantId, AppError> {
        let tenant = asked.unwrap_or(self.tenant_id);
        if self.sees(tenant) {
            Ok(tenant)
        } else {
            Err(AppError::NotFound("tenant not found".into()))
        }
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
    pub fn context(&self) -> Context {
        self.principal.context(Some(self.correlation_id))
    }

    pub fn require(&self, scope: &str) -> Result<(), AppError> {
        if self.agent.has_permission(scope) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "the agent lacks the `{scope}` permission"
            )))
        }
    }

    /// The agent polled: see [`crate::presence::seen`].
    pub async fn seen(&self, app: &App) -> Result<u64, AppError> {
        let ctx = self.context();
        Ok(crate::presence::seen(app, &ctx, self.agent_id, self.agent.online).await?)
    }
}

/// Either kind of caller, for what both may do.
pub enum Caller {
    Operator(Operator),
    Agent(AgentCaller),
}

impl Caller {
    /// The caller's own tenant: an operator's key's, an agent's.
    pub fn tenant_id(&self) -> TenantId {
        match self {
            Caller::Operator(op) => op.tenant_id,
            Caller::Agent(agent) => agent.agent.tenant_id,
        }
    }
}

const OPERATORS_ONLY: &str = "this route is for operators' API keys";
const AGENTS_ONLY: &str = "this route is for agents' access tokens";

impl App {
    /// The operator whose API key `token` is.
    pub async fn operator(&self, token: &str, correlation_id: Uuid) -> Result<Operator, AppError> {
        if !is_api_key(token) {
            return Err(AppError::Forbidden(OPERATORS_ONLY.into()));
        }
        let principal = authenticate_api_key(&self.handler, token).await?;
        let Principal::Operator {
            role, tenant_id, ..
        } = principal
        else {
            return Err(AppError::Forbidden(OPERATORS_ONLY.into()));
        };
        Ok(Operator {
            principal,
            role,
            tenant_id,
            correlation_id,
        })
    }

    /// The agent whose access token `token` is, if its call budget allows
    /// one more call.
    pub async fn agent(&self, token: &str, correlation_id: Uuid) -> Result<AgentCaller, AppError> {
        if is_api_key(token) {
            return Err(AppError::Forbidden(AGENTS_ONLY.into()));
        }
        let (principal, agent) = authenticate_agent(&self.handler, &self.tokens, token).await?;
        let Principal::Agent { agent_id, .. } = principal else {
            return Err(AppError::Forbidden(AGENTS_ONLY.into()));
        };
        self.limits
            .agent_call(agent_id, agent.rate_limit_per_minute)
            .map_err(AppError::RateLimited)?;
        Ok(AgentCaller {
            principal,
            agent_id,
            agent,
            correlation_id,
        })
    }

    /// Whichever caller `token` names.
    pub async fn caller(&self, token: &str, correlation_id: Uuid) -> Result<Caller, AppError> {
        if is_api_key(token) {
            self.operator(token, correlation_id)
                .await
                .map(Caller::Operator)
        } else {
            self.agent(token, correlation_id).await.map(Caller::Agent)
        }
    }
}
