//! The `WHERE` clauses of `read_all`, built once for every SQL backend and
//! driver. Only the filters that are set become clauses, so each query can
//! use the index that fits it (by tenant, stream, actor or correlation id)
//! instead of a plan that must serve every combination.

use chrono::{DateTime, Utc};
use sqlx::{Database, Encode, QueryBuilder, Type};
use uuid::Uuid;

use crate::event::EventFilter;

/// A value a clause compares with.
pub(crate) enum Param<'a> {
    Text(&'a str),
    Uuid(Uuid),
    Time(DateTime<Utc>),
    Position(i64),
}

/// One ` AND <column> <op> ` clause and the values it takes: one, or a list
/// for `IN`.
pub(crate) struct Clause<'a> {
    pub column: &'static str,
    pub op: &'static str,
    pub values: Vec<Param<'a>>,
}

/// The clauses for the set fields of `filter`.
pub(crate) fn clauses(filter: &EventFilter) -> Vec<Clause<'_>> {
    let one = |column, op, value| Clause {
        column,
        op,
        values: vec![value],
    };
    let mut clauses = Vec::new();
    if let Some(tenant) = filter.tenant_id {
        clauses.push(one("tenant_id", "=", Param::Uuid(tenant)));
    }
    if let Some(stream) = &filter.stream_id {
        clauses.push(one("stream_id", "=", Param::Text(stream)));
    }
    if !filter.event_types.is_empty() {
        clauses.push(Clause {
            column: "event_type",
            op: "IN",
            values: filter.event_types.iter().map(|t| Param::Text(t)).collect(),
        });
    }
    if let Some(kind) = filter.actor_kind {
        clauses.push(one("actor_kind", "=", Param::Text(kind.as_str())));
    }
    if let Some(actor) = &filter.actor_id {
        clauses.push(one("actor_id", "=", Param::Text(actor)));
    }
    if let Some(correlation) = filter.correlation_id {
        clauses.push(one("correlation_id", "=", Param::Uuid(correlation)));
    }
    // SQLite keeps timestamps as RFC 3339 text with a `+00:00` offset; such
    // strings order as the instants they name, so the comparison is exact.
    if let Some(from) = filter.occurred_from {
        clauses.push(one("occurred_at", ">=", Param::Time(from)));
    }
    if let Some(to) = filter.occurred_to {
        clauses.push(one("occurred_at", "<", Param::Time(to)));
    }
    if let Some(last) = filter.to_position {
        let last = i64::try_from(last).unwrap_or(i64::MAX);
        clauses.push(one("position", "<=", Param::Position(last)));
    }
    clauses
}

/// Appends ` AND …` for every set field of `filter`, for sqlx.
pub(crate) fn push_filter<DB>(q: &mut QueryBuilder<DB>, filter: &EventFilter)
where
    DB: Database,
    for<'t> String: Encode<'t, DB> + Type<DB>,
    for<'t> Uuid: Encode<'t, DB> + Type<DB>,
    for<'t> DateTime<Utc>: Encode<'t, DB> + Type<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
{
    for clause in clauses(filter) {
        q.push(format_args!(" AND {} {} (", clause.column, clause.op));
        let mut list = q.separated(", ");
        for value in clause.values {
            match value {
                Param::Text(text) => list.push_bind(text.to_owned()),
                Param::Uuid(id) => list.push_bind(id),
                Param::Time(time) => list.push_bind(time),
                Param::Position(position) => list.push_bind(position),
            };
        }
        q.push(")");
    }
}
