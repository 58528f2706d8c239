//! Events travel as `(event_type, payload)`: the variant name is the stored
//! event type, the variant's fields are the payload. Every event enum is
//! `#[serde(tag = "type", content = "data")]`, which this module splits and joins.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("event cannot be encoded: {0}")]
    Encode(String),
    #[error("event `{event_type}` cannot be decoded: {reason}")]
    Decode { event_type: String, reason: String },
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

pub fn decode<E: DeserializeOwned>(event_type: &str, payload: &Value) -> Result<E, CodecError> {
    let tagged = if payload.as_object().is_some_and(|m| m.is_empty()) {
        json!({ "type": event_type })
    } else {
        json!({ "type": event_type, "data": payload })
    };
    serde_json::from_value(tagged).map_err(|e| CodecError::Decode {
        event_type: event_type.to_owned(),
        reason: e.to_string(),
    })
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
            let back: Option<Sample> = decode(&event_type, &payload).ok();
            assert_eq!(back, Some(event));
        }
        let (t, p) = encode(&Sample::Created { name: "a".into() })
            .ok()
            .unwrap_or_default();
        assert_eq!((t.as_str(), p), ("Created", json!({ "name": "a" })));
        assert!(decode::<Sample>("Deleted", &json!({})).is_err());
    }
}
