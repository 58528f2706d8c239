//! Deliveries: one per event a webhook subscription asks for, and one per
//! ending of a task that named a `callback_url`, sent until the receiver
//! answers 2xx or the retry schedule runs out. Every attempt is
//! recorded before it is made and its outcome after, so a server that dies
//! mid-attempt leaves a delivery that the next one finds in flight, records
//! as interrupted and retries on schedule: at least once, always under the
//! same delivery id, which receivers use to drop repeats.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::aggregate::Aggregate;
use crate::error::DomainError;
use crate::ids::{AgentId, TaskId, TenantId};

/// How long an attempt may be in flight before it counts as interrupted:
/// the receiver's timeout (at most [`MAX_TIMEOUT_SECONDS`]) and room for
/// recording the outcome.
pub const ATTEMPT_LEASE_SECONDS: i64 = 60;
/// The longest a receiver may be given to answer, well inside the lease.
pub const MAX_TIMEOUT_SECONDS: u64 = 45;
/// The longest a receiver's `Retry-After` may push the next attempt.
pub const MAX_RETRY_AFTER_SECONDS: u64 = 24 * 3600;

/// The waits before each attempt of a round, in seconds. A delivery's first
/// attempt is made as soon as it is scheduled, so the first wait counts only
/// for a round started by a redelivery (which is also at once): it is
/// there to say how many attempts a round has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetrySchedule(pub Vec<u64>);

impl Default for RetrySchedule {
    /// At once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h: eight
    /// attempts over about a day and a day and a half.
    fn default() -> Self {
        Self(vec![0, 5, 300, 1800, 7200, 18000, 36000, 36000])
    }
}

impl RetrySchedule {
    /// The wait before attempt `n` (1-based) of a round, or `None` when the
    /// schedule has no such attempt.
    pub fn wait_before(&self, n: u32) -> Option<u64> {
        let index = usize::try_from(n.checked_sub(1)?).ok()?;
        self.0.get(index).copied()
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    #[default]
    Pending,
    InFlight,
    Succeeded,
    /// The schedule ran out, or the receiver said the endpoint is gone (410).
    Exhausted,
    /// Its subscription was deleted or disabled before it could be sent.
    Cancelled,
}

crate::names::snake_case_names!(DeliveryStatus {
    Pending => "pending",
    InFlight => "in_flight",
    Succeeded => "succeeded",
    Exhausted => "exhausted",
    Cancelled => "cancelled",
});

/// Where a delivery goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// A webhook subscription's URL, signed with its secret.
    Webhook(Uuid),
    /// A task's `callback_url`, signed with its tenant's callback secret.
    Callback(TaskId),
}

impl Default for Endpoint {
    fn default() -> Self {
        Self::Webhook(Uuid::nil())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Delivery {
    pub exists: bool,
    pub tenant_id: TenantId,
    pub endpoint: Endpoint,
    pub event_id: Uuid,
    pub event_position: u64,
    pub event_type: String,
    pub status: DeliveryStatus,
    /// Attempts ever made, across redeliveries: the next one's number is this + 1.
    pub attempts: u32,
    /// Attempts in the current round (a redelivery starts a new one).
    pub round_attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub in_flight_since: Option<DateTime<Utc>>,
}

impl Delivery {
    fn scheduled(
        tenant_id: TenantId,
        endpoint: Endpoint,
        (event_id, event_position, event_type): (Uuid, u64, &str),
        due_at: DateTime<Utc>,
    ) -> Self {
        Self {
            exists: true,
            tenant_id,
            endpoint,
            event_id,
            event_position,
            event_type: event_type.to_owned(),
            status: DeliveryStatus::Pending,
            next_attempt_at: Some(due_at),
            ..Self::default()
        }
    }

    /// Whether an attempt may start at `now`: pending and due. (One in
    /// flight past its lease is first recorded as interrupted.)
    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        match self.status {
            DeliveryStatus::Pending => self.next_attempt_at.is_none_or(|t| t <= now),
            _ => false,
        }
    }

    pub fn is_interrupted(&self, now: DateTime<Utc>) -> bool {
        self.status == DeliveryStatus::InFlight
            && self
                .in_flight_since
                .is_some_and(|t| t + Duration::seconds(ATTEMPT_LEASE_SECONDS) <= now)
    }
}

/// How an attempt went wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedAttempt {
    /// The receiver's status, when it answered.
    pub status_code: Option<u16>,
    pub error: String,
    pub duration_ms: u64,
}

