//! The agentledger domain: event types, aggregates as pure `decide`/`evolve`
//! functions and domain errors. Nothing here performs I/O or reads a clock:
//! time arrives inside commands.

pub mod actor;
pub mod address;
pub mod agent;
pub mod aggregate;
pub mod alert;
pub mod alert_policy;
pub mod api_key;
pub mod budget;
pub mod cache;
pub mod calendar;
pub mod catalogue;
pub mod codec;
pub mod dedup;
pub mod delivery;
pub mod enrollment;
pub mod error;
pub mod event;
pub mod execution;
pub mod history;
pub mod ids;
pub mod instruction;
pub mod lifecycle;
mod names;
pub mod preset;
pub mod reports;
pub mod stream;
pub mod task;
pub mod tenant;
pub mod testing;
pub mod text;
pub mod tool;
pub mod upcast;
pub mod webhook;
pub mod workflow;

pub use actor::{Actor, ActorKind, ParseActorKindError};
pub use aggregate::Aggregate;
pub use error::DomainError;
pub use event::Event;
