//! The agentledger domain: event types, aggregates as pure `decide`/`evolve`
//! functions and domain errors. Nothing here performs I/O.

pub mod actor;

pub use actor::{Actor, ActorKind, ParseActorKindError};
