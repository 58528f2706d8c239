//! The write side: command handlers load an aggregate from its stream, run the
//! pure `decide`, and append the events with the version they decided on,
//! retrying on a conflict. Also authentication (secrets, tokens, API keys).

pub mod agents;
pub mod alerts;
pub mod auth;
pub mod budgets;
mod cache;
pub mod enrollment;
pub mod error;
pub mod handler;
pub mod instructions;
pub mod operators;
pub mod reports;
pub mod secrets;
pub mod tasks;
pub mod tokens;
pub mod webhooks;

pub use error::CommandError;
pub use handler::{Context, Executed, Handler, Loaded, derived_id};
