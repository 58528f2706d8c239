//! The read side: projections fold the event log into models that queries and
//! pollers use.

pub mod follower;
pub mod task_queue;
