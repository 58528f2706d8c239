//! The application layer: the use cases above the command handlers and read
//! models, the policies they share (rate limits, read-your-writes), and the
//! runtime that runs the models and background workers. No HTTP here: errors
//! are typed (`AppError`), and `api` maps them to problems.

pub mod app;
pub mod demo;
pub mod error;
pub mod idempotency;
pub mod limits;
pub mod metrics;
pub mod presence;
pub mod reactors;
pub mod read_your_writes;
pub mod runtime;
pub mod stalls;
pub mod timeouts;

pub use app::App;
pub use error::AppError;
pub use runtime::{Runtime, Workers};
