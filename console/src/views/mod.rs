//! One module per view of the console: each reads models through the app's
//! queries and renders a template; each button calls one of the app's use
//! cases, as the API's routes do.

pub mod agent_actions;
pub mod agents;
pub mod alerts;
pub mod as_of;
pub mod audit;
pub mod budgets;
pub mod downloads;
pub mod executions;
pub mod links;
pub mod operations;
pub mod overview;
pub mod runs;
pub mod tasks;
pub mod webhooks;
pub mod workflows;
