//! When to raise an alert. Pure: fed every event of the log in order, it keeps
//! the usage it needs for budget thresholds and says which alerts the event
//! causes. Each alert names a subject from which its id is derived, so running
//! the policy over the same events again raises nothing new.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::agent::{Agent, AgentEvent, AgentEventType};
use crate::aggregate::Aggregate;
use crate::alert::{AlertSource, RaisedAlert, Severity};
use crate::budget::{
    Budget, BudgetEvent, BudgetEventType, BudgetScope, FIRST_THRESHOLDS_PERCENT, Limits, Measure,
    Period, Rule, budget_alert_subject,
};
use crate::calendar;
use crate::codec::{CodecError, decode_if};
use crate::event::Event;
use crate::ids::TenantId;
use crate::reports::{RUNS, ReportEvent, ReportEventType};
use crate::task::{Task, TaskEvent, TaskEventType};
use crate::tenant::{Tenant, TenantEvent, TenantEventType};
use crate::webhook::{Webhook, WebhookEvent, WebhookEventType};

/// One event as the policy sees it.
pub struct Seen<'a> {
    pub event_id: uuid::Uuid,
    pub stream_id: &'a str,
    pub event_type: &'a str,
    pub schema_version: i32,
    pub payload: &'a Value,
    pub tenant_id: TenantId,
    pub occurred_at: DateTime<Utc>,
}

impl Seen<'_> {
    fn decode<E: Event>(&self) -> Result<Option<E>, CodecError> {
        decode_if(self.event_type, self.schema_version, self.payload)
    }
}

/// The types that can raise an alert or change what the policy remembers.
const OBSERVED: &[&str] = &[
    ReportEventType::LlmRunRecorded.into_str(),
    TaskEventType::TaskFailed.into_str(),
    AgentEventType::AgentWentOffline.into_str(),
    TenantEventType::TenantTimeZoneSet.into_str(),
    BudgetEventType::BudgetSet.into_str(),
    BudgetEventType::BudgetRuleSet.into_str(),
    BudgetEventType::BudgetRuleRemoved.into_str(),
    WebhookEventType::WebhookDisabled.into_str(),
];

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Usage {
    tokens: u64,
    cost_micros: i64,
}

/// What the policy remembers, to be saved beside a reactor's checkpoint so
/// a restart goes on from there instead of replaying the whole log.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyState {
    /// Tenant budgets set with `BudgetSet` (saved before budgets had
    /// scopes): read back as such, never written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    limits: Vec<(TenantId, Limits)>,
    #[serde(default)]
    rules: Vec<(TenantId, BudgetScope, Rule)>,
    /// Tenants that count days in a time zone other than UTC.
    #[serde(default)]
    zones: Vec<(TenantId, String)>,
    /// The tenant's own use: (tenant, period, tokens, cost in micros)
    usage: Vec<(TenantId, String, u64, i64)>,
    /// The use of agents and models with a budget: (tenant, budget key,
    /// period, tokens, cost in micros)
    #[serde(default)]
    scoped_usage: Vec<(TenantId, String, String, u64, i64)>,
}

/// Periods of usage kept per tenant and budget: the newest days and months.
/// An event of an older period (a late report) counts from zero there; any
/// alert it repeats has the id of the first and is not raised twice.
const KEPT_DAYS: usize = 3;
const KEPT_MONTHS: usize = 2;
/// The key of the tenant's own use among its budgets' ([`BudgetScope::key`]).
const TENANT: &str = "tenant";

#[derive(Debug, Default, PartialEq)]
pub struct AlertPolicy {
    rules: HashMap<(TenantId, BudgetScope), Rule>,
    zones: HashMap<TenantId, String>,
    /// Per tenant, budget key and period ("2026-11-23" or "2026-11"). The
    /// tenant's use is always counted; an agent's or a model's from when it
    /// has a budget.
    usage: HashMap<(TenantId, String, String), Usage>,
}

