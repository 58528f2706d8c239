//! Events travel as `(event_type, payload)`: the variant name is the stored
//! event type, the variant's fields are the payload. Every event enum is
//! `#[serde(tag = "type", content = "data")]`, which this module splits and joins.
//! Reading takes the stored `schema_version` too: an older payload is upcast
//! (`crate::upcast`) before it is decoded.

use serde::Serialize;
use serde::de::{self, DeserializeOwned};
use serde_json::{Value, json};

use crate::event::Event;
use crate::upcast::upcast;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("event cannot be encoded: {0}")]
    Encode(String),
    #[error("event `{event_type}` cannot be decoded: {reason}")]
    Decode { event_type: String, reason: String },
    #[error(
        "event `{event_type}` has schema version {version}; this build knows versions 1 to {current} of it"
    )]
    Version {
        event_type: String,
        version: i32,
        current: i32,
    },
    #[error("event `{event_type}` at schema version {from} cannot be upcast: {reason}")]
    Upcast {
        event_type: String,
        from: i32,
        reason: &'static str,
    },
}

pub fn encode<E: Serialize>(event: &E) -> Result<(String, Value), CodecError> {
    let value = serde_json::to_value(event).map_err(|e| CodecError::Encode(e.to_string()))?;
    let Value::Object(mut map) = value else {
        return Err(CodecError::Encode("not a tagged enum".into()));
    };
    let Some(Value::String(event_type)) = map.remove("type") else {
        return Err(CodecError::Encode("no type tag".into()));
    };
    let payload = map.remove("data").unwrap_or_else(|| json!({}));
    Ok((event_type, payload))
}

/// Reads the event stored as `event_type` at `schema_version`. A current
/// payload is read straight from where it is stored: the tagged form
/// `{"type": …, "data": …}` is presented to the enum as a map that borrows
/// both parts, so the payload is neither copied nor buffered on the way (the
/// projections decode every event of the log this way, many times over).
pub fn decode<E: DeserializeOwned>(
    event_type: &str,
    schema_version: i32,
    payload: &Value,
) -> Result<E, CodecError> {
    let payload = upcast(event_type, schema_version, payload)?;
    decode_current(event_type, &payload)
}

fn decode_current<E: DeserializeOwned>(event_type: &str, payload: &Value) -> Result<E, CodecError> {
    let data = if payload.as_object().is_some_and(|m| m.is_empty()) {
        None
    } else {
        Some(payload)
    };
    E::deserialize(Tagged {
        event_type,
        data,
        next: 0,
    })
    .map_err(|e| CodecError::Decode {
        event_type: event_type.to_owned(),
        reason: e.to_string(),
    })
}

/// The event as `E` when its type is one of `E`'s variants; `None` when it
/// is another enum's. A type that is `E`'s but whose payload does not decode
/// is an error, never a skip: read models route events by these names and
/// must not pass over one they should have applied.
pub fn decode_if<E: Event>(
    event_type: &str,
    schema_version: i32,
    payload: &Value,
) -> Result<Option<E>, CodecError> {
    if E::VARIANTS.contains(&event_type) {
        decode(event_type, schema_version, payload).map(Some)
    } else {
        Ok(None)
    }
}

/// `{"type": event_type, "data": data}` (without `data` when there is none),
/// as a deserializer of its own.
struct Tagged<'a> {
    event_type: &'a str,
    data: Option<&'a Value>,
    next: u8,
}

impl<'de> de::Deserializer<'de> for Tagged<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_map(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de> de::MapAccess<'de> for Tagged<'de> {
    type Error = serde_json::Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let key = match (self.next, self.data) {
            (0, _) => "type",
            (1, Some(_)) => "data",
            _ => return Ok(None),
        };
        seed.deserialize(de::value::BorrowedStrDeserializer::new(key))
            .map(Some)
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        self.next += 1;
        match (self.next, self.data) {
            (1, _) => seed.deserialize(de::value::BorrowedStrDeserializer::new(self.event_type)),
            (_, Some(data)) => seed.deserialize(data),
            (_, None) => Err(de::Error::custom("no value left")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "type", content = "data")]
    enum Sample {
        Created { name: String },
        Touched,
    }

    #[test]
    fn variants_round_trip_through_type_and_payload() {
        for event in [Sample::Created { name: "a".into() }, Sample::Touched] {
            let (event_type, payload) = encode(&event).ok().unwrap_or_default();
            assert!(!event_type.is_empty());
            let back: Option<Sample> = decode(&event_type, 1, &payload).ok();
            assert_eq!(back, Some(event));
        }
        let (t, p) = encode(&Sample::Created { name: "a".into() })
            .ok()
            .unwrap_or_default();
        assert_eq!((t.as_str(), p), ("Created", json!({ "name": "a" })));
        assert!(decode::<Sample>("Deleted", 1, &json!({})).is_err());
    }
}
