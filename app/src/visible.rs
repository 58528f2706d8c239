//! "Exists, and this caller may see it": one rule for every read of one
//! aggregate. Anything else is "not found", never "forbidden", so ids of
//! other tenants cannot be probed. Most aggregates are seen by whoever sees
//! their tenant; a command to an agent only by that agent among agents, a
//! webhook only by the agent that made it.

use agentledger_commands::Loaded;
use agentledger_domain::Aggregate;
use agentledger_domain::agent::Agent;
use agentledger_domain::alert::Alert;
use agentledger_domain::ids::{AgentId, TenantId};
use agentledger_domain::instruction::{CommandTemplate, Instruction};
use agentledger_domain::task::Task;
use agentledger_domain::webhook::{Manager, Webhook};

use crate::app::App;
use crate::caller::{AgentCaller, Caller, Operator};
use crate::error::AppError;

/// Someone reading: what tenants they see, and which agent they are.
pub trait Viewer {
    fn sees(&self, tenant: TenantId) -> bool;
    /// The calling agent; `None` for an operator.
    fn agent(&self) -> Option<AgentId>;
}

impl Viewer for Operator {
    fn sees(&self, tenant: TenantId) -> bool {
        Operator::sees(self, tenant)
    }

    fn agent(&self) -> Option<AgentId> {
        None
    }
}

impl Viewer for AgentCaller {
    fn sees(&self, tenant: TenantId) -> bool {
        self.agent.tenant_id == tenant
    }

    fn agent(&self) -> Option<AgentId> {
        Some(self.agent_id)
    }
}

impl Viewer for Caller {
    fn sees(&self, tenant: TenantId) -> bool {
        match self {
            Caller::Operator(op) => Viewer::sees(op, tenant),
            Caller::Agent(agent) => agent.sees(tenant),
        }
    }

    fn agent(&self) -> Option<AgentId> {
        match self {
            Caller::Operator(op) => op.agent(),
            Caller::Agent(agent) => agent.agent(),
        }
    }
}

/// An aggregate read one at a time.
pub trait Visible: Aggregate {
    /// Created, and not deleted since.
    fn live(&self) -> bool;

    /// Whether `viewer` may see it, once it is live.
    fn visible_to(&self, viewer: &dyn Viewer) -> bool {
        self.owner().is_some_and(|tenant| viewer.sees(tenant))
    }
}

/// The most events a stream read whole hands out.
const WHOLE_STREAM: usize = 10_000;

impl App {
    /// The stream of the aggregate named `id`, oldest first: what a history
    /// shows once the caller has been found to see it.
    pub async fn whole_stream<A: Aggregate>(
        &self,
        id: A::Id,
    ) -> Result<Vec<agentledger_store::RecordedEvent>, AppError> {
        Ok(self
            .store
            .read_stream(&A::stream_id(id), 0, WHOLE_STREAM)
            .await?)
    }

    /// The stream of the aggregate named `id`, if it is live and `viewer`
    /// may see it.
    pub async fn visible_stream<A: Visible>(
        &self,
        viewer: &(impl Viewer + Sync),
        id: A::Id,
    ) -> Result<Vec<agentledger_store::RecordedEvent>, AppError>
    where
        A::Id: Copy,
    {
        self.load_visible::<A>(viewer, id).await?;
        self.whole_stream::<A>(id).await
    }

    /// The aggregate named `id`, if it is live and `viewer` may see it.
    pub async fn load_visible<A: Visible>(
        &self,
        viewer: &(impl Viewer + Sync),
        id: impl Into<A::Id>,
    ) -> Result<Loaded<A>, AppError> {
        let loaded = self.handler.load::<A>(id).await?;
        if loaded.state.live() && loaded.state.visible_to(viewer) {
            Ok(loaded)
        } else {
            Err(AppError::NotFound(format!("{} not found", A::ENTITY)))
        }
    }
}

impl Visible for Agent {
    fn live(&self) -> bool {
        self.exists
    }
}

impl Visible for Task {
    fn live(&self) -> bool {
        self.exists
    }
}

impl Visible for Alert {
    fn live(&self) -> bool {
        self.exists
    }
}

impl Visible for agentledger_domain::tool::Tool {
    fn live(&self) -> bool {
        self.exists
    }
}

impl Visible for agentledger_domain::workflow::Workflow {
    fn live(&self) -> bool {
        self.exists
    }
}

impl Visible for agentledger_domain::execution::Execution {
    fn live(&self) -> bool {
        self.exists
    }
}

impl Visible for CommandTemplate {
    fn live(&self) -> bool {
        self.exists && !self.deleted
    }
}

/// Among agents, only the one it was issued to.
impl Visible for Instruction {
    fn live(&self) -> bool {
        self.exists
    }

    fn visible_to(&self, viewer: &dyn Viewer) -> bool {
        match viewer.agent() {
            Some(agent) => agent == self.agent_id,
            None => viewer.sees(self.tenant_id),
        }
    }
}

/// Among agents, only the one that made it.
impl Visible for Webhook {
    fn live(&self) -> bool {
        self.exists && !self.deleted
    }

    fn visible_to(&self, viewer: &dyn Viewer) -> bool {
        viewer.sees(self.tenant_id)
            && viewer
                .agent()
                .is_none_or(|agent| self.managed_by(Manager::Agent(agent)))
    }
}