#[derive(Debug, Clone)]
pub enum DeliveryCommand {
    Schedule {
        tenant_id: TenantId,
        endpoint: Endpoint,
        event_id: Uuid,
        event_position: u64,
        event_type: String,
        at: DateTime<Utc>,
        /// Asked for by a replay: a delivery made before that is no longer
        /// on its way is sent again.
        replay: bool,
    },
    Attempt {
        at: DateTime<Utc>,
    },
    /// Attempt `attempt` was answered 2xx.
    Succeed {
        attempt: u32,
        status_code: u16,
        duration_ms: u64,
    },
    /// Attempt `attempt` failed; with `interrupted`, it is the server that
    /// made it that stopped, which only a lease run out at `at` can show.
    Fail {
        attempt: u32,
        interrupted: bool,
        failure: FailedAttempt,
        /// The receiver asked for this many seconds before the next try.
        retry_after: Option<u64>,
        /// 410 Gone: the receiver wants no more.
        gone: bool,
        schedule: RetrySchedule,
        /// Spreads retries of many deliveries that failed together:
        /// -100..=100 thousandths of the wait (chosen by the caller, so
        /// the decision stays pure).
        jitter_permille: i32,
        at: DateTime<Utc>,
    },
    Redeliver {
        at: DateTime<Utc>,
    },
    Cancel {
        reason: String,
    },
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames, strum::EnumDiscriminants,
)]
#[strum_discriminants(
    name(DeliveryEventType),
    derive(Hash, strum::IntoStaticStr, strum::VariantArray),
    strum(const_into_str)
)]
#[serde(tag = "type", content = "data")]
pub enum DeliveryEvent {
    WebhookDeliveryScheduled {
        tenant_id: TenantId,
        webhook_id: Uuid,
        event_id: Uuid,
        event_position: u64,
        event_type: String,
        due_at: DateTime<Utc>,
    },
    /// The ending of a task, to its `callback_url`.
    CallbackDeliveryScheduled {
        tenant_id: TenantId,
        task_id: TaskId,
        event_id: Uuid,
        event_position: u64,
        event_type: String,
        due_at: DateTime<Utc>,
    },
    WebhookDeliveryAttempted {
        attempt: u32,
        at: DateTime<Utc>,
    },
    WebhookDeliverySucceeded {
        attempt: u32,
        status_code: u16,
        duration_ms: u64,
    },
    WebhookDeliveryFailed {
        attempt: u32,
        failure: FailedAttempt,
        next_attempt_at: DateTime<Utc>,
    },
    WebhookDeliveryExhausted {
        attempt: u32,
        failure: FailedAttempt,
        gone: bool,
    },
    WebhookDeliveryRedelivered {
        due_at: DateTime<Utc>,
    },
    WebhookDeliveryCancelled {
        reason: String,
    },
}

fn transition(state: &Delivery, action: &'static str) -> DomainError {
    DomainError::InvalidTransition {
        entity: "delivery",
        action,
        state: state.status.to_string(),
    }
}

/// When the attempt after `state.round_attempts` failed ones is due, or
/// `None` when the schedule has no more.
fn next_attempt(
    state: &Delivery,
    retry_after: Option<u64>,
    schedule: &RetrySchedule,
    jitter_permille: i32,
    at: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let wait = schedule.wait_before(state.round_attempts + 1)?;
    let jitter = i64::from(jitter_permille.clamp(-100, 100));
    let wait_ms = i64::try_from(wait).unwrap_or(i64::MAX).saturating_mul(1000);
    let jittered = wait_ms.saturating_add(wait_ms / 1000 * jitter);
    let asked_ms = retry_after.map_or(0, |s| s.min(MAX_RETRY_AFTER_SECONDS) * 1000);
    let wait_ms = jittered.max(i64::try_from(asked_ms).unwrap_or(0));
    // Past what a date can hold, the schedule has no more attempts.
    at.checked_add_signed(Duration::try_milliseconds(wait_ms)?)
}

