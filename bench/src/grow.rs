//! Grows a seeded log to a size the command handlers would take too long to
//! write (10M events is about half an hour through them here): the events
//! already in the log are appended again, copy after copy, with every id in
//! them — tenants, agents, tasks, runs, keys, streams, the events' own —
//! replaced by one of its own per copy. Each copy is a set of new tenants
//! with the same history, so read models and indexes grow as they would with
//! more tenants, and every relation inside a copy holds.
//!
//! A copy's ids are derived from the original's and from the log's length
//! when the growing started, so a log grown before can be grown again: the
//! copies of its copies get ids of their own.
//! Streams with no id in their name (the installation's) are not copied.

use std::collections::HashMap;
use std::sync::Arc;

use agentledger_domain::Actor;
use agentledger_store::{EventFilter, EventStore, ExpectedVersion, NewEvent, RecordedEvent};
use uuid::Uuid;

use super::BenchError;

/// Events read and appended at a time; their streams append concurrently, so
/// group commit writes them in a few transactions.
const PAGE: usize = 5000;

/// Appends copies of the log's current events until the head reaches
/// `target`, calling `progress` with the head after each page.
pub async fn grow(
    store: Arc<dyn EventStore>,
    target: u64,
    progress: impl Fn(u64),
) -> Result<u64, BenchError> {
    let source = store.head_position().await?;
    if source == 0 {
        return Err(BenchError::Load(
            "the log is empty: seed it first (`bench seed`)".into(),
        ));
    }
    let mut head = source;
    let mut copy = 1u64;
    while head < target {
        let before = head;
        let ids = CopyIds::new(source, copy);
        let mut from = 1;
        while from <= source && head < target {
            let page = store.read_all(from, PAGE, &EventFilter::default()).await?;
            let page: Vec<_> = page.into_iter().filter(|e| e.position <= source).collect();
            let Some(last) = page.last() else { break };
            from = last.position + 1;
            let appends = by_stream(page, &ids)?.into_iter().map(|(stream, events)| {
                let store = store.clone();
                async move { store.append(&stream, ExpectedVersion::Any, events).await }
            });
            futures::future::try_join_all(appends).await?;
            head = store.head_position().await?;
            progress(head);
        }
        if head == before {
            return Err(BenchError::Load(
                "the log holds no tenant's events to copy".into(),
            ));
        }
        copy += 1;
    }
    Ok(head)
}

/// The page's events under the copy's ids, grouped by stream in the order
/// each stream first appears, each stream's events in log order.
fn by_stream(
    page: Vec<RecordedEvent>,
    ids: &CopyIds,
) -> Result<Vec<(String, Vec<NewEvent>)>, BenchError> {
    let mut streams: Vec<(String, Vec<NewEvent>)> = Vec::new();
    let mut index = HashMap::new();
    for event in page {
        let stream = ids.in_text(&event.stream_id);
        if stream == event.stream_id {
            // A stream without an id in its name belongs to the installation
            // (its initialisation), not to a tenant: a copy has none of its own.
            continue;
        }
        let at = *index.entry(stream.clone()).or_insert_with(|| {
            streams.push((stream, Vec::new()));
            streams.len() - 1
        });
        streams[at].1.push(ids.event(event)?);
    }
    Ok(streams)
}

/// The ids of one copy: each original id XOR-ed with the copy's mask and
/// marked as a version 8 UUID. Originals are v4 or v7, so a copy's id never
/// equals an original. The mask comes from the copy's number and the log's
/// length when the growing started (`source`): masks of one run differ, and
/// so do those of a later run over a log that already holds copies (reusing
/// a mask would turn a copy's id back into its original).
struct CopyIds {
    mask: u128,
}

impl CopyIds {
    fn new(source: u64, copy: u64) -> Self {
        // splitmix64 spreads nearby numbers over all the bits.
        let mix = |mut z: u64| {
            z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        let high = mix(mix(source) ^ copy);
        Self {
            mask: (u128::from(high) << 64) | u128::from(mix(high)),
        }
    }

    fn id(&self, original: Uuid) -> Uuid {
        Uuid::new_v8((original.as_u128() ^ self.mask).to_be_bytes())
    }

    /// `text` with every UUID in it (alone, or inside a stream name or a
    /// dedup key) replaced by the copy's.
    fn in_text(&self, text: &str) -> String {
        const LEN: usize = 36;
        let bytes = text.as_bytes();
        let mut out = String::with_capacity(text.len());
        let (mut done, mut at) = (0, 0);
        while at + LEN <= bytes.len() {
            // A UUID is ASCII, so where one starts is a char boundary.
            match looks_like_uuid(&bytes[at..at + LEN])
                .then(|| Uuid::parse_str(&text[at..at + LEN]).ok())
                .flatten()
            {
                Some(id) => {
                    out.push_str(&text[done..at]);
                    out.push_str(&self.id(id).hyphenated().to_string());
                    at += LEN;
                    done = at;
                }
                None => at += 1,
            }
        }
        out.push_str(&text[done..]);
        out
    }

    fn event(&self, event: RecordedEvent) -> Result<NewEvent, BenchError> {
        let payload = serde_json::from_str(&self.in_text(&event.payload.to_string()))
            .map_err(|e| BenchError::Load(format!("event {}: {e}", event.position)))?;
        Ok(NewEvent {
            event_id: self.id(event.event_id),
            event_type: event.event_type,
            schema_version: event.schema_version,
            tenant_id: self.id(event.tenant_id),
            occurred_at: event.occurred_at,
            actor: Actor::new(event.actor.kind, self.in_text(&event.actor.id)),
            correlation_id: event.correlation_id.map(|id| self.id(id)),
            causation_id: event.causation_id.map(|id| self.id(id)),
            payload,
        })
    }
}

fn looks_like_uuid(candidate: &[u8]) -> bool {
    candidate.iter().enumerate().all(|(i, b)| match i {
        8 | 13 | 18 | 23 => *b == b'-',
        _ => b.is_ascii_hexdigit(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_uuid_in_a_text_is_replaced_the_same_way_and_nothing_else() {
        let ids = CopyIds::new(1000, 1);
        let tenant = Uuid::now_v7();
        let text = format!("dedup-{tenant}-abc é {tenant}");
        let copied = ids.in_text(&text);
        let new = ids.id(tenant);
        assert_eq!(copied, format!("dedup-{new}-abc é {new}"));
        assert_ne!(new, tenant);
        assert_ne!(CopyIds::new(1000, 2).id(tenant), new);
        assert_eq!(ids.in_text("no ids here"), "no ids here");
    }

    #[test]
    fn growing_a_grown_log_gives_copies_of_copies_ids_of_their_own() {
        let original = Uuid::now_v7();
        let first = CopyIds::new(1000, 1);
        let copy = first.id(original);
        // The second run starts from a longer log, with its own copy numbers.
        let second = CopyIds::new(10_000, 1);
        let copy_of_copy = second.id(copy);
        assert_ne!(copy_of_copy, original);
        assert_ne!(copy_of_copy, copy);
        assert_ne!(second.id(original), copy);
    }
}
