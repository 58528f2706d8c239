//! The list of every persistent projection (`all`).

use std::sync::Arc;

use super::projection::Projection;

/// Every persistent projection, by name.
pub fn all() -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(crate::operation_log::OperationLog),
        Arc::new(crate::dashboard::Dashboard),
        Arc::new(crate::run_log::RunLog),
        Arc::new(crate::agent_stats::AgentStats),
        Arc::new(crate::tasks::Tasks),
        Arc::new(crate::command_history::CommandHistory),
        Arc::new(crate::usage::Usage),
        Arc::new(crate::webhooks_and_cache::WebhooksAndCache),
        Arc::new(crate::webhook_deliveries::WebhookDeliveries),
        Arc::new(crate::tools::Tools),
        Arc::new(crate::workflows::Workflows),
        Arc::new(crate::executions::Executions),
        Arc::new(crate::directory::Directory),
        Arc::new(crate::budgets::Budgets),
        Arc::new(crate::enrollment_tokens::EnrollmentTokens),
    ]
}
