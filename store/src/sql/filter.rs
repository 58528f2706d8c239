//! The `WHERE` clauses of `read_all`, built once for every SQL backend. Only
//! the filters that are set become clauses, so each query can use the index
//! that fits it (by tenant, stream, actor or correlation id) instead of a plan that
//! must serve every combination.

use chrono::{DateTime, Utc};
use sqlx::{Database, Encode, QueryBuilder, Type};
use uuid::Uuid;

use crate::event::EventFilter;

/// Appends ` AND …` for every set field of `filter`.
pub(crate) fn push_filter<DB>(q: &mut QueryBuilder<DB>, filter: &EventFilter)
where
    DB: Database,
    for<'t> String: Encode<'t, DB> + Type<DB>,
    for<'t> Uuid: Encode<'t, DB> + Type<DB>,
    for<'t> DateTime<Utc>: Encode<'t, DB> + Type<DB>,
{
    if let Some(tenant) = filter.tenant_id {
        q.push(" AND tenant_id = ").push_bind(tenant);
    }
    if let Some(stream) = &filter.stream_id {
        q.push(" AND stream_id = ").push_bind(stream.clone());
    }
    if !filter.event_types.is_empty() {
        q.push(" AND event_type IN (");
        let mut list = q.separated(", ");
        for t in &filter.event_types {
            list.push_bind(t.clone());
        }
        q.push(")");
    }
    if let Some(kind) = filter.actor_kind {
        q.push(" AND actor_kind = ")
            .push_bind(kind.as_str().to_owned());
    }
    if let Some(actor) = &filter.actor_id {
        q.push(" AND actor_id = ").push_bind(actor.clone());
    }
    if let Some(correlation) = filter.correlation_id {
        q.push(" AND correlation_id = ").push_bind(correlation);
    }
    // SQLite keeps timestamps as RFC 3339 text with a `+00:00` offset; such
    // strings order as the instants they name, so the comparison is exact.
    if let Some(from) = filter.occurred_from {
        q.push(" AND occurred_at >= ").push_bind(from);
    }
    if let Some(to) = filter.occurred_to {
        q.push(" AND occurred_at < ").push_bind(to);
    }
}
