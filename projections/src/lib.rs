//! The read side: the engine that keeps projections up to date (batches,
//! checkpoints, rebuild), the read models with their queries, and the
//! in-memory models pollers use (task queue, command book, cache index).

pub mod agent_stats;
pub mod budgets;
pub mod cache_index;
pub mod command_book;
pub mod command_history;
pub mod dashboard;
pub mod dashboard_snapshots;
pub mod directory;
pub mod engine;
pub mod enrollment_tokens;
pub mod executions;
pub mod follower;
pub mod operation_log;
pub mod point_in_time;
pub mod reactor_checkpoint;
pub mod run_log;
pub mod task_queue;
pub mod tasks;
pub mod tools;
pub mod usage;
pub mod webhook_deliveries;
pub mod webhooks_and_cache;
pub mod wire;
pub mod workflows;
pub mod zones;
