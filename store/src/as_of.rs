//! Points in the log's history, and reading the log up to one.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};

use crate::error::StoreError;
use crate::event::{EventFilter, Position, RecordedEvent};
use crate::event_store::EventStore;

/// A moment of the log: up to and including a position, or every event
/// recorded at or before an instant. Written as a number or an RFC 3339 time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    Position(Position),
    Time(DateTime<Utc>),
}

#[derive(Debug, thiserror::Error)]
#[error("`{0}` is neither a log position nor an RFC 3339 time")]
pub struct ParseAsOfError(String);

impl FromStr for AsOf {
    type Err = ParseAsOfError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Ok(position) = s.parse::<Position>() {
            return Ok(AsOf::Position(position));
        }
        DateTime::parse_from_rfc3339(s)
            .map(|t| AsOf::Time(t.with_timezone(&Utc)))
            .map_err(|_| ParseAsOfError(s.to_owned()))
    }
}

impl fmt::Display for AsOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AsOf::Position(p) => write!(f, "{p}"),
            AsOf::Time(t) => write!(f, "{}", t.to_rfc3339()),
        }
    }
}

impl<'de> Deserialize<'de> for AsOf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl AsOf {
    /// Whether `event` is part of the log as of this point. Recording times
    /// follow positions, so the events included always form a prefix.
    pub fn includes(&self, event: &RecordedEvent) -> bool {
        match self {
            AsOf::Position(p) => event.position <= *p,
            AsOf::Time(t) => event.recorded_at <= *t,
        }
    }

    /// The position this point names: itself, or the last event recorded at
    /// or before the instant (0 before the first). `None`: past the head.
    pub async fn resolve(&self, store: &dyn EventStore) -> Result<Option<Position>, StoreError> {
        let head = store.head_position().await?;
        match *self {
            AsOf::Position(p) => Ok((p <= head).then_some(p)),
            AsOf::Time(t) => {
                // Binary search over positions: recording times never go
                // back within the log, so "recorded at or before" is a prefix.
                let (mut low, mut high) = (0, head);
                while low < high {
                    let middle = low + (high - low).div_ceil(2);
                    let event = store.read_all(middle, 1, &EventFilter::default()).await?;
                    match event.first() {
                        Some(e) if e.position == middle && e.recorded_at <= t => low = middle,
                        _ => high = middle - 1,
                    }
                }
                Ok(Some(low))
            }
        }
    }
}

/// The events matching a filter from the start of the log (or a later
/// position) up to a position, page by page, without holding more than one
/// page.
pub struct Prefix {
    store: Arc<dyn EventStore>,
    filter: EventFilter,
    next: Position,
    until: Position,
    page: usize,
}

impl Prefix {
    pub fn new(
        store: Arc<dyn EventStore>,
        filter: EventFilter,
        until: Position,
        page: usize,
    ) -> Self {
        Self {
            store,
            filter: EventFilter {
                to_position: Some(until),
                ..filter
            },
            next: 1,
            until,
            page: page.max(1),
        }
    }

    /// Reads from `position` on instead of from the start of the log.
    pub fn starting_at(mut self, position: Position) -> Self {
        self.next = position.max(1);
        self
    }

    /// The next page, or `None` when the prefix is read.
    pub async fn next_page(&mut self) -> Result<Option<Vec<RecordedEvent>>, StoreError> {
        if self.next > self.until {
            return Ok(None);
        }
        // The filter ends at `until`: nothing past it is read.
        let events = self
            .store
            .read_all(self.next, self.page, &self.filter)
            .await?;
        let full = events.len() == self.page;
        match events.last() {
            Some(last) if full => self.next = last.position + 1,
            _ => self.next = self.until + 1,
        }
        if events.is_empty() {
            return Ok(None);
        }
        Ok(Some(events))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_of_reads_positions_and_times() {
        assert_eq!("42".parse::<AsOf>().ok(), Some(AsOf::Position(42)));
        let t = "2026-11-24T10:00:00+01:00".parse::<AsOf>().ok();
        assert_eq!(
            t.map(|a| a.to_string()),
            Some("2026-11-24T09:00:00+00:00".into())
        );
        assert!("yesterday".parse::<AsOf>().is_err());
        assert!("-3".parse::<AsOf>().is_err());
    }
}
