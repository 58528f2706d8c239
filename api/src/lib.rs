//! The HTTP face of agentledger: routes, extractors and authentication, the
//! problem mapping, idempotent replays and the OpenAPI document.

pub mod auth;
pub mod connections;
pub mod extract;
pub mod idempotency;
pub mod metrics;
pub mod openapi;
pub mod problem;
pub mod read_model;
pub mod routes;
pub mod server;
pub mod state;

pub use server::{RunningServer, router, router_with, start};
pub use state::AppState;