impl AlertPolicy {
    pub fn from_state(state: PolicyState) -> Self {
        let first = state.limits.into_iter().map(|(tenant, limits)| {
            let (scope, rule) = BudgetEvent::BudgetSet(limits).rule();
            (tenant, scope, rule)
        });
        let rules = state
            .rules
            .into_iter()
            .map(|(tenant, scope, rule)| (tenant, scope, Some(rule)));
        let tenant_usage = state
            .usage
            .into_iter()
            .map(|(tenant, period, t, c)| (tenant, TENANT.to_owned(), period, t, c));
        Self {
            rules: first
                .chain(rules)
                .filter_map(|(tenant, scope, rule)| rule.map(|r| ((tenant, scope), r)))
                .collect(),
            zones: state.zones.into_iter().collect(),
            usage: tenant_usage
                .chain(state.scoped_usage)
                .map(|(tenant, key, period, tokens, cost_micros)| {
                    (
                        (tenant, key, period),
                        Usage {
                            tokens,
                            cost_micros,
                        },
                    )
                })
                .collect(),
        }
    }

    /// The state to save: every budget and its recent usage.
    pub fn state(&self) -> PolicyState {
        let mut usage: Vec<_> = self
            .usage
            .iter()
            .map(|((tenant, key, period), u)| {
                (
                    *tenant,
                    key.clone(),
                    period.clone(),
                    u.tokens,
                    u.cost_micros,
                )
            })
            .collect();
        // Newest first within each tenant, budget and period length (day
        // or month).
        usage.sort_by(|a, b| {
            (a.0, &a.1, a.2.len())
                .cmp(&(b.0, &b.1, b.2.len()))
                .then(b.2.cmp(&a.2))
        });
        let mut state = PolicyState::default();
        let mut run = 0;
        let mut group = None;
        for (tenant, key, period, tokens, cost) in usage {
            let this = Some((tenant, key.clone(), period.len()));
            run = if group == this { run + 1 } else { 1 };
            group = this;
            let keep = if period.len() == 7 {
                KEPT_MONTHS
            } else {
                KEPT_DAYS
            };
            if run > keep {
                continue;
            }
            if key == TENANT {
                state.usage.push((tenant, period, tokens, cost));
            } else {
                state.scoped_usage.push((tenant, key, period, tokens, cost));
            }
        }
        state.rules = self
            .rules
            .iter()
            .map(|((t, scope), rule)| (*t, scope.clone(), rule.clone()))
            .collect();
        state.rules.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        state.zones = self.zones.iter().map(|(t, z)| (*t, z.clone())).collect();
        state.zones.sort();
        state
    }