impl Aggregate for Delivery {
    type Command = DeliveryCommand;
    type Event = DeliveryEvent;
    type Id = Uuid;
    const STREAM_PREFIX: &'static str = "delivery";
    const ENTITY: &'static str = "delivery";

    fn owner(&self) -> Option<TenantId> {
        self.exists.then_some(self.tenant_id)
    }

    fn decide(state: &Self, command: DeliveryCommand) -> Result<Vec<DeliveryEvent>, DomainError> {
        use DeliveryCommand as C;
        use DeliveryEvent as E;
        if !state.exists && !matches!(command, C::Schedule { .. }) {
            return Err(DomainError::NotFound("delivery"));
        }
        match command {
            C::Schedule {
                tenant_id,
                endpoint,
                event_id,
                event_position,
                event_type,
                at,
                replay,
            } => {
                // Scheduled again by a reactor re-reading the log: nothing
                // new. Replayed: sent again unless it is on its way.
                if state.exists {
                    let on_its_way = matches!(
                        state.status,
                        DeliveryStatus::Pending | DeliveryStatus::InFlight
                    );
                    return Ok(if replay && !on_its_way {
                        vec![E::WebhookDeliveryRedelivered { due_at: at }]
                    } else {
                        vec![]
                    });
                }
                Ok(vec![match endpoint {
                    Endpoint::Webhook(webhook_id) => E::WebhookDeliveryScheduled {
                        tenant_id,
                        webhook_id,
                        event_id,
                        event_position,
                        event_type,
                        due_at: at,
                    },
                    Endpoint::Callback(task_id) => E::CallbackDeliveryScheduled {
                        tenant_id,
                        task_id,
                        event_id,
                        event_position,
                        event_type,
                        due_at: at,
                    },
                }])
            }
            C::Attempt { at } => {
                if !state.is_due(at) {
                    return Err(transition(state, "attempt"));
                }
                Ok(vec![E::WebhookDeliveryAttempted {
                    attempt: state.attempts + 1,
                    at,
                }])
            }
            C::Succeed {
                attempt,
                status_code,
                duration_ms,
            } => {
                // An outcome is of one attempt: a late one, after its
                // attempt was taken for interrupted and made again, is not
                // the new attempt's.
                if state.status != DeliveryStatus::InFlight || state.attempts != attempt {
                    return Err(transition(state, "finish"));
                }
                Ok(vec![E::WebhookDeliverySucceeded {
                    attempt: state.attempts,
                    status_code,
                    duration_ms,
                }])
            }
            C::Fail {
                attempt,
                interrupted,
                failure,
                retry_after,
                gone,
                schedule,
                jitter_permille,
                at,
            } => {
                if state.status != DeliveryStatus::InFlight
                    || state.attempts != attempt
                    || (interrupted && !state.is_interrupted(at))
                {
                    return Err(transition(state, "finish"));
                }
                let next = next_attempt(state, retry_after, &schedule, jitter_permille, at);
                Ok(vec![match next {
                    Some(next_attempt_at) if !gone => E::WebhookDeliveryFailed {
                        attempt: state.attempts,
                        failure,
                        next_attempt_at,
                    },
                    _ => E::WebhookDeliveryExhausted {
                        attempt: state.attempts,
                        failure,
                        gone,
                    },
                }])
            }
            C::Redeliver { at } => match state.status {
                // Already waiting: sooner, if anything.
                DeliveryStatus::Pending if state.is_due(at) => Ok(vec![]),
                DeliveryStatus::InFlight => Err(transition(state, "redeliver")),
                _ => Ok(vec![E::WebhookDeliveryRedelivered { due_at: at }]),
            },
            C::Cancel { reason } => match state.status {
                DeliveryStatus::Pending => Ok(vec![E::WebhookDeliveryCancelled { reason }]),
                DeliveryStatus::Cancelled => Ok(vec![]),
                _ => Err(transition(state, "cancel")),
            },
        }
    }

