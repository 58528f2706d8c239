//! The agentledger server: HTTP routes, authentication, error mapping and
//! the background workers it starts.

pub mod auth;
pub mod connections;
pub mod event_query;
pub mod exports;
pub mod extract;
pub mod idempotency;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod presence;
pub mod problem;
pub mod reactors;
pub mod read_model;
pub mod read_your_writes;
pub mod routes;
pub mod server;
pub mod stalls;
pub mod state;
pub mod timeouts;
pub mod workers;

pub use server::{RunningServer, router, start};
pub use state::AppState;