    /// The alerts `seen` causes. A payload of an observed type that does
    /// not decode is an error, not a pass: skipping it would leave its
    /// alert unraised, or the limits and zones wrong from there on.
    pub fn observe(&mut self, seen: &Seen<'_>) -> Result<Vec<RaisedAlert>, CodecError> {
        // Every other event passes without being decoded.
        if !OBSERVED.contains(&seen.event_type) {
            return Ok(vec![]);
        }
        let alert =
            |source, severity, title: String, detail: String, subject: String| RaisedAlert {
                tenant_id: seen.tenant_id,
                source,
                severity,
                title,
                detail,
                subject,
            };
        // Routed by stream as well as by type: an event of the right type
        // appended by hand to some other stream is not the fact it names.
        if RUNS.holds(seen.stream_id)
            && let Some(ReportEvent::LlmRunRecorded {
                agent_id,
                app_type,
                model,
                status,
                error_message,
                prompt_tokens,
                completion_tokens,
                cost_micros,
                ..
            }) = seen.decode()?
        {
            let scopes = [
                BudgetScope::Tenant,
                BudgetScope::Agent { agent_id },
                BudgetScope::Model {
                    model: model.clone(),
                },
            ];
            let tokens = prompt_tokens.saturating_add(completion_tokens);
            let mut alerts = Vec::new();
            for scope in scopes {
                alerts.extend(self.count_usage(seen, scope, tokens, cost_micros));
            }
            if status.is_failure() {
                alerts.push(alert(
                    AlertSource::LlmRun,
                    Severity::Warning,
                    format!("{app_type} run ended {status}"),
                    format!("model {model}: {}", error_message.unwrap_or_default()),
                    format!("run:{}", seen.event_id),
                ));
            }
            return Ok(alerts);
        } else if Task::CATEGORY.holds(seen.stream_id)
            && let Some(TaskEvent::TaskFailed {
                error, retryable, ..
            }) = seen.decode()?
        {
            return Ok(vec![alert(
                AlertSource::Task,
                if retryable {
                    Severity::Warning
                } else {
                    Severity::Critical
                },
                "task failed".into(),
                error,
                format!("task:{}", seen.event_id),
            )]);
        } else if let Some(agent_id) = Agent::CATEGORY.id_in(seen.stream_id)
            && let Some(AgentEvent::AgentWentOffline { last_seen_at }) = seen.decode()?
        {
            return Ok(vec![alert(
                AlertSource::Agent,
                Severity::Warning,
                format!("agent {agent_id} went offline"),
                format!("last seen {last_seen_at}"),
                format!("offline:{}", seen.event_id),
            )]);
        } else if Tenant::CATEGORY.holds(seen.stream_id)
            && let Some(TenantEvent::TenantTimeZoneSet { time_zone }) = seen.decode()?
        {
            match time_zone {
                Some(zone) => self.zones.insert(seen.tenant_id, zone),
                None => self.zones.remove(&seen.tenant_id),
            };
        } else if Budget::CATEGORY.holds(seen.stream_id)
            && let Some(event) = seen.decode::<BudgetEvent>()?
        {
            match event.rule() {
                (scope, Some(rule)) => {
                    self.rules.insert((seen.tenant_id, scope), rule);
                }
                (scope, None) => {
                    self.rules.remove(&(seen.tenant_id, scope.clone()));
                    // An agent's or model's use is counted for its budget only.
                    if scope != BudgetScope::Tenant {
                        let key = scope.key();
                        self.usage
                            .retain(|(tenant, k, _), _| *tenant != seen.tenant_id || *k != key);
                    }
                }
            }
        } else if let Some(webhook_id) = Webhook::CATEGORY.id_in(seen.stream_id)
            && let Some(WebhookEvent::WebhookDisabled {
                reason,
                automatic: true,
            }) = seen.decode()?
        {
            return Ok(vec![alert(
                AlertSource::Webhook,
                Severity::Warning,
                format!("webhook {webhook_id} disabled"),
                reason,
                format!("webhook:{}", seen.event_id),
            )]);
        }
        Ok(vec![])
    }

    /// Adds a run's usage to the day and month of one of the budgets it
    /// counts toward; alerts for every threshold this run crossed there.
    fn count_usage(
        &mut self,
        seen: &Seen<'_>,
        scope: BudgetScope,
        tokens: u64,
        cost_micros: i64,
    ) -> Vec<RaisedAlert> {
        let rule = self.rules.get(&(seen.tenant_id, scope.clone())).cloned();
        // The tenant's use is counted without a budget (one may be set
        // mid-period); another's only with one, or the saved state would
        // grow with every agent and model.
        if rule.is_none() && scope != BudgetScope::Tenant {
            return vec![];
        }
        let rule = rule.unwrap_or_else(|| Rule {
            limits: Limits::default(),
            thresholds_percent: FIRST_THRESHOLDS_PERCENT.to_vec(),
            hard_stop: false,
        });
        let zone = calendar::zone(self.zones.get(&seen.tenant_id).map(String::as_str));
        let key = scope.key();
        let mut alerts = Vec::new();
        for period in [Period::Day, Period::Month] {
            let name = match period {
                Period::Day => calendar::day(zone, seen.occurred_at),
                Period::Month => calendar::month(zone, seen.occurred_at),
            };
            let slot = (seen.tenant_id, key.clone(), name.clone());
            if !self.usage.contains_key(&slot) {
                self.forget_old_periods(seen.tenant_id, &key, &name);
            }
            let usage = self.usage.entry(slot).or_default();
            let before = *usage;
            // Saturating: the log is input, and a stored absurd value must not
            // stop the policy.
            usage.tokens = usage.tokens.saturating_add(tokens);
            usage.cost_micros = usage.cost_micros.saturating_add(cost_micros);
            let after = *usage;
            for (limit_period, measure, limit) in rule.limits.each() {
                let Some(limit) = limit.filter(|_| limit_period == period) else {
                    continue;
                };
                let (was, is) = match measure {
                    Measure::Tokens => (i128::from(before.tokens), i128::from(after.tokens)),
                    Measure::Cost => (
                        i128::from(before.cost_micros),
                        i128::from(after.cost_micros),
                    ),
                };
                let shares = rule.thresholds_percent.iter().copied().chain([100]);
                for percent in shares {
                    // Whole numbers: `used * 100 >= limit * percent` is
                    // exact where a float share would not be.
                    let line = limit * i128::from(percent);
                    if was * 100 < line && is * 100 >= line {
                        alerts.push(budget_alert(
                            seen.tenant_id,
                            &scope,
                            rule.hard_stop,
                            Crossed {
                                period,
                                measure,
                                period_name: &name,
                                percent,
                                used: is,
                                limit,
                            },
                        ));
                    }
                }
            }
        }
        alerts
    }
}

