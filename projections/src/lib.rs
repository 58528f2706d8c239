//! The read side: projections fold the event log into models that queries and
//! pollers use.

pub mod cache_index;
pub mod command_book;
pub mod dashboard;
pub mod engine;
pub mod follower;
pub mod operation_log;
pub mod run_log;
pub mod task_queue;
