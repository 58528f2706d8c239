//! The log filters an audit read or an export asks for, checked in one place.

use agentledger_domain::ActorKind;
use agentledger_domain::ids::TenantId;
use agentledger_store::EventFilter;
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use uuid::Uuid;

use crate::error::AppError;

/// Event types one filter may name.
pub const MAX_TYPES: usize = 100;

/// Which events of the log, as asked for.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventQuery<'a> {
    pub tenant_id: Option<Uuid>,
    /// Comma-separated.
    pub types: Option<&'a str>,
    pub actor_kind: Option<ActorKind>,
    pub actor_id: Option<&'a str>,
    pub correlation_id: Option<Uuid>,
    /// Occurred at or after.
    pub from: Option<DateTime<Utc>>,
    /// Occurred before.
    pub to: Option<DateTime<Utc>>,
}

impl EventQuery<'_> {
    /// The filter, within `scope` (the only tenant the caller may read;
    /// `None`: any). Asking for another tenant is "not found".
    pub(crate) fn filter(&self, scope: Option<TenantId>) -> Result<EventFilter, AppError> {
        if let (Some(scope), Some(asked)) = (scope, self.tenant_id)
            && scope.0 != asked
        {
            return Err(AppError::NotFound("tenant not found".into()));
        }
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from >= to
        {
            return Err(AppError::Unprocessable("`from` must be before `to`".into()));
        }
        crate::queries::check_text_filters(&[("actor_id", self.actor_id)])?;
        let event_types = comma_list(self.types);
        if event_types.len() > MAX_TYPES {
            return Err(AppError::Unprocessable(format!(
                "at most {MAX_TYPES} event types at once"
            )));
        }
        Ok(EventFilter {
            event_types,
            tenant_id: scope.map(|t| t.0).or(self.tenant_id),
            stream_id: None,
            actor_kind: self.actor_kind,
            actor_id: self.actor_id.map(str::to_owned),
            correlation_id: self.correlation_id,
            occurred_from: self.from.map(stored_bound),
            occurred_to: self.to.map(stored_bound),
            to_position: None,
        })
    }
}

/// `"a, b,,c"` as `["a", "b", "c"]`: how a list is given in one parameter
/// or flag.
pub fn comma_list(value: Option<&str>) -> Vec<String> {
    value
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
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

    #[test]
    fn comma_lists_drop_blanks_and_spaces() {
        assert_eq!(comma_list(Some("a, b,,c ")), ["a", "b", "c"]);
        assert!(comma_list(None).is_empty() && comma_list(Some(",")).is_empty());
    }

    #[test]
    fn an_auditor_cannot_ask_for_another_tenant() {
        let mine = TenantId::new();
        let theirs = EventQuery {
            tenant_id: Some(Uuid::now_v7()),
            ..EventQuery::default()
        };
        assert!(matches!(
            theirs.filter(Some(mine)),
            Err(AppError::NotFound(_))
        ));
        let any = EventQuery::default().filter(Some(mine));
        assert_eq!(any.ok().and_then(|f| f.tenant_id), Some(mine.0));
    }
}
