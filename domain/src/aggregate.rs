use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::DomainError;
use crate::stream::Category;

/// A consistency boundary stored as one stream. `decide` turns a command into
/// the events it causes (or refuses it); `evolve` folds one event into the
/// state. Both are pure.
pub trait Aggregate: Default + Clone + Send + Sync + 'static {
    type Command;
    type Event: Serialize + DeserializeOwned + Clone + Send + Sync + 'static;
    /// What names one of them: its stream is `<prefix>-<id>`.
    type Id: std::fmt::Display;

    /// Streams of this aggregate are named `<prefix>-<id>`.
    const STREAM_PREFIX: &'static str;
    const CATEGORY: Category = Category::new(Self::STREAM_PREFIX);
    /// What an error calls one of them ("task not found").
    const ENTITY: &'static str;

    /// The tenant it belongs to, once it exists; `None` for what belongs to
    /// no tenant or is named by its tenant (a budget). A caller scoped to
    /// another tenant is told it does not exist, and events about it carry
    /// this tenant whoever causes them.
    fn owner(&self) -> Option<crate::ids::TenantId> {
        None
    }

    fn decide(state: &Self, command: Self::Command) -> Result<Vec<Self::Event>, DomainError>;
    fn evolve(state: Self, event: &Self::Event) -> Self;

    /// Events that record what was seen without changing the state (`evolve`
    /// ignores them), such as a refused login. A command whose events are all
    /// observations is appended without an expected version: it cannot be
    /// invalidated by a concurrent change, and many can be recorded at once.
    fn is_observation(_event: &Self::Event) -> bool {
        false
    }

    fn stream_id(id: impl Into<Self::Id>) -> String {
        Self::CATEGORY.stream(id.into())
    }

    /// The state after `events`, from the initial state.
    fn fold<'a>(events: impl IntoIterator<Item = &'a Self::Event>) -> Self {
        events.into_iter().fold(Self::default(), Self::evolve)
    }
}
