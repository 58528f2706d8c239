//! Token and cost budgets per tenant, and batch runs estimated against them.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::aggregate::Aggregate;
use crate::error::DomainError;
use crate::ids::{TaskId, TenantId};

/// Shares of a budget at which an alert is raised.
pub const THRESHOLDS_PERCENT: [u8; 2] = [80, 100];
/// How long a batch estimate can be confirmed.
pub const BATCH_VALIDITY_MINUTES: i64 = 10;
pub const MAX_BATCH_PAIRS: usize = 10_000;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub daily_tokens: Option<u64>,
    pub monthly_tokens: Option<u64>,
    pub daily_cost_micros: Option<i64>,
    pub monthly_cost_micros: Option<i64>,
}

/// A change of some of a budget's limits: a field left `None` keeps its
/// limit, `Some(None)` removes it, `Some(Some(n))` sets it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitChanges {
    pub daily_tokens: Option<Option<u64>>,
    pub monthly_tokens: Option<Option<u64>>,
    pub daily_cost_micros: Option<Option<i64>>,
    pub monthly_cost_micros: Option<Option<i64>>,
}

impl Limits {
    /// These limits with `changes` made.
    pub fn changed(self, changes: LimitChanges) -> Limits {
        Limits {
            daily_tokens: changes.daily_tokens.unwrap_or(self.daily_tokens),
            monthly_tokens: changes.monthly_tokens.unwrap_or(self.monthly_tokens),
            daily_cost_micros: changes.daily_cost_micros.unwrap_or(self.daily_cost_micros),
            monthly_cost_micros: changes
                .monthly_cost_micros
                .unwrap_or(self.monthly_cost_micros),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Budget {
    pub limits: Limits,
}

#[derive(Debug, Clone, Copy)]
pub enum BudgetCommand {
    /// Replaces every limit: one left out is no limit.
    Set(Limits),
    /// Changes the limits named and keeps the others, decided on the budget
    /// as it stands (two changes at once both count).
    Change(LimitChanges),
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames, strum::EnumDiscriminants,
)]
#[strum_discriminants(
    name(BudgetEventType),
    derive(Hash, strum::IntoStaticStr, strum::VariantArray),
    strum(const_into_str)
)]
#[serde(tag = "type", content = "data")]
pub enum BudgetEvent {
    BudgetSet(Limits),
}

impl Aggregate for Budget {
    type Command = BudgetCommand;
    type Event = BudgetEvent;
    type Id = crate::ids::TenantId;
    const STREAM_PREFIX: &'static str = "budget";
    const ENTITY: &'static str = "budget";

    fn decide(state: &Self, command: BudgetCommand) -> Result<Vec<BudgetEvent>, DomainError> {
        let limits = match command {
            BudgetCommand::Set(limits) => limits,
            BudgetCommand::Change(changes) => state.limits.changed(changes),
        };
        let zero_tokens = [limits.daily_tokens, limits.monthly_tokens].contains(&Some(0));
        let bad_cost = [limits.daily_cost_micros, limits.monthly_cost_micros]
            .iter()
            .flatten()
            .any(|c| *c <= 0);
        if zero_tokens || bad_cost {
            return Err(DomainError::invalid(
                "limits must be positive (leave one out for no limit)",
            ));
        }
        Ok(if state.limits == limits {
            vec![]
        } else {
            vec![BudgetEvent::BudgetSet(limits)]
        })
    }

    fn evolve(mut state: Self, event: &BudgetEvent) -> Self {
        let BudgetEvent::BudgetSet(limits) = event;
        state.limits = *limits;
        state
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    #[default]
    Estimated,
    Confirmed,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Batch {
    pub exists: bool,
    pub tenant_id: TenantId,
    pub status: BatchStatus,
    pub expires_at: Option<DateTime<Utc>>,
    pub app_types: Vec<String>,
    pub member_ids: Vec<String>,
    pub task_ids: Vec<TaskId>,
}

#[derive(Debug, Clone)]
pub enum BatchCommand {
    Estimate {
        tenant_id: TenantId,
        app_types: Vec<String>,
        member_ids: Vec<String>,
        avg_tokens_per_call: u64,
        at: DateTime<Utc>,
    },
    Confirm {
        task_ids: Vec<TaskId>,
        at: DateTime<Utc>,
    },
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames, strum::EnumDiscriminants,
)]
#[strum_discriminants(
    name(BatchEventType),
    derive(Hash, strum::IntoStaticStr, strum::VariantArray),
    strum(const_into_str)
)]
#[serde(tag = "type", content = "data")]
pub enum BatchEvent {
    BatchEstimated {
        tenant_id: TenantId,
        app_types: Vec<String>,
        member_ids: Vec<String>,
        avg_tokens_per_call: u64,
        estimated_calls: u64,
        estimated_tokens: u64,
        expires_at: DateTime<Utc>,
    },
    BatchConfirmed {
        task_ids: Vec<TaskId>,
    },
}

