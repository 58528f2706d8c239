//! Payloads stored under an older schema of their type, read as the current
//! one. The log is hash-chained and never rewritten, so an old payload is
//! brought up to date each time it is read, one version at a time. `UPCASTERS`
//! is the only place versions are known: a type's current version is one
//! past its last step, which is what the write path stamps.

use std::borrow::Cow;

use serde_json::Value;

use crate::agent::{self, AgentEventType};
use crate::codec::CodecError;

/// One step: a payload of `event_type` at version `from` to `from + 1`.
pub struct Upcaster {
    pub event_type: &'static str,
    pub from: i32,
    pub step: fn(&mut Value) -> Result<(), &'static str>,
}

/// Every step, each type's in order of `from` starting at 1.
pub const UPCASTERS: &[Upcaster] = &[Upcaster {
    event_type: AgentEventType::AgentWentOffline.into_str(),
    from: 1,
    step: agent::went_offline_v1,
}];

/// The version this build writes `event_type` at; 1 for a type that never
/// changed shape (and for types that are not the domain's).
pub fn current_version(event_type: &str) -> i32 {
    UPCASTERS
        .iter()
        .filter(|u| u.event_type == event_type)
        .map(|u| u.from + 1)
        .max()
        .unwrap_or(1)
}

/// The payload as the current version of its type. At the current version
/// it is borrowed as it is: the read models decode every event of the log,
/// and almost all are current.
pub fn upcast<'a>(
    event_type: &str,
    schema_version: i32,
    payload: &'a Value,
) -> Result<Cow<'a, Value>, CodecError> {
    let current = current_version(event_type);
    if schema_version == current {
        return Ok(Cow::Borrowed(payload));
    }
    if !(1..current).contains(&schema_version) {
        return Err(CodecError::Version {
            event_type: event_type.to_owned(),
            version: schema_version,
            current,
        });
    }
    let mut payload = payload.clone();
    for from in schema_version..current {
        let step = UPCASTERS
            .iter()
            .find(|u| u.event_type == event_type && u.from == from)
            .ok_or_else(|| CodecError::Version {
                event_type: event_type.to_owned(),
                version: schema_version,
                current,
            })?;
        (step.step)(&mut payload).map_err(|reason| CodecError::Upcast {
            event_type: event_type.to_owned(),
            from,
            reason,
        })?;
    }
    Ok(Cow::Owned(payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::AgentEvent;
    use crate::catalogue;
    use crate::codec::{decode, encode};
    use chrono::DateTime;
    use serde_json::json;

    #[test]
    fn each_types_steps_run_from_one_without_a_gap() {
        for event_type in catalogue::types() {
            let mut froms: Vec<i32> = UPCASTERS
                .iter()
                .filter(|u| u.event_type == event_type)
                .map(|u| u.from)
                .collect();
            froms.sort_unstable();
            let expected: Vec<i32> = (1..current_version(event_type)).collect();
            assert_eq!(froms, expected, "{event_type}");
        }
        for u in UPCASTERS {
            assert!(catalogue::is_known(u.event_type), "{}", u.event_type);
        }
    }

    #[test]
    fn a_v1_offline_payload_reads_as_the_current_event() {
        let stored = json!({ "last_seen": "2026-01-02T03:04:05Z" });
        let at = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z").map(|d| d.to_utc());
        let read = decode::<AgentEvent>("AgentWentOffline", 1, &stored);
        assert_eq!(
            read.ok(),
            at.ok()
                .map(|last_seen_at| AgentEvent::AgentWentOffline { last_seen_at })
        );
        // The same payload claimed as the current version is not one.
        assert!(decode::<AgentEvent>("AgentWentOffline", 2, &stored).is_err());
    }

    #[test]
    fn the_current_shape_is_what_is_written_and_read_without_a_copy() {
        let event = AgentEvent::AgentWentOffline {
            last_seen_at: chrono::Utc::now(),
        };
        let (event_type, payload) = encode(&event).unwrap_or_default();
        assert_eq!(current_version(&event_type), 2);
        assert!(matches!(
            upcast(&event_type, 2, &payload),
            Ok(Cow::Borrowed(_))
        ));
        assert_eq!(
            decode::<AgentEvent>(&event_type, 2, &payload).ok(),
            Some(event)
        );
        assert_eq!(current_version("AgentWentOnline"), 1);
    }

    #[test]
    fn versions_this_build_does_not_know_are_refused_by_name() {
        let payload = json!({ "last_seen_at": "2026-01-02T03:04:05Z" });
        for version in [3, 0, -1] {
            let refused = decode::<AgentEvent>("AgentWentOffline", version, &payload);
            assert!(
                matches!(refused, Err(CodecError::Version { version: v, current: 2, .. }) if v == version),
                "{version}: {refused:?}"
            );
        }
        let not_v1 = decode::<AgentEvent>("AgentWentOffline", 1, &payload);
        assert!(
            matches!(not_v1, Err(CodecError::Upcast { from: 1, .. })),
            "{not_v1:?}"
        );
    }
}
