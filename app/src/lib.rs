//! The application layer: the use cases above the command handlers and read
//! models, the policies they share (rate limits, read-your-writes), and the
//! runtime that runs the models and background workers. No HTTP here: errors
//! are typed (`AppError`), and `api` maps them to problems.

pub mod agents;
pub mod app;
pub mod budgets;
pub mod caller;
pub mod demo;
pub mod dispatch;
pub mod error;
pub mod idempotency;
pub mod limits;
pub mod metrics;
pub mod operators;
pub mod presence;
pub mod reactors;
pub mod read_your_writes;
pub mod reports;
pub mod runtime;
pub mod stalls;
pub mod tasks;
pub mod timeouts;
pub mod webhooks;

pub use app::App;
pub use caller::{AgentCaller, Caller, Operator};
pub use error::AppError;
pub use runtime::{Runtime, Workers};