impl Batch {
    /// One (app type, member) pair per task to create, in a stable order.
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.app_types
            .iter()
            .flat_map(|a| self.member_ids.iter().map(move |m| (a.clone(), m.clone())))
            .collect()
    }
}

impl Aggregate for Batch {
    type Command = BatchCommand;
    type Event = BatchEvent;
    type Id = uuid::Uuid;
    const STREAM_PREFIX: &'static str = "batch";
    const ENTITY: &'static str = "batch";

    fn owner(&self) -> Option<crate::ids::TenantId> {
        self.exists.then_some(self.tenant_id)
    }

    fn decide(state: &Self, command: BatchCommand) -> Result<Vec<BatchEvent>, DomainError> {
        match command {
            BatchCommand::Estimate {
                tenant_id,
                app_types,
                member_ids,
                avg_tokens_per_call,
                at,
            } => {
                if state.exists {
                    return Err(DomainError::AlreadyExists("batch"));
                }
                let names_ok = |v: &[String]| {
                    !v.is_empty() && v.iter().all(|s| !s.trim().is_empty() && s.len() <= 100)
                };
                if !names_ok(&app_types) || !names_ok(&member_ids) {
                    return Err(DomainError::invalid(
                        "app_types and member_ids need 1 or more names of 1 to 100 characters",
                    ));
                }
                let calls = (app_types.len() * member_ids.len()) as u64;
                if calls as usize > MAX_BATCH_PAIRS {
                    return Err(DomainError::invalid(format!(
                        "a batch makes at most {MAX_BATCH_PAIRS} calls"
                    )));
                }
                Ok(vec![BatchEvent::BatchEstimated {
                    tenant_id,
                    app_types,
                    member_ids,
                    avg_tokens_per_call,
                    estimated_calls: calls,
                    estimated_tokens: calls.saturating_mul(avg_tokens_per_call),
                    expires_at: at + Duration::minutes(BATCH_VALIDITY_MINUTES),
                }])
            }
            BatchCommand::Confirm { task_ids, at } => {
                if !state.exists {
                    return Err(DomainError::NotFound("batch"));
                }
                if state.status == BatchStatus::Confirmed {
                    return Err(DomainError::InvalidTransition {
                        entity: "batch",
                        action: "confirm",
                        state: "confirmed".into(),
                    });
                }
                if state.expires_at.is_none_or(|e| e <= at) {
                    return Err(DomainError::Expired("batch estimate"));
                }
                Ok(vec![BatchEvent::BatchConfirmed { task_ids }])
            }
        }
    }

    fn evolve(mut state: Self, event: &BatchEvent) -> Self {
        match event {
            BatchEvent::BatchEstimated {
                tenant_id,
                app_types,
                member_ids,
                expires_at,
                ..
            } => {
                state.exists = true;
                state.tenant_id = *tenant_id;
                state.app_types = app_types.clone();
                state.member_ids = member_ids.clone();
                state.expires_at = Some(*expires_at);
            }
            BatchEvent::BatchConfirmed { task_ids } => {
                state.status = BatchStatus::Confirmed;
                state.task_ids = task_ids.clone();
            }
        }
        state
    }
}