impl AlertPolicy {
    /// Before a new period of a budget is counted: forgets all but the
    /// newest of its kind (days or months), so memory holds what a saved
    /// state would and does not grow with every day the server runs.
    fn forget_old_periods(&mut self, tenant: TenantId, key: &str, new: &str) {
        let keep = if new.len() == 7 {
            KEPT_MONTHS
        } else {
            KEPT_DAYS
        };
        let mut periods: Vec<String> = self
            .usage
            .keys()
            .filter(|(t, k, p)| *t == tenant && k == key && p.len() == new.len())
            .map(|(_, _, p)| p.clone())
            .collect();
        periods.push(new.to_owned());
        periods.sort_unstable_by(|a, b| b.cmp(a));
        for old in periods.into_iter().skip(keep) {
            self.usage.remove(&(tenant, key.to_owned(), old));
        }
    }
}

/// A line of a budget its use crossed: `percent` of the `period`'s
/// `measure` limit, in the period named `period_name`.
#[derive(Debug, Clone, Copy)]
pub struct Crossed<'a> {
    pub period: Period,
    pub measure: Measure,
    pub period_name: &'a str,
    pub percent: u8,
    pub used: i128,
    pub limit: i128,
}

/// The alert for a budget's use crossing a line: the same alert (by its
/// subject) whoever raises it, the policy on the run that crossed it or the
/// hard stop on the first request it refuses.
pub fn budget_alert(
    tenant_id: TenantId,
    scope: &BudgetScope,
    hard_stop: bool,
    crossed: Crossed<'_>,
) -> RaisedAlert {
    let Crossed {
        period,
        measure,
        period_name,
        percent,
        used,
        limit,
    } = crossed;
    let what = scope.limit_name(period, measure);
    let amount = |n: i128| match measure {
        Measure::Tokens => format!("{n} tokens"),
        Measure::Cost => format!("${:.2}", n as f64 / 1e6),
    };
    let reached = percent >= 100;
    let title = match (reached, hard_stop) {
        (true, true) => format!("{what} reached: stopped until the period ends"),
        (true, false) => format!("{what} reached"),
        (false, _) => format!("{percent}% of {what} used"),
    };
    RaisedAlert {
        tenant_id,
        source: AlertSource::Budget,
        severity: if reached {
            Severity::Critical
        } else {
            Severity::Warning
        },
        title,
        detail: format!("{} of {} in {period_name}", amount(used), amount(limit)),
        subject: budget_alert_subject(
            tenant_id,
            scope,
            &format!("{}-{}", period.adjective(), measure.as_str()),
            period_name,
            percent,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::encode;
    use crate::ids::AgentId;
    use crate::reports::RunStatus;

    fn run(tokens: u64, status: RunStatus) -> ReportEvent {
        ReportEvent::LlmRunRecorded {
            agent_id: AgentId::new(),
            app_type: "moderation".into(),
            trigger_type: "t".into(),
            member_id: None,
            model: "m".into(),
            prompt_tokens: tokens,
            completion_tokens: 0,
            cost_micros: 0,
            latency_ms: 1,
            status,
            error_message: None,
            session_id: None,
            prompt: None,
            response: None,
            task_id: None,
        }
    }

    fn observe<E: serde::Serialize>(
        policy: &mut AlertPolicy,
        tenant: TenantId,
        stream: &str,
        event: &E,
        day: u32,
    ) -> Vec<RaisedAlert> {
        let (event_type, payload) = encode(event).unwrap_or_default();
        let at = DateTime::parse_from_rfc3339(&format!("2026-11-{day:02}T12:00:00Z"))
            .map(|d| d.to_utc())
            .unwrap_or_default();
        let seen = Seen {
            event_id: uuid::Uuid::now_v7(),
            stream_id: stream,
            event_type: &event_type,
            schema_version: crate::upcast::current_version(&event_type),
            payload: &payload,
            tenant_id: tenant,
            occurred_at: at,
        };
        match policy.observe(&seen) {
            Ok(alerts) => alerts,
            Err(e) => panic!("{event_type}: {e}"),
        }
    }

    fn seen<'a>(
        stream_id: &'a str,
        event_type: &'a str,
        version: i32,
        payload: &'a Value,
    ) -> Seen<'a> {
        Seen {
            event_id: uuid::Uuid::now_v7(),
            stream_id,
            event_type,
            schema_version: version,
            payload,
            tenant_id: TenantId::new(),
            occurred_at: Utc::now(),
        }
    }

    #[test]
    fn an_observed_event_that_does_not_decode_is_an_error_not_a_pass() {
        let mut policy = AlertPolicy::default();
        let broken = serde_json::json!({ "prompt_tokens": "many" });
        let refused = policy.observe(&seen("runs-a", "LlmRunRecorded", 1, &broken));
        assert!(
            matches!(refused, Err(CodecError::Decode { .. })),
            "{refused:?}"
        );
        let newer = serde_json::json!({ "last_seen_at": "2026-01-02T03:04:05Z" });
        let refused = policy.observe(&seen("agent-a", "AgentWentOffline", 9, &newer));
        assert!(
            matches!(refused, Err(CodecError::Version { .. })),
            "{refused:?}"
        );
        // Unobserved types and observed ones on streams that are not their
        // own still pass without being decoded.
        for (stream, event_type) in [("runs-a", "ActionRecorded"), ("custom-1", "LlmRunRecorded")] {
            let passed = policy.observe(&seen(stream, event_type, 1, &broken));
            assert!(passed.is_ok_and(|a| a.is_empty()), "{stream} {event_type}");
        }
    }

    #[test]
    fn an_offline_event_stored_at_version_1_raises_its_alert() {
        let mut policy = AlertPolicy::default();
        let v1 = serde_json::json!({ "last_seen": "2026-01-02T03:04:05Z" });
        let alerts = policy.observe(&seen("agent-a1", "AgentWentOffline", 1, &v1));
        let alerts = alerts.unwrap_or_default();
        assert_eq!(
            alerts
                .iter()
                .map(|a| (a.title.as_str(), a.detail.as_str()))
                .collect::<Vec<_>>(),
            [("agent a1 went offline", "last seen 2026-01-02 03:04:05 UTC")]
        );
    }

    #[test]
    fn failed_runs_and_tasks_and_offline_agents_raise_alerts() {
        let mut policy = AlertPolicy::default();
        let t = TenantId::new();
        assert!(observe(&mut policy, t, "runs-a", &run(10, RunStatus::Success), 1).is_empty());
        for status in [
            RunStatus::Failed,
            RunStatus::Timeout,
            RunStatus::CircuitOpen,
        ] {
            let alerts = observe(&mut policy, t, "runs-a", &run(10, status), 1);
            assert_eq!(alerts.len(), 1);
            assert_eq!(alerts[0].source, AlertSource::LlmRun);
        }
        let failed = TaskEvent::TaskFailed {
            agent_id: AgentId::new(),
            error: "boom".into(),
            retryable: false,
        };
        let alerts = observe(&mut policy, t, "task-1", &failed, 1);
        assert_eq!(
            (alerts[0].source, alerts[0].severity),
            (AlertSource::Task, Severity::Critical)
        );
        let offline = AgentEvent::AgentWentOffline {
            last_seen_at: Utc::now(),
        };
        assert_eq!(
            observe(&mut policy, t, "agent-1", &offline, 1)[0].source,
            AlertSource::Agent
        );
        assert!(observe(&mut policy, t, "agent-1", &AgentEvent::AgentWentOnline, 1).is_empty());
    }

    #[test]
    fn a_saved_state_goes_on_where_the_policy_left_off() {
        // Given a policy that has seen limits and usage on many days
        let t = TenantId::new();
        let mut policy = AlertPolicy::default();
        let limits = Limits {
            daily_tokens: Some(100),
            ..Limits::default()
        };
        observe(
            &mut policy,
            t,
            "budget-1",
            &BudgetEvent::BudgetSet(limits),
            1,
        );
        for day in 1..=10 {
            observe(&mut policy, t, "runs-a", &run(40, RunStatus::Success), day);
        }
        // When it is saved and restored
        let state = policy.state();
        assert_eq!(
            AlertPolicy::from_state(state.clone()),
            policy,
            "memory keeps no more than a save does"
        );
        let json = serde_json::to_string(&state).unwrap_or_default();
        let mut restored = AlertPolicy::from_state(serde_json::from_str(&json).unwrap_or_default());
        // Then only recent periods are kept, and the next run crosses the
        // same threshold in both
        assert_eq!(state.usage.len(), KEPT_DAYS + 1, "three days and the month");
        assert!(state.usage.iter().any(|(_, p, _, _)| p == "2026-11-10"));
        assert!(!state.usage.iter().any(|(_, p, _, _)| p == "2026-11-07"));
        let next = |p: &mut AlertPolicy| observe(p, t, "runs-a", &run(40, RunStatus::Success), 10);
        let (a, b) = (next(&mut policy), next(&mut restored));
        assert_eq!(
            a.iter().map(|x| &x.subject).collect::<Vec<_>>(),
            b.iter().map(|x| &x.subject).collect::<Vec<_>>()
        );
        assert_eq!(a.len(), 1, "40 -> 80 of 100 crosses 80%");
    }

    #[test]
    fn budgets_alert_once_per_threshold_and_period() {
        let mut policy = AlertPolicy::default();
        let (t, other) = (TenantId::new(), TenantId::new());
        let limits = Limits {
            daily_tokens: Some(1000),
            monthly_tokens: Some(10_000),
            ..Limits::default()
        };
        observe(
            &mut policy,
            t,
            "budget-x",
            &BudgetEvent::BudgetSet(limits),
            1,
        );

        assert!(observe(&mut policy, t, "runs-a", &run(700, RunStatus::Success), 1).is_empty());
        let at_80 = observe(&mut policy, t, "runs-a", &run(150, RunStatus::Success), 1);
        assert_eq!(at_80.len(), 1);
        assert_eq!(
            at_80[0].title,
            "80% of the tenant's daily tokens budget used"
        );
        // One run jumping past 100% of the day raises the 100% alert only once.
        let at_100 = observe(&mut policy, t, "runs-a", &run(500, RunStatus::Success), 1);
        assert_eq!(
            at_100.iter().map(|a| a.severity).collect::<Vec<_>>(),
            [Severity::Critical]
        );
        assert!(observe(&mut policy, t, "runs-a", &run(500, RunStatus::Success), 1).is_empty());
        // A new day starts from zero; the month keeps counting.
        let next_day = observe(&mut policy, t, "runs-a", &run(900, RunStatus::Success), 2);
        assert_eq!(next_day.len(), 1, "80% of day 2: {next_day:?}");
        // Another tenant has no budget: no alerts.
        assert!(
            observe(
                &mut policy,
                other,
                "runs-b",
                &run(1_000_000, RunStatus::Success),
                1
            )
            .is_empty()
        );
        // The subjects differ per threshold and period, so ids never collide.
        assert_ne!(at_80[0].subject, at_100[0].subject);
    }

    #[test]
    fn budget_days_follow_the_tenants_time_zone() {
        // Given a tenant on UTC+14 with a daily budget
        let mut policy = AlertPolicy::default();
        let t = TenantId::new();
        let zone = TenantEvent::TenantTimeZoneSet {
            time_zone: Some("Pacific/Kiritimati".into()),
        };
        observe(&mut policy, t, "tenant-x", &zone, 1);
        let limits = Limits {
            daily_tokens: Some(1000),
            ..Limits::default()
        };
        observe(
            &mut policy,
            t,
            "budget-x",
            &BudgetEvent::BudgetSet(limits),
            1,
        );
        // When a run at 12:00 UTC on the 1st uses 90% of it
        let alerts = observe(&mut policy, t, "runs-a", &run(900, RunStatus::Success), 1);
        // Then it counts on the tenant's 2nd, and the zone survives a save
        assert!(alerts[0].detail.ends_with("in 2026-11-02"), "{alerts:?}");
        let restored = AlertPolicy::from_state(policy.state());
        assert_eq!(restored, policy);
    }

    #[test]
    fn an_agents_budget_warns_at_its_own_thresholds_once_each_and_says_it_stops() {
        // Given an agent with a daily budget of 1000 tokens that warns at
        // 50% and stops at the limit, and another agent without one
        let mut policy = AlertPolicy::default();
        let t = TenantId::new();
        let agent = AgentId::new();
        let budget = BudgetEvent::BudgetRuleSet {
            scope: BudgetScope::Agent { agent_id: agent },
            limits: Limits {
                daily_tokens: Some(1000),
                ..Limits::default()
            },
            thresholds_percent: vec![50],
            hard_stop: true,
        };
        observe(&mut policy, t, "budget-x", &budget, 1);
        let run_of = |who: AgentId, tokens: u64| {
            let mut event = run(tokens, RunStatus::Success);
            if let ReportEvent::LlmRunRecorded { agent_id, .. } = &mut event {
                *agent_id = who;
            }
            event
        };
        // When its runs cross 50% and then the limit
        let half = observe(&mut policy, t, "runs-a", &run_of(agent, 600), 1);
        let titles: Vec<_> = half.iter().map(|a| a.title.clone()).collect();
        assert_eq!(
            titles,
            [format!("50% of agent {agent}'s daily tokens budget used")]
        );
        assert!(observe(&mut policy, t, "runs-a", &run_of(agent, 100), 1).is_empty());
        let full = observe(&mut policy, t, "runs-a", &run_of(agent, 400), 1);
        assert_eq!(
            full.iter()
                .map(|a| (a.severity, a.title.clone()))
                .collect::<Vec<_>>(),
            [(
                Severity::Critical,
                format!(
                    "agent {agent}'s daily tokens budget reached: stopped until the period ends"
                )
            )]
        );
        // Then another agent's runs count toward no budget of its own
        assert!(observe(&mut policy, t, "runs-b", &run_of(AgentId::new(), 5000), 1).is_empty());
        // And the agent's use survives a save, so the next day starts over
        let mut restored = AlertPolicy::from_state(policy.state());
        assert_eq!(restored, policy);
        assert!(observe(&mut restored, t, "runs-a", &run_of(agent, 100), 1).is_empty());
        assert_eq!(
            observe(&mut restored, t, "runs-a", &run_of(agent, 500), 2).len(),
            1
        );
        // Removed, it warns no more
        let removed = BudgetEvent::BudgetRuleRemoved {
            scope: BudgetScope::Agent { agent_id: agent },
        };
        observe(&mut restored, t, "budget-x", &removed, 3);
        assert!(observe(&mut restored, t, "runs-a", &run_of(agent, 5000), 3).is_empty());
    }

    #[test]
    fn a_state_saved_before_budgets_had_scopes_reads_as_the_tenants_budget() {
        let t = TenantId::new();
        let saved = serde_json::json!({
            "limits": [[t, {"daily_tokens": 100, "monthly_tokens": null,
                            "daily_cost_micros": null, "monthly_cost_micros": null}]],
            "usage": [[t, "2026-11-01", 70, 0]],
        });
        let state: PolicyState = serde_json::from_value(saved).unwrap_or_default();
        let mut policy = AlertPolicy::from_state(state);
        let alerts = observe(&mut policy, t, "runs-a", &run(15, RunStatus::Success), 1);
        assert_eq!(
            alerts.iter().map(|a| a.title.as_str()).collect::<Vec<_>>(),
            ["80% of the tenant's daily tokens budget used"]
        );
    }
}