    fn evolve(mut state: Self, event: &DeliveryEvent) -> Self {
        use DeliveryEvent as E;
        match event {
            E::WebhookDeliveryScheduled {
                tenant_id,
                webhook_id,
                event_id,
                event_position,
                event_type,
                due_at,
            } => {
                state = Self::scheduled(
                    *tenant_id,
                    Endpoint::Webhook(*webhook_id),
                    (*event_id, *event_position, event_type),
                    *due_at,
                );
            }
            E::CallbackDeliveryScheduled {
                tenant_id,
                task_id,
                event_id,
                event_position,
                event_type,
                due_at,
            } => {
                state = Self::scheduled(
                    *tenant_id,
                    Endpoint::Callback(*task_id),
                    (*event_id, *event_position, event_type),
                    *due_at,
                );
            }
            E::WebhookDeliveryAttempted { attempt, at } => {
                state.status = DeliveryStatus::InFlight;
                state.attempts = *attempt;
                state.round_attempts += 1;
                state.in_flight_since = Some(*at);
                state.next_attempt_at = None;
            }
            E::WebhookDeliverySucceeded { .. } => {
                state.status = DeliveryStatus::Succeeded;
                state.in_flight_since = None;
            }
            E::WebhookDeliveryFailed {
                next_attempt_at, ..
            } => {
                state.status = DeliveryStatus::Pending;
                state.in_flight_since = None;
                state.next_attempt_at = Some(*next_attempt_at);
            }
            E::WebhookDeliveryExhausted { .. } => {
                state.status = DeliveryStatus::Exhausted;
                state.in_flight_since = None;
            }
            E::WebhookDeliveryRedelivered { due_at } => {
                state.status = DeliveryStatus::Pending;
                state.round_attempts = 0;
                state.next_attempt_at = Some(*due_at);
            }
            E::WebhookDeliveryCancelled { .. } => {
                state.status = DeliveryStatus::Cancelled;
                state.next_attempt_at = None;
            }
        }
        state
    }
}

/// The subscriptions as of a point in the log, for deciding which events
/// to deliver where: kept by the reactor that schedules deliveries, in log
/// order, so a subscription receives exactly the events that commit while
/// it exists and asks for them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Subscribers {
    active: std::collections::BTreeMap<Uuid, Subscriber>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Subscriber {
    tenant_id: TenantId,
    event_types: Vec<String>,
    #[serde(default)]
    disabled: bool,
    /// The agent that made it: it receives only what concerns that agent.
    #[serde(default)]
    owner: Option<AgentId>,
}

impl Subscribers {
    /// Follows one event of a subscription's stream.
    pub fn apply(&mut self, webhook_id: Uuid, event: &crate::webhook::WebhookEvent) {
        use crate::webhook::WebhookEvent as E;
        match event {
            E::WebhookSubscribed {
                tenant_id,
                event_types,
                owner,
                ..
            } => {
                self.active.insert(
                    webhook_id,
                    Subscriber {
                        tenant_id: *tenant_id,
                        event_types: event_types.clone(),
                        disabled: false,
                        owner: *owner,
                    },
                );
            }
            E::WebhookUpdated { event_types, .. } => {
                if let Some(s) = self.active.get_mut(&webhook_id) {
                    s.event_types.clone_from(event_types);
                }
            }
            E::WebhookDeleted => {
                self.active.remove(&webhook_id);
            }
            E::WebhookDisabled { .. } | E::WebhookEnabled => {
                if let Some(s) = self.active.get_mut(&webhook_id) {
                    s.disabled = matches!(event, E::WebhookDisabled { .. });
                }
            }
            E::WebhookPinged | E::WebhookReplayRequested { .. } => {}
        }
    }

    /// Whether deliveries to `webhook_id` are made (it exists and is enabled).
    pub fn delivers_to(&self, webhook_id: Uuid) -> bool {
        self.active.get(&webhook_id).is_some_and(|s| !s.disabled)
    }