/// The id of the alert for `tenant` crossing `percent` of a budget in `period`
/// (`2026-11-23` or `2026-11`): one alert per threshold and period, however
/// often the runs behind it are replayed.
pub fn budget_alert_subject(tenant: TenantId, measure: &str, period: &str, percent: u8) -> String {
    format!("budget:{tenant}:{measure}:{period}:{percent}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::given;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + minutes * 60, 0).unwrap_or_default()
    }

    fn estimated() -> Batch {
        let estimate = BatchCommand::Estimate {
            tenant_id: TenantId::new(),
            app_types: vec!["summary".into(), "tagging".into()],
            member_ids: vec!["m1".into(), "m2".into(), "m3".into()],
            avg_tokens_per_call: 1500,
            at: at(0),
        };
        let events = Batch::decide(&Batch::default(), estimate).unwrap_or_default();
        assert!(matches!(
            events[..],
            [BatchEvent::BatchEstimated {
                estimated_calls: 6,
                estimated_tokens: 9000,
                ..
            }]
        ));
        Batch::fold(&events)
    }

    #[test]
    fn a_batch_is_confirmed_once_within_its_validity() {
        let batch = estimated();
        assert_eq!(batch.pairs().len(), 6);
        let confirm = |minutes| BatchCommand::Confirm {
            task_ids: vec![TaskId::new()],
            at: at(minutes),
        };
        assert_eq!(
            Batch::decide(&batch, confirm(10)),
            Err(DomainError::Expired("batch estimate"))
        );
        let events = Batch::decide(&batch, confirm(9)).unwrap_or_default();
        let confirmed = events.iter().fold(batch, Batch::evolve);
        assert!(matches!(
            Batch::decide(&confirmed, confirm(9)),
            Err(DomainError::InvalidTransition { .. })
        ));
        assert_eq!(
            Batch::decide(&Batch::default(), confirm(0)),
            Err(DomainError::NotFound("batch"))
        );
    }

    #[test]
    fn estimates_and_budgets_are_validated() {
        let empty = BatchCommand::Estimate {
            tenant_id: TenantId::new(),
            app_types: vec![],
            member_ids: vec!["m".into()],
            avg_tokens_per_call: 1,
            at: at(0),
        };
        assert!(matches!(
            Batch::decide(&Batch::default(), empty),
            Err(DomainError::Invalid(_))
        ));
        let zero = Limits {
            daily_tokens: Some(0),
            ..Limits::default()
        };
        assert!(matches!(
            Budget::decide(&Budget::default(), BudgetCommand::Set(zero)),
            Err(DomainError::Invalid(_))
        ));
        let limits = Limits {
            daily_tokens: Some(1000),
            monthly_cost_micros: Some(5_000_000),
            ..Limits::default()
        };
        let set = BudgetCommand::Set(limits);
        let state = Budget::fold(&Budget::decide(&Budget::default(), set).unwrap_or_default());
        assert_eq!(state.limits, limits);
        assert_eq!(
            Budget::decide(&state, set),
            Ok(vec![]),
            "setting the same limits appends nothing"
        );
    }

    #[test]
    fn a_change_keeps_the_limits_it_does_not_name_and_a_set_replaces_them_all() {
        let limits = Limits {
            daily_tokens: Some(1000),
            monthly_tokens: Some(20_000),
            daily_cost_micros: Some(1_000_000),
            monthly_cost_micros: Some(5_000_000),
        };
        let raise_daily = LimitChanges {
            daily_tokens: Some(Some(2000)),
            monthly_cost_micros: Some(None),
            ..LimitChanges::default()
        };
        given::<Budget>([BudgetEvent::BudgetSet(limits)])
            .when(BudgetCommand::Change(raise_daily))
            .then([BudgetEvent::BudgetSet(Limits {
                daily_tokens: Some(2000),
                monthly_cost_micros: None,
                ..limits
            })]);
        given::<Budget>([BudgetEvent::BudgetSet(limits)])
            .when(BudgetCommand::Change(LimitChanges::default()))
            .then_nothing_happens();
        let only_daily = Limits {
            daily_tokens: Some(2000),
            ..Limits::default()
        };
        given::<Budget>([BudgetEvent::BudgetSet(limits)])
            .when(BudgetCommand::Set(only_daily))
            .then([BudgetEvent::BudgetSet(only_daily)]);
        given::<Budget>([BudgetEvent::BudgetSet(limits)])
            .when(BudgetCommand::Change(LimitChanges {
                monthly_tokens: Some(Some(0)),
                ..LimitChanges::default()
            }))
            .then_refused(|e| matches!(e, DomainError::Invalid(_)));
    }
}
