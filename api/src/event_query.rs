//! The log filters an audit read or an export asks for, checked in one place.

use agentledger_domain::ActorKind;
use agentledger_domain::ids::TenantId;
use agentledger_store::EventFilter;
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use uuid::Uuid;

use crate::extract::comma_list;
use crate::problem::Problem;

/// Event types one filter may name.
pub const MAX_TYPES: usize = 100;

pub struct EventQuery<'a> {
    pub tenant_id: Option<Uuid>,
    /// Comma-separated.
    pub types: Option<&'a str>,
    pub actor_kind: Option<ActorKind>,
    pub actor_id: Option<&'a str>,
    pub correlation_id: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl EventQuery<'_> {
    /// The filter, within `scope` (the only tenant the caller may read;
    /// `None`: any). Asking for another tenant is "not found".
    pub fn filter(&self, scope: Option<TenantId>) -> Result<EventFilter, Problem> {
        if let (Some(scope), Some(asked)) = (scope, self.tenant_id)
            && scope.0 != asked
        {
            return Err(Problem::not_found("tenant not found"));
        }
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from >= to
        {
            return Err(Problem::unprocessable("`from` must be before `to`"));
        }
        let event_types = comma_list(self.types);
        if event_types.len() > MAX_TYPES {
            return Err(Problem::unprocessable(format!(
                "at most {MAX_TYPES} event types at once"
            )));
        }
        Ok(EventFilter {
            event_types,
            tenant_id: scope.map(|t| t.0).or(self.tenant_id),
            actor_kind: self.actor_kind,
            actor_id: self.actor_id.map(str::to_owned),
            correlation_id: self.correlation_id,
            occurred_from: self.from.map(stored_bound),
            occurred_to: self.to.map(stored_bound),
        })
    }
}

/// Stored times have microseconds; an instant between two of them bounds
/// the same events as the next one, on every backend alike.
fn stored_bound(t: DateTime<Utc>) -> DateTime<Utc> {
    let truncated = t.trunc_subsecs(6);
    if truncated == t {
        t
    } else {
        truncated + TimeDelta::microseconds(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_between_microseconds_move_to_the_next_one() {
        let on: DateTime<Utc> = "2026-01-01T00:00:00.000001Z".parse().unwrap_or_default();
        let between: DateTime<Utc> = "2026-01-01T00:00:00.0000005Z".parse().unwrap_or_default();
        assert_eq!(stored_bound(on), on);
        assert_eq!(stored_bound(between), on);
    }
}
