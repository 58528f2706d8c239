//! The agentledger server: HTTP routes, error mapping and the CLI's commands.

pub mod cli;
pub mod extract;
pub mod problem;
pub mod routes;
pub mod server;

pub use server::{AppState, RunningServer, router, start};
