//! The live cache entries of every tenant, for agents' reads and for counting
//! what an invalidation affects.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use agentledger_domain::cache::{CACHE, CacheEvent};
use agentledger_domain::codec::{CodecError, decode_if};
use agentledger_domain::ids::TenantId;
use agentledger_store::RecordedEvent;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::follower::Apply;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CacheEntry {
    pub cache_type: String,
    pub target: String,
    pub value: Value,
    pub stored_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

type Key = (TenantId, String, String);

#[derive(Default)]
pub struct CacheIndex {
    entries: RwLock<HashMap<Key, CacheEntry>>,
}

impl CacheIndex {
    pub fn get(
        &self,
        tenant: TenantId,
        cache_type: &str,
        target: &str,
        now: DateTime<Utc>,
    ) -> Option<CacheEntry> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.get(&(tenant, cache_type.to_owned(), target.to_owned()))?;
        entry
            .expires_at
            .is_none_or(|e| e > now)
            .then(|| entry.clone())
    }

    /// How many live entries an invalidation with these filters affects.
    pub fn count(
        &self,
        tenant: TenantId,
        cache_type: Option<&str>,
        target: Option<&str>,
        now: DateTime<Utc>,
    ) -> u64 {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        entries
            .iter()
            .filter(|((t, ty, ta), e)| {
                *t == tenant
                    && cache_type.is_none_or(|c| c == ty)
                    && target.is_none_or(|x| x == ta)
                    && e.expires_at.is_none_or(|x| x > now)
            })
            .count() as u64
    }
}

impl Apply for CacheIndex {
    fn apply(&self, event: &RecordedEvent) -> Result<(), CodecError> {
        if !CACHE.holds(&event.stream_id) {
            return Ok(());
        }
        let Some(cache_event) =
            decode_if::<CacheEvent>(&event.event_type, event.schema_version, &event.payload)?
        else {
            return Ok(());
        };
        let tenant = TenantId(event.tenant_id);
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        match cache_event {
            CacheEvent::CacheEntryStored {
                cache_type,
                target,
                value,
                expires_at,
                ..
            } => {
                let entry = CacheEntry {
                    cache_type: cache_type.clone(),
                    target: target.clone(),
                    value,
                    stored_at: event.occurred_at,
                    expires_at,
                };
                entries.insert((tenant, cache_type, target), entry);
            }
            CacheEvent::CacheInvalidated {
                cache_type, target, ..
            } => {
                entries.retain(|(t, ty, ta), _| {
                    !(*t == tenant
                        && cache_type.as_ref().is_none_or(|c| c == ty)
                        && target.as_ref().is_none_or(|x| x == ta))
                });
            }
        }
        Ok(())
    }
}
