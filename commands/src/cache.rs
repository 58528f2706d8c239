//! Folded aggregate states kept between commands. A hit still reads the
//! stream from the cached version on, so writes by other processes are never
//! missed; it only saves re-reading and re-folding the whole stream.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Streams remembered at most; past it the cache starts over.
const CAPACITY: usize = 50_000;

/// A stream's folded state, the version it was folded to and that event's
/// global position.
type Entry = (Option<u64>, u64, Arc<dyn Any + Send + Sync>);

#[derive(Default)]
pub(crate) struct AggregateCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl AggregateCache {
    pub fn get<A: Clone + Send + Sync + 'static>(
        &self,
        stream: &str,
    ) -> Option<(A, Option<u64>, u64)> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let (version, position, state) = entries.get(stream)?;
        let state = state.downcast_ref::<A>()?.clone();
        Some((state, *version, *position))
    }

    pub fn put<A: Clone + Send + Sync + 'static>(
        &self,
        stream: &str,
        state: A,
        version: Option<u64>,
        position: u64,
    ) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= CAPACITY && !entries.contains_key(stream) {
            entries.clear();
        }
        let newer = entries
            .get(stream)
            .is_none_or(|(cached, _, _)| *cached <= version);
        if newer {
            entries.insert(stream.to_owned(), (version, position, Arc::new(state)));
        }
    }
}
