//! Token and cost budgets, of the tenant, of one agent or of one model, and
//! batch runs estimated against them.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::aggregate::Aggregate;
use crate::error::DomainError;
use crate::ids::{AgentId, TaskId, TenantId};

/// Shares of a budget at which an alert is raised when none are chosen;
/// reaching the limit itself always alerts.
pub const DEFAULT_THRESHOLDS_PERCENT: [u8; 3] = [50, 80, 95];
/// The warnings of a budget set before they could be chosen (`BudgetSet`).
pub const FIRST_THRESHOLDS_PERCENT: [u8; 1] = [80];
/// Warning thresholds a budget may have.
pub const MAX_THRESHOLDS: usize = 5;
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

    pub fn is_empty(&self) -> bool {
        *self == Limits::default()
    }

    /// Each limit with the period and measure it caps, as whole numbers
    /// (tokens, or micro-dollars).
    pub fn each(&self) -> [(Period, Measure, Option<i128>); 4] {
        [
            (
                Period::Day,
                Measure::Tokens,
                self.daily_tokens.map(i128::from),
            ),
            (
                Period::Month,
                Measure::Tokens,
                self.monthly_tokens.map(i128::from),
            ),
            (
                Period::Day,
                Measure::Cost,
                self.daily_cost_micros.map(i128::from),
            ),
            (
                Period::Month,
                Measure::Cost,
                self.monthly_cost_micros.map(i128::from),
            ),
        ]
    }
}

/// The calendar period a limit counts over, in the tenant's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Period {
    Day,
    Month,
}

impl Period {
    /// As the API and alert titles name it.
    pub fn adjective(self) -> &'static str {
        match self {
            Period::Day => "daily",
            Period::Month => "monthly",
        }
    }
}

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Measure {
    Tokens,
    Cost,
}

impl Measure {
    pub fn as_str(self) -> &'static str {
        match self {
            Measure::Tokens => "tokens",
            Measure::Cost => "cost",
        }
    }
}

/// Whose use a budget caps: the whole tenant's, one agent's, or every run
/// of one model.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BudgetScope {
    Tenant,
    Agent { agent_id: AgentId },
    Model { model: String },
}

impl BudgetScope {
    /// The key a read model files the budget under: `tenant`,
    /// `agent:<id>` or `model:<name>`.
    pub fn key(&self) -> String {
        match self {
            BudgetScope::Tenant => "tenant".into(),
            BudgetScope::Agent { agent_id } => format!("agent:{agent_id}"),
            BudgetScope::Model { model } => format!("model:{model}"),
        }
    }

    /// One limit of this budget in a sentence, as alerts and refusals name
    /// it: "the tenant's daily tokens budget", "agent <id>'s monthly cost
    /// budget".
    pub fn limit_name(&self, period: Period, measure: Measure) -> String {
        format!(
            "{} {} {} budget",
            self.owner(),
            period.adjective(),
            measure.as_str()
        )
    }

    /// Whose budget it is, in a sentence: "the tenant's", "agent <id>'s".
    fn owner(&self) -> String {
        match self {
            BudgetScope::Tenant => "the tenant's".into(),
            BudgetScope::Agent { agent_id } => format!("agent {agent_id}'s"),
            BudgetScope::Model { model } => format!("model {model}'s"),
        }
    }
}

/// A budget: its limits, the shares of them that warn, and whether
/// reaching one stops the agents it covers until the period rolls over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub limits: Limits,
    pub thresholds_percent: Vec<u8>,
    pub hard_stop: bool,
}

impl Rule {
    /// Limits with the default thresholds and no stop.
    pub fn warning(limits: Limits) -> Rule {
        Rule {
            limits,
            thresholds_percent: DEFAULT_THRESHOLDS_PERCENT.to_vec(),
            hard_stop: false,
        }
    }

    /// Thresholds sorted, each once: the same warnings however they were
    /// written.
    fn normalized(mut self) -> Rule {
        self.thresholds_percent.sort_unstable();
        self.thresholds_percent.dedup();
        self
    }

    fn check(&self) -> Result<(), DomainError> {
        let limits = self.limits;
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
        if self.thresholds_percent.len() > MAX_THRESHOLDS
            || self
                .thresholds_percent
                .iter()
                .any(|p| !(1..=99).contains(p))
        {
            return Err(DomainError::invalid(format!(
                "thresholds_percent holds at most {MAX_THRESHOLDS} shares of 1 to 99 (reaching the limit always alerts)"
            )));
        }
        Ok(())
    }
}

/// A change of some of a budget's settings; `None` keeps one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleChanges {
    pub limits: LimitChanges,
    pub thresholds_percent: Option<Vec<u8>>,
    pub hard_stop: Option<bool>,
}

/// Every budget of a tenant, one stream: changes to any of them are
/// decided in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Budget {
    pub rules: BTreeMap<BudgetScope, Rule>,
}