    /// What `webhook_id` asks for, and the agent that made it, while
    /// deliveries to it are made.
    pub fn asks(&self, webhook_id: Uuid) -> Option<(&[String], Option<AgentId>)> {
        self.active
            .get(&webhook_id)
            .filter(|s| !s.disabled)
            .map(|s| (s.event_types.as_slice(), s.owner))
    }

    /// The subscriptions an event of `tenant` and `event_type` goes to,
    /// each with the agent that made it (whose concerns bound what it gets).
    pub fn of(&self, tenant: TenantId, event_type: &str) -> Vec<(Uuid, Option<AgentId>)> {
        self.active
            .iter()
            .filter(|(_, s)| {
                !s.disabled
                    && s.tenant_id == tenant
                    && s.event_types.iter().any(|t| t == event_type)
            })
            .map(|(id, s)| (*id, s.owner))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{given, given_no_events};

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + Duration::seconds(1_800_000_000 + seconds)
    }

    fn scheduled() -> DeliveryEvent {
        DeliveryEvent::WebhookDeliveryScheduled {
            tenant_id: TenantId(Uuid::nil()),
            webhook_id: Uuid::nil(),
            event_id: Uuid::nil(),
            event_position: 7,
            event_type: "AlertRaised".into(),
            due_at: at(0),
        }
    }

    fn attempted(attempt: u32, seconds: i64) -> DeliveryEvent {
        DeliveryEvent::WebhookDeliveryAttempted {
            attempt,
            at: at(seconds),
        }
    }

    fn refused(status_code: u16) -> FailedAttempt {
        FailedAttempt {
            status_code: Some(status_code),
            error: format!("the receiver answered {status_code}"),
            duration_ms: 12,
        }
    }

    fn fail(status_code: u16, retry_after: Option<u64>, seconds: i64) -> DeliveryCommand {
        DeliveryCommand::Fail {
            attempt: 1,
            interrupted: false,
            failure: refused(status_code),
            retry_after,
            gone: status_code == 410,
            schedule: RetrySchedule::default(),
            jitter_permille: 0,
            at: at(seconds),
        }
    }

    fn schedule(replay: bool, seconds: i64) -> DeliveryCommand {
        DeliveryCommand::Schedule {
            tenant_id: TenantId(Uuid::nil()),
            endpoint: Endpoint::Webhook(Uuid::nil()),
            event_id: Uuid::nil(),
            event_position: 7,
            event_type: "AlertRaised".into(),
            at: at(seconds),
            replay,
        }
    }

    #[test]
    fn a_delivery_is_scheduled_once_however_often_its_event_is_read() {
        given_no_events::<Delivery>()
            .when(schedule(false, 0))
            .then([scheduled()]);
        given::<Delivery>([scheduled()])
            .when(schedule(false, 0))
            .then_nothing_happens();
    }

    #[test]
    fn a_replay_sends_again_what_is_no_longer_on_its_way_under_the_same_id() {
        let succeeded = DeliveryEvent::WebhookDeliverySucceeded {
            attempt: 1,
            status_code: 204,
            duration_ms: 3,
        };
        given_no_events::<Delivery>()
            .when(schedule(true, 0))
            .then([scheduled()]);
        let again = given::<Delivery>([scheduled(), attempted(1, 1), succeeded])
            .when(schedule(true, 50))
            .then([DeliveryEvent::WebhookDeliveryRedelivered { due_at: at(50) }]);
        assert!(again.is_due(at(50)) && again.event_id == Uuid::nil());
        given::<Delivery>([scheduled()])
            .when(schedule(true, 50))
            .then_nothing_happens();
        given::<Delivery>([scheduled(), attempted(1, 1)])
            .when(schedule(true, 50))
            .then_nothing_happens();
    }

