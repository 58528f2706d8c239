//! What an event enum of the catalogue is. Each derives, beside its serde
//! form, a companion enum of its type names (`TaskEvent` has `TaskEventType`,
//! with `TaskEventType::TaskFailed.into_str()` usable in `const`): code that
//! routes events by type names them through it, so a renamed variant is a
//! compile error there instead of a string that silently stops matching.

use std::fmt::Debug;
use std::hash::Hash;

use serde::Serialize;
use serde::de::DeserializeOwned;
use strum::{VariantArray, VariantNames};

/// Implemented for every enum listed in `catalogue`, and only for those.
pub trait Event: Serialize + DeserializeOwned + VariantNames + Send + Sync + 'static {
    /// The enum's type names, one unit variant per event variant.
    type Type: Copy + Eq + Hash + Debug + VariantArray + Into<&'static str> + 'static;

    /// The stored `event_type` of this event.
    fn event_type(&self) -> &'static str;
}
