//! Results agents cache (keyed by cache type and target) and operators'
//! invalidations. Facts without an aggregate: every entry and every
//! invalidation is an event on its tenant's cache stream.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::DomainError;
use crate::ids::AgentId;
use crate::stream::Category;

/// Each tenant's entries and invalidations: `cache-<tenant>`.
pub const CACHE: Category = Category::new("cache");

pub const MAX_VALUE_BYTES: usize = 64 * 1024;
pub const MAX_TTL_SECONDS: u32 = 30 * 24 * 3600;

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames, strum::EnumDiscriminants,
)]
#[strum_discriminants(
    name(CacheEventType),
    derive(Hash, strum::IntoStaticStr, strum::VariantArray),
    strum(const_into_str)
)]
#[serde(tag = "type", content = "data")]
pub enum CacheEvent {
    CacheEntryStored {
        agent_id: AgentId,
        cache_type: String,
        target: String,
        value: Value,
        expires_at: Option<DateTime<Utc>>,
    },
    /// Every entry of the tenant matching the filters; `entries` is how many were live.
    CacheInvalidated {
        cache_type: Option<String>,
        target: Option<String>,
        entries: u64,
    },
}

fn key_part(what: &str, value: &str) -> Result<(), DomainError> {
    if value.is_empty() || value.len() > 200 {
        return Err(DomainError::invalid(format!(
            "{what} must be 1 to 200 characters"
        )));
    }
    Ok(())
}

pub fn store_entry(
    agent_id: AgentId,
    cache_type: String,
    target: String,
    value: Value,
    ttl_seconds: Option<u32>,
    at: DateTime<Utc>,
) -> Result<CacheEvent, DomainError> {
    key_part("cache_type", &cache_type)?;
    key_part("target", &target)?;
    if value.to_string().len() > MAX_VALUE_BYTES {
        return Err(DomainError::invalid(format!(
            "value exceeds {MAX_VALUE_BYTES} bytes"
        )));
    }
    if ttl_seconds.is_some_and(|t| t == 0 || t > MAX_TTL_SECONDS) {
        return Err(DomainError::invalid(format!(
            "ttl_seconds must be 1 to {MAX_TTL_SECONDS}"
        )));
    }
    let expires_at = ttl_seconds.map(|t| at + Duration::seconds(i64::from(t)));
    Ok(CacheEvent::CacheEntryStored {
        agent_id,
        cache_type,
        target,
        value,
        expires_at,
    })
}

pub fn invalidate(
    cache_type: Option<String>,
    target: Option<String>,
    entries: u64,
) -> Result<CacheEvent, DomainError> {
    if target.is_some() && cache_type.is_none() {
        return Err(DomainError::invalid("a target needs its cache_type"));
    }
    for (what, part) in [("cache_type", &cache_type), ("target", &target)] {
        if let Some(part) = part {
            key_part(what, part)?;
        }
    }
    Ok(CacheEvent::CacheInvalidated {
        cache_type,
        target,
        entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entries_and_invalidations_are_validated() {
        let at = Utc::now();
        let stored = store_entry(
            AgentId::new(),
            "summary".into(),
            "member-1".into(),
            json!({ "s": 1 }),
            Some(60),
            at,
        );
        assert!(
            matches!(stored, Ok(CacheEvent::CacheEntryStored { expires_at: Some(e), .. }) if e == at + Duration::seconds(60))
        );
        assert!(
            store_entry(
                AgentId::new(),
                String::new(),
                "t".into(),
                json!(1),
                None,
                at
            )
            .is_err()
        );
        assert!(
            store_entry(
                AgentId::new(),
                "c".into(),
                "t".into(),
                json!(1),
                Some(0),
                at
            )
            .is_err()
        );
        assert!(invalidate(None, Some("t".into()), 0).is_err());
        assert!(invalidate(Some("c".into()), None, 3).is_ok());
        assert!(invalidate(None, None, 3).is_ok());
    }
}