    #[test]
    fn a_tasks_callback_is_scheduled_to_the_task() {
        let task_id = TaskId::new();
        let callback = given_no_events::<Delivery>()
            .when(DeliveryCommand::Schedule {
                tenant_id: TenantId(Uuid::nil()),
                endpoint: Endpoint::Callback(task_id),
                event_id: Uuid::nil(),
                event_position: 9,
                event_type: "TaskCompleted".into(),
                at: at(0),
                replay: false,
            })
            .then([DeliveryEvent::CallbackDeliveryScheduled {
                tenant_id: TenantId(Uuid::nil()),
                task_id,
                event_id: Uuid::nil(),
                event_position: 9,
                event_type: "TaskCompleted".into(),
                due_at: at(0),
            }]);
        assert_eq!(callback.endpoint, Endpoint::Callback(task_id));
        assert!(callback.is_due(at(0)));
    }

    #[test]
    fn an_attempt_is_recorded_before_it_is_made_and_only_when_due() {
        let delivery = given::<Delivery>([scheduled()])
            .when(DeliveryCommand::Attempt { at: at(1) })
            .then([attempted(1, 1)]);
        assert_eq!(delivery.status, DeliveryStatus::InFlight);
        given::<Delivery>([scheduled(), attempted(1, 1)])
            .when(DeliveryCommand::Attempt { at: at(2) })
            .then_refused(|e| matches!(e, DomainError::InvalidTransition { .. }));
    }

    #[test]
    fn a_failure_waits_as_the_schedule_says_then_the_schedule_runs_out() {
        let after_first = given::<Delivery>([scheduled(), attempted(1, 1)])
            .when(fail(500, None, 2))
            .then([DeliveryEvent::WebhookDeliveryFailed {
                attempt: 1,
                failure: refused(500),
                next_attempt_at: at(2 + 5),
            }]);
        assert!(!after_first.is_due(at(6)) && after_first.is_due(at(7)));

        let mut history = vec![scheduled()];
        for attempt in 1..=8 {
            history.push(attempted(attempt, i64::from(attempt) * 100_000));
            if attempt < 8 {
                history.push(DeliveryEvent::WebhookDeliveryFailed {
                    attempt,
                    failure: refused(503),
                    next_attempt_at: at(i64::from(attempt) * 100_000 + 1),
                });
            }
        }
        let mut last = fail(503, None, 900_000);
        if let DeliveryCommand::Fail { attempt, .. } = &mut last {
            *attempt = 8;
        }
        let exhausted =
            given::<Delivery>(history)
                .when(last)
                .then([DeliveryEvent::WebhookDeliveryExhausted {
                    attempt: 8,
                    failure: refused(503),
                    gone: false,
                }]);
        assert_eq!(exhausted.status, DeliveryStatus::Exhausted);
    }

    #[test]
    fn retry_after_pushes_the_next_attempt_back_within_a_day() {
        given::<Delivery>([scheduled(), attempted(1, 0)])
            .when(fail(429, Some(120), 0))
            .then([DeliveryEvent::WebhookDeliveryFailed {
                attempt: 1,
                failure: refused(429),
                next_attempt_at: at(120),
            }]);
        given::<Delivery>([scheduled(), attempted(1, 0)])
            .when(fail(429, Some(u64::MAX), 0))
            .then([DeliveryEvent::WebhookDeliveryFailed {
                attempt: 1,
                failure: refused(429),
                next_attempt_at: at(24 * 3600),
            }]);
    }

    #[test]
    fn jitter_spreads_a_wait_by_at_most_a_tenth() {
        let schedule = RetrySchedule(vec![0, 100]);
        let delivery = Delivery::fold(&[scheduled(), attempted(1, 0)]);
        for (permille, expected) in [(-100, 90), (0, 100), (100, 110), (5000, 110)] {
            assert_eq!(
                next_attempt(&delivery, None, &schedule, permille, at(0)),
                Some(at(expected))
            );
        }
    }

    #[test]
    fn gone_ends_the_delivery_at_once() {
        given::<Delivery>([scheduled(), attempted(1, 0)])
            .when(fail(410, None, 1))
            .then([DeliveryEvent::WebhookDeliveryExhausted {
                attempt: 1,
                failure: refused(410),
                gone: true,
            }]);
    }