impl Budget {
    /// The tenant-wide limits (none when it has no budget).
    pub fn tenant_limits(&self) -> Limits {
        self.rules
            .get(&BudgetScope::Tenant)
            .map(|r| r.limits)
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
pub enum BudgetCommand {
    /// Replaces a budget wholly: a limit left out is no limit.
    Set {
        scope: BudgetScope,
        rule: Rule,
    },
    /// Changes the settings named and keeps the others, decided on the
    /// budget as it stands (two changes at once both count). A budget not
    /// set yet starts from no limits and the default thresholds.
    Change {
        scope: BudgetScope,
        changes: RuleChanges,
    },
    Remove {
        scope: BudgetScope,
    },
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
    /// The tenant's limits, as they were set before budgets had scopes,
    /// thresholds and stops: warning at [`FIRST_THRESHOLDS_PERCENT`], never
    /// stopping. No longer appended; stored ones keep that meaning.
    BudgetSet(Limits),
    BudgetRuleSet {
        scope: BudgetScope,
        limits: Limits,
        thresholds_percent: Vec<u8>,
        hard_stop: bool,
    },
    BudgetRuleRemoved {
        scope: BudgetScope,
    },
}

impl BudgetEvent {
    /// The budget this event sets, or `None` when it removes it.
    pub fn rule(&self) -> (BudgetScope, Option<Rule>) {
        match self {
            BudgetEvent::BudgetSet(limits) => (
                BudgetScope::Tenant,
                (!limits.is_empty()).then(|| Rule {
                    limits: *limits,
                    thresholds_percent: FIRST_THRESHOLDS_PERCENT.to_vec(),
                    hard_stop: false,
                }),
            ),
            BudgetEvent::BudgetRuleSet {
                scope,
                limits,
                thresholds_percent,
                hard_stop,
            } => (
                scope.clone(),
                Some(Rule {
                    limits: *limits,
                    thresholds_percent: thresholds_percent.clone(),
                    hard_stop: *hard_stop,
                }),
            ),
            BudgetEvent::BudgetRuleRemoved { scope } => (scope.clone(), None),
        }
    }
}

impl Aggregate for Budget {
    type Command = BudgetCommand;
    type Event = BudgetEvent;
    type Id = crate::ids::TenantId;
    const STREAM_PREFIX: &'static str = "budget";
    const ENTITY: &'static str = "budget";

    fn decide(state: &Self, command: BudgetCommand) -> Result<Vec<BudgetEvent>, DomainError> {
        let (scope, rule) = match command {
            BudgetCommand::Set { scope, rule } => (scope, rule),
            BudgetCommand::Change { scope, changes } => {
                let now = state
                    .rules
                    .get(&scope)
                    .cloned()
                    .unwrap_or_else(|| Rule::warning(Limits::default()));
                let rule = Rule {
                    limits: now.limits.changed(changes.limits),
                    thresholds_percent: changes
                        .thresholds_percent
                        .unwrap_or(now.thresholds_percent),
                    hard_stop: changes.hard_stop.unwrap_or(now.hard_stop),
                };
                (scope, rule)
            }
            // Removing what is not there leaves it so: a DELETE repeated
            // answers as the first did.
            BudgetCommand::Remove { scope } => {
                return Ok(if state.rules.contains_key(&scope) {
                    vec![BudgetEvent::BudgetRuleRemoved { scope }]
                } else {
                    vec![]
                });
            }
        };
        if let BudgetScope::Model { model } = &scope {
            DomainError::check_label("model", model)?;
        }
        let rule = rule.normalized();
        rule.check()?;
        // No limit left is no budget: the tenant's may be emptied (as it
        // always could), an agent's or model's is removed instead.
        if rule.limits.is_empty() && scope != BudgetScope::Tenant {
            return Err(DomainError::invalid(
                "a budget needs a limit (DELETE removes it)",
            ));
        }
        Ok(if state.rules.get(&scope) == Some(&rule) {
            vec![]
        } else {
            vec![BudgetEvent::BudgetRuleSet {
                scope,
                limits: rule.limits,
                thresholds_percent: rule.thresholds_percent,
                hard_stop: rule.hard_stop,
            }]
        })
    }

    fn evolve(mut state: Self, event: &BudgetEvent) -> Self {
        match event.rule() {
            (scope, Some(rule)) => state.rules.insert(scope, rule),
            (scope, None) => state.rules.remove(&scope),
        };
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

/// The id of the alert for a budget of `tenant` crossing `percent` of a
/// limit in `period` (`2026-11-23` or `2026-11`): one alert per budget,
/// threshold and period, however often the runs behind it are replayed.
/// The tenant's own budget keeps the subject it always had.
pub fn budget_alert_subject(
    tenant: TenantId,
    scope: &BudgetScope,
    measure: &str,
    period: &str,
    percent: u8,
) -> String {
    match scope {
        BudgetScope::Tenant => format!("budget:{tenant}:{measure}:{period}:{percent}"),
        other => format!(
            "budget:{tenant}:{}:{measure}:{period}:{percent}",
            other.key()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{given, given_no_events};

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
        given_no_events::<Budget>()
            .when(set(BudgetScope::Tenant, Rule::warning(zero)))
            .then_refused(|e| matches!(e, DomainError::Invalid(_)));
        let limits = Limits {
            daily_tokens: Some(1000),
            monthly_cost_micros: Some(5_000_000),
            ..Limits::default()
        };
        given::<Budget>([rule_set(BudgetScope::Tenant, Rule::warning(limits))])
            .when(set(BudgetScope::Tenant, Rule::warning(limits)))
            .then_nothing_happens();
    }

    fn set(scope: BudgetScope, rule: Rule) -> BudgetCommand {
        BudgetCommand::Set { scope, rule }
    }

    fn rule_set(scope: BudgetScope, rule: Rule) -> BudgetEvent {
        BudgetEvent::BudgetRuleSet {
            scope,
            limits: rule.limits,
            thresholds_percent: rule.thresholds_percent,
            hard_stop: rule.hard_stop,
        }
    }

    fn change(limits: LimitChanges) -> BudgetCommand {
        BudgetCommand::Change {
            scope: BudgetScope::Tenant,
            changes: RuleChanges {
                limits,
                ..RuleChanges::default()
            },
        }
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
        // A tenant budget set before thresholds existed warns at 80%.
        let first = Rule {
            limits,
            thresholds_percent: FIRST_THRESHOLDS_PERCENT.to_vec(),
            hard_stop: false,
        };
        given::<Budget>([BudgetEvent::BudgetSet(limits)])
            .when(change(raise_daily))
            .then([rule_set(
                BudgetScope::Tenant,
                Rule {
                    limits: Limits {
                        daily_tokens: Some(2000),
                        monthly_cost_micros: None,
                        ..limits
                    },
                    ..first.clone()
                },
            )]);
        given::<Budget>([BudgetEvent::BudgetSet(limits)])
            .when(change(LimitChanges::default()))
            .then_nothing_happens();
        let only_daily = Limits {
            daily_tokens: Some(2000),
            ..Limits::default()
        };
        given::<Budget>([BudgetEvent::BudgetSet(limits)])
            .when(set(BudgetScope::Tenant, Rule::warning(only_daily)))
            .then([rule_set(BudgetScope::Tenant, Rule::warning(only_daily))]);
        given::<Budget>([BudgetEvent::BudgetSet(limits)])
            .when(change(LimitChanges {
                monthly_tokens: Some(Some(0)),
                ..LimitChanges::default()
            }))
            .then_refused(|e| matches!(e, DomainError::Invalid(_)));
    }

    #[test]
    fn agents_and_models_have_budgets_of_their_own_beside_the_tenants() {
        let agent = BudgetScope::Agent {
            agent_id: AgentId::new(),
        };
        let model = BudgetScope::Model {
            model: "model-large".into(),
        };
        let daily = Limits {
            daily_tokens: Some(1000),
            ..Limits::default()
        };
        let stopping = Rule {
            limits: daily,
            thresholds_percent: vec![95, 50, 80, 50],
            hard_stop: true,
        };
        // Thresholds are kept sorted and once each.
        given::<Budget>([rule_set(BudgetScope::Tenant, Rule::warning(daily))])
            .when(set(agent.clone(), stopping.clone()))
            .then([rule_set(
                agent.clone(),
                Rule {
                    thresholds_percent: vec![50, 80, 95],
                    ..stopping.clone()
                },
            )]);
        // A change of one budget's stop keeps its limits and thresholds.
        given::<Budget>([rule_set(model.clone(), Rule::warning(daily))])
            .when(BudgetCommand::Change {
                scope: model.clone(),
                changes: RuleChanges {
                    hard_stop: Some(true),
                    ..RuleChanges::default()
                },
            })
            .then([rule_set(
                model.clone(),
                Rule {
                    hard_stop: true,
                    ..Rule::warning(daily)
                },
            )]);
        given::<Budget>([rule_set(model.clone(), Rule::warning(daily))])
            .when(BudgetCommand::Remove {
                scope: model.clone(),
            })
            .then([BudgetEvent::BudgetRuleRemoved {
                scope: model.clone(),
            }]);
    }

    #[test]
    fn a_budget_needs_a_limit_sensible_thresholds_and_a_model_name_and_goes_once() {
        let agent = BudgetScope::Agent {
            agent_id: AgentId::new(),
        };
        let refused = |e: &DomainError| matches!(e, DomainError::Invalid(_));
        given_no_events::<Budget>()
            .when(set(agent.clone(), Rule::warning(Limits::default())))
            .then_refused(refused);
        let daily = Limits {
            daily_tokens: Some(1000),
            ..Limits::default()
        };
        for thresholds in [vec![0], vec![100], vec![10, 20, 30, 40, 50, 60]] {
            given_no_events::<Budget>()
                .when(set(
                    agent.clone(),
                    Rule {
                        thresholds_percent: thresholds,
                        ..Rule::warning(daily)
                    },
                ))
                .then_refused(refused);
        }
        for model in ["", "model\u{0}x", &"m".repeat(101)] {
            given_no_events::<Budget>()
                .when(set(
                    BudgetScope::Model {
                        model: model.into(),
                    },
                    Rule::warning(daily),
                ))
                .then_refused(refused);
        }
        given_no_events::<Budget>()
            .when(BudgetCommand::Remove { scope: agent })
            .then_nothing_happens();
    }
}
