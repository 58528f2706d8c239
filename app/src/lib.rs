//! The application layer, without HTTP: use cases that check their caller
//! (commands, read-model queries, audit reads, exports), the policies they
//! share, and the runtime of the models and workers. Errors are `AppError`.

pub mod agents;
pub mod app;
pub mod audit;
pub mod budget_stop;
pub mod budgets;
pub mod caller;
pub mod clock;
pub mod console_sessions;
pub mod deliveries;
pub mod demo;
pub mod enrollment;
pub mod error;
pub mod event_filter;
pub mod executions;
pub mod exports;
pub mod idempotency;
pub mod instructions;
pub mod limits;
pub mod live;
pub mod metrics;
pub mod operators;
mod outbound;
pub mod presence;
pub mod presets;
pub mod queries;
mod ranges;
pub mod raw_append;
pub mod reactors;
pub mod read_your_writes;
pub mod readiness;
pub(crate) mod relevance;
pub mod reports;
pub mod runtime;
pub mod stalls;
pub mod tasks;
pub mod timeouts;
pub mod tools;
pub mod visible;
pub mod webhooks;
pub mod workflows;

pub use app::App;
pub use caller::{AgentCaller, Caller, Operator};
pub use error::AppError;
pub use runtime::{Runtime, Workers};