    #[test]
    fn an_attempt_in_flight_past_its_lease_is_interrupted() {
        let delivery = Delivery::fold(&[scheduled(), attempted(1, 0)]);
        assert!(!delivery.is_interrupted(at(ATTEMPT_LEASE_SECONDS - 1)));
        assert!(delivery.is_interrupted(at(ATTEMPT_LEASE_SECONDS)));
        let interrupt = |seconds| DeliveryCommand::Fail {
            attempt: 1,
            interrupted: true,
            failure: FailedAttempt {
                status_code: None,
                error: "interrupted".into(),
                duration_ms: 0,
            },
            retry_after: None,
            gone: false,
            schedule: RetrySchedule::default(),
            jitter_permille: 0,
            at: at(seconds),
        };
        // Another server's attempt still within its lease is not taken for lost.
        given::<Delivery>([scheduled(), attempted(1, 0)])
            .when(interrupt(ATTEMPT_LEASE_SECONDS - 1))
            .then_refused(|e| matches!(e, DomainError::InvalidTransition { .. }));
        given::<Delivery>([scheduled(), attempted(1, 0)])
            .when(interrupt(ATTEMPT_LEASE_SECONDS))
            .then_events(|events| {
                assert!(matches!(
                    events,
                    [DeliveryEvent::WebhookDeliveryFailed { attempt: 1, .. }]
                ));
            });
    }

    #[test]
    fn an_outcome_counts_only_for_its_own_attempt() {
        let retried = [
            scheduled(),
            attempted(1, 0),
            DeliveryEvent::WebhookDeliveryFailed {
                attempt: 1,
                failure: refused(500),
                next_attempt_at: at(5),
            },
            attempted(2, 5),
        ];
        given::<Delivery>(retried.clone())
            .when(DeliveryCommand::Succeed {
                attempt: 1,
                status_code: 200,
                duration_ms: 70_000,
            })
            .then_refused(|e| matches!(e, DomainError::InvalidTransition { .. }));
        given::<Delivery>(retried)
            .when(DeliveryCommand::Succeed {
                attempt: 2,
                status_code: 200,
                duration_ms: 3,
            })
            .then([DeliveryEvent::WebhookDeliverySucceeded {
                attempt: 2,
                status_code: 200,
                duration_ms: 3,
            }]);
    }

    #[test]
    fn a_schedule_past_what_a_date_holds_ends() {
        let delivery = Delivery::fold(&[scheduled(), attempted(1, 0)]);
        let forever = RetrySchedule(vec![0, u64::MAX]);
        assert_eq!(next_attempt(&delivery, None, &forever, 100, at(0)), None);
    }

    #[test]
    fn a_redelivery_starts_a_new_round_under_the_same_id() {
        let done = [
            scheduled(),
            attempted(1, 0),
            DeliveryEvent::WebhookDeliverySucceeded {
                attempt: 1,
                status_code: 204,
                duration_ms: 3,
            },
        ];
        let again = given::<Delivery>(done.clone())
            .when(DeliveryCommand::Redeliver { at: at(50) })
            .then([DeliveryEvent::WebhookDeliveryRedelivered { due_at: at(50) }]);
        assert_eq!((again.round_attempts, again.attempts), (0, 1));
        given::<Delivery>(done)
            .and(DeliveryEvent::WebhookDeliveryRedelivered { due_at: at(50) })
            .when(DeliveryCommand::Attempt { at: at(50) })
            .then([attempted(2, 50)]);
        given::<Delivery>([scheduled(), attempted(1, 0)])
            .when(DeliveryCommand::Redeliver { at: at(1) })
            .then_refused(|e| matches!(e, DomainError::InvalidTransition { .. }));
    }

    #[test]
    fn only_a_waiting_delivery_is_cancelled() {
        given::<Delivery>([scheduled()])
            .when(DeliveryCommand::Cancel {
                reason: "subscription deleted".into(),
            })
            .then([DeliveryEvent::WebhookDeliveryCancelled {
                reason: "subscription deleted".into(),
            }]);
        given::<Delivery>([scheduled(), attempted(1, 0)])
            .when(DeliveryCommand::Cancel {
                reason: "subscription deleted".into(),
            })
            .then_refused(|e| matches!(e, DomainError::InvalidTransition { .. }));
    }
}
