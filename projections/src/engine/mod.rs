//! Persistent projections: each applies batches of events to its tables in
//! one transaction that also advances its checkpoint, so a crash at any point
//! neither loses nor double-counts an event. The runner catches up from the
//! checkpoint, then follows new events as they commit.

mod capped;
mod checkpoints;
mod contents;
mod projection;
mod rebuild;
mod registry;
mod runner;
mod sql;

pub use capped::{CAP, add_capped, add_capped_sql, clamp, sum_capped_sql};
pub use checkpoints::{Applied, apply_batch, apply_events, checkpoint, reset};
pub use contents::{Contents, contents};
pub use projection::{Apply, Decoded, Projection, ProjectionError, decode_event, decode_recorded};
pub use rebuild::{BUILD_BATCH, Built, build_all, catch_up, catch_up_to};
pub use registry::all;
pub use runner::{BATCH, LINGER, Observer, spawn};
pub use sql::{ROWS_PER_STATEMENT, select_in};
