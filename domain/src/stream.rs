//! Stream names: `<category>-<id>`. Each category is declared once, by its
//! aggregate (`Aggregate::STREAM_PREFIX`) or, for streams of facts no
//! aggregate decides on, beside their events (`reports::ACTIONS`,
//! `reports::RUNS`, `cache::CACHE`); building or reading a stream name goes
//! through it, so no prefix is spelled twice.

use std::fmt::Display;

/// The kind of a stream, named by the prefix before its first `-`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Category(&'static str);

impl Category {
    pub const fn new(prefix: &'static str) -> Self {
        Self(prefix)
    }

    pub const fn prefix(self) -> &'static str {
        self.0
    }

    /// The stream of `id` in this category.
    pub fn stream(self, id: impl Display) -> String {
        format!("{}-{id}", self.0)
    }

    /// The id part of `stream_id` when it is a stream of this category. The
    /// dash is part of the match: `taskdedup-…` is not a `task` stream.
    pub fn id_in(self, stream_id: &str) -> Option<&str> {
        stream_id.strip_prefix(self.0)?.strip_prefix('-')
    }

    pub fn holds(self, stream_id: &str) -> bool {
        self.id_in(stream_id).is_some()
    }

    /// The prefix `stream_id` names, whatever its category: the part before
    /// its first `-`, or all of it when it has none.
    pub fn of(stream_id: &str) -> &str {
        stream_id
            .split_once('-')
            .map_or(stream_id, |(prefix, _)| prefix)
    }
}

impl Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TASK: Category = Category::new("task");

    #[test]
    fn a_stream_is_its_category_a_dash_and_the_id() {
        assert_eq!(TASK.stream("01-ab"), "task-01-ab");
        assert_eq!(TASK.id_in("task-01-ab"), Some("01-ab"));
        assert_eq!(TASK.id_in("taskdedup-x"), None);
        assert_eq!(TASK.id_in("task"), None);
        assert!(!TASK.holds("agent-1"));
        assert_eq!(Category::of("taskdedup-t-k"), "taskdedup");
        assert_eq!(Category::of("system"), "system");
    }
}
