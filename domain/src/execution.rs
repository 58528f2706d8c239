//! Executions: one run of a published workflow version with an input. The
//! execution decides which steps start, with what input, when a step is
//! retried and when the whole ends; whoever does the steps (the engine
//! that creates tasks for agents and calls tools) only reports back. Every
//! decision is an event of the execution's stream, so an engine restarted
//! mid-execution reads where it stands and goes on.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::aggregate::Aggregate;
use crate::error::DomainError;
use crate::ids::TenantId;
use crate::workflow::{Source, WorkflowSpec, source};

/// The largest input or output an execution keeps, as JSON text.
pub const MAX_VALUE_BYTES: usize = 256 * 1024;
/// How much of a step's error an execution keeps.
pub const MAX_ERROR_BYTES: usize = 4000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    #[default]
    Running,
    /// No step starts until it is resumed; steps under way finish.
    Paused,
    Completed,
    Failed,
    Cancelled,
}

crate::names::snake_case_names!(ExecutionStatus {
    Running => "running",
    Paused => "paused",
    Completed => "completed",
    Failed => "failed",
    Cancelled => "cancelled",
});

crate::names::snake_case_names!(StepStatus {
    Waiting => "waiting",
    Running => "running",
    Succeeded => "succeeded",
    Failed => "failed",
});

impl ExecutionStatus {
    pub fn is_over(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    #[default]
    Waiting,
    Running,
    Succeeded,
    Failed,
}

/// A step as the execution stands.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StepRun {
    pub status: StepStatus,
    /// The attempt under way or last made; 0 before the first.
    pub attempt: u32,
    pub deadline: Option<DateTime<Utc>>,
    pub output: Option<Value>,
    pub error: Option<String>,
    /// Whether the tool call of the attempt under way was made.
    pub called: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Execution {
    pub exists: bool,
    pub tenant_id: TenantId,
    pub workflow_id: Uuid,
    pub version: u32,
    pub spec: WorkflowSpec,
    pub input: Value,
    pub status: ExecutionStatus,
    pub steps: BTreeMap<String, StepRun>,
}

#[derive(Debug, Clone)]
pub enum ExecutionCommand {
    Start {
        tenant_id: TenantId,
        workflow_id: Uuid,
        version: u32,
        spec: WorkflowSpec,
        input: Value,
        at: DateTime<Utc>,
    },
    /// Attempt `attempt` of `step` produced `output`.
    StepSucceeded {
        step: String,
        attempt: u32,
        output: Value,
        at: DateTime<Utc>,
    },
    /// Attempt `attempt` of `step` failed.
    StepFailed {
        step: String,
        attempt: u32,
        error: String,
        at: DateTime<Utc>,
    },
    /// The caller is about to call the tool of attempt `attempt` of `step`:
    /// the first to ask makes the call; a second (another server, or the
    /// engine re-reading the log after a restart) does not, and an
    /// attempt whose call was cut short times out.
    StartCall {
        step: String,
        attempt: u32,
    },
    /// Fails every attempt under way whose deadline has passed at `at`.
    TimeOut {
        at: DateTime<Utc>,
    },
    Pause,
    Resume {
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
    name(ExecutionEventType),
    derive(Hash, strum::IntoStaticStr, strum::VariantArray),
    strum(const_into_str)
)]
#[serde(tag = "type", content = "data")]
pub enum ExecutionEvent {
    ExecutionStarted {
        tenant_id: TenantId,
        workflow_id: Uuid,
        version: u32,
        spec: WorkflowSpec,
        input: Value,
    },
    /// Attempt `attempt` of `step` starts with `input`, to be done by
    /// `deadline`.
    StepStarted {
        step: String,
        attempt: u32,
        input: Value,
        deadline: DateTime<Utc>,
    },
    /// The tool of attempt `attempt` of `step` is being called.
    ToolCallStarted {
        step: String,
        attempt: u32,
    },
    StepSucceeded {
        step: String,
        attempt: u32,
        output: Value,
    },
    /// Attempt `attempt` failed; `retried` when another attempt follows.
    StepFailed {
        step: String,
        attempt: u32,
        error: String,
        retried: bool,
    },
    ExecutionPaused,
    ExecutionResumed,
    ExecutionCompleted,
    ExecutionFailed {
        /// The step whose attempts ran out.
        step: String,
        error: String,
    },
    ExecutionCancelled {
        reason: String,
    },
}

/// The part of `value` at `path` (object keys, or array indexes), `None`
/// when it is not there.
fn at_path<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |here, key| match here {
        Value::Object(map) => map.get(*key),
        Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

/// A step's input with every mapping replaced by what it names; an error
/// naming the first mapping that names nothing, or saying the input would
/// exceed [`MAX_VALUE_BYTES`] (a mapping copies what it names, so a few
/// bytes of template can name a lot).
pub fn resolve(
    template: &Value,
    input: &Value,
    outputs: &BTreeMap<String, Value>,
) -> Result<Value, String> {
    let mut budget = MAX_VALUE_BYTES;
    resolve_within(template, input, outputs, &mut budget)
}

fn resolve_within(
    template: &Value,
    input: &Value,
    outputs: &BTreeMap<String, Value>,
    budget: &mut usize,
) -> Result<Value, String> {
    let resolved = match template {
        Value::String(text) => match source(text) {
            None => template.clone(),
            Some(Err(why)) => return Err(why),
            Some(Ok(Source::Input(path))) => at_path(input, &path)
                .cloned()
                .ok_or_else(|| format!("`{text}` names nothing in the execution's input"))?,
            Some(Ok(Source::Output { step, path })) => outputs
                .get(step)
                .and_then(|output| at_path(output, &path))
                .cloned()
                .ok_or_else(|| format!("`{text}` names nothing in `{step}`'s output"))?,
        },
        Value::Array(items) => {
            return Ok(Value::Array(
                items
                    .iter()
                    .map(|v| resolve_within(v, input, outputs, budget))
                    .collect::<Result<_, _>>()?,
            ));
        }
        Value::Object(map) => {
            let mut resolved = serde_json::Map::new();
            for (k, v) in map {
                spend(budget, &Value::String(k.clone()))?;
                resolved.insert(k.clone(), resolve_within(v, input, outputs, budget)?);
            }
            return Ok(Value::Object(resolved));
        }
        other => other.clone(),
    };
    spend(budget, &resolved)?;
    Ok(resolved)
}

/// Takes `value`'s size out of what a step's input may still hold.
fn spend(budget: &mut usize, value: &Value) -> Result<(), String> {
    let size = serde_json::to_vec(value).map_or(usize::MAX, |b| b.len());
    *budget = budget
        .checked_sub(size)
        .ok_or_else(|| format!("the step's input would exceed {MAX_VALUE_BYTES} bytes"))?;
    Ok(())
}

fn check_value(what: &str, value: &Value) -> Result<(), DomainError> {
    if serde_json::to_vec(value).map_or(usize::MAX, |b| b.len()) > MAX_VALUE_BYTES {
        return Err(DomainError::invalid(format!(
            "{what} exceeds {MAX_VALUE_BYTES} bytes"
        )));
    }
    crate::text::check_strings(value)
}

impl Execution {
    fn outputs(&self) -> BTreeMap<String, Value> {
        self.steps
            .iter()
            .filter_map(|(k, s)| s.output.clone().map(|o| (k.clone(), o)))
            .collect()
    }

    /// The steps that may start: waiting, with every step before them
    /// succeeded, in the spec's order.
    fn ready(&self) -> Vec<&str> {
        self.spec
            .steps
            .iter()
            .map(|s| s.key.as_str())
            .filter(|key| {
                self.steps
                    .get(*key)
                    .is_some_and(|s| s.status == StepStatus::Waiting)
                    && self.spec.edges.iter().filter(|e| e.to == *key).all(|e| {
                        self.steps
                            .get(&e.from)
                            .is_some_and(|s| s.status == StepStatus::Succeeded)
                    })
            })
            .collect()
    }

    /// What follows once the state is `self`: the ready steps started (or,
    /// when one's input cannot be made, the execution failed), or the
    /// execution completed when every step has succeeded.
    fn advance(&self, at: DateTime<Utc>) -> Vec<ExecutionEvent> {
        if self.status != ExecutionStatus::Running {
            return vec![];
        }
        if self
            .steps
            .values()
            .all(|s| s.status == StepStatus::Succeeded)
        {
            return vec![ExecutionEvent::ExecutionCompleted];
        }
        let outputs = self.outputs();
        let mut events = Vec::new();
        for key in self.ready() {
            let Some(step) = self.spec.steps.iter().find(|s| s.key == key) else {
                continue;
            };
            // A step failed and retried waits like one never started, and
            // starts with its next attempt.
            let attempt = self.steps.get(key).map_or(0, |run| run.attempt) + 1;
            match resolve(&step.input, &self.input, &outputs) {
                Ok(input) => events.push(ExecutionEvent::StepStarted {
                    step: key.to_owned(),
                    attempt,
                    input,
                    deadline: at + Duration::seconds(i64::from(step.timeout_seconds)),
                }),
                Err(error) => {
                    return vec![ExecutionEvent::ExecutionFailed {
                        step: key.to_owned(),
                        error,
                    }];
                }
            }
        }
        events
    }

    /// The events of attempt `attempt` of `step` failing with `error`: the
    /// step waits for its next attempt while its retries last (started by
    /// [`Execution::advance`], so not while paused), else the execution fails.
    fn fail_step(&self, step: &str, attempt: u32, error: String) -> Vec<ExecutionEvent> {
        let Some(spec) = self.spec.steps.iter().find(|s| s.key == step) else {
            return vec![];
        };
        let retried = attempt <= spec.retries;
        let mut events = vec![ExecutionEvent::StepFailed {
            step: step.to_owned(),
            attempt,
            error: error.clone(),
            retried,
        }];
        if !retried {
            events.push(ExecutionEvent::ExecutionFailed {
                step: step.to_owned(),
                error,
            });
        }
        events
    }

    /// The attempt under way of `step`, if it is `attempt`: a report of
    /// another (an earlier one, timed out and retried) changes nothing.
    fn current(&self, step: &str, attempt: u32) -> Result<bool, DomainError> {
        let run = self
            .steps
            .get(step)
            .ok_or_else(|| DomainError::invalid(format!("the workflow has no step `{step}`")))?;
        Ok(run.status == StepStatus::Running && run.attempt == attempt)
    }
}

fn over(state: &Execution, action: &'static str) -> DomainError {
    DomainError::InvalidTransition {
        entity: "execution",
        action,
        state: format!("{:?}", state.status).to_lowercase(),
    }
}

/// Applies `events` to a copy of `state` and adds what follows from them.
fn then_advance(
    state: &Execution,
    mut events: Vec<ExecutionEvent>,
    at: DateTime<Utc>,
) -> Vec<ExecutionEvent> {
    let after = events.iter().fold(state.clone(), Execution::evolve);
    if !after.status.is_over() {
        events.extend(after.advance(at));
    }
    events
}

impl Aggregate for Execution {
    type Command = ExecutionCommand;
    type Event = ExecutionEvent;
    type Id = Uuid;
    const STREAM_PREFIX: &'static str = "execution";
    const ENTITY: &'static str = "execution";

    fn owner(&self) -> Option<TenantId> {
        self.exists.then_some(self.tenant_id)
    }

    fn decide(state: &Self, command: ExecutionCommand) -> Result<Vec<ExecutionEvent>, DomainError> {
        use ExecutionCommand as C;
        use ExecutionEvent as E;
        if !state.exists && !matches!(command, C::Start { .. }) {
            return Err(DomainError::NotFound("execution"));
        }
        match command {
            C::Start {
                tenant_id,
                workflow_id,
                version,
                spec,
                input,
                at,
            } => {
                if state.exists {
                    return Err(DomainError::AlreadyExists("execution"));
                }
                spec.check()?;
                check_value("input", &input)?;
                let started = E::ExecutionStarted {
                    tenant_id,
                    workflow_id,
                    version,
                    spec,
                    input,
                };
                Ok(then_advance(state, vec![started], at))
            }
            C::StepSucceeded {
                step,
                attempt,
                output,
                at,
            } => {
                if state.status.is_over() || !state.current(&step, attempt)? {
                    return Ok(vec![]);
                }
                // An output the execution cannot keep fails the attempt,
                // saying why, rather than leaving it to time out.
                let events = match check_value("output", &output) {
                    Ok(()) => vec![E::StepSucceeded {
                        step,
                        attempt,
                        output,
                    }],
                    Err(e) => {
                        state.fail_step(&step, attempt, format!("the output was refused: {e}"))
                    }
                };
                Ok(then_advance(state, events, at))
            }
            C::StepFailed {
                step,
                attempt,
                error,
                at,
            } => {
                if state.status.is_over() || !state.current(&step, attempt)? {
                    return Ok(vec![]);
                }
                let error = crate::text::clean(&error, MAX_ERROR_BYTES);
                Ok(then_advance(
                    state,
                    state.fail_step(&step, attempt, error),
                    at,
                ))
            }
            C::StartCall { step, attempt } => {
                if state.status.is_over() || !state.current(&step, attempt)? {
                    return Ok(vec![]);
                }
                let called = state.steps.get(&step).is_some_and(|run| run.called);
                Ok(if called {
                    vec![]
                } else {
                    vec![E::ToolCallStarted { step, attempt }]
                })
            }
            C::TimeOut { at } => {
                if state.status.is_over() {
                    return Ok(vec![]);
                }
                let mut events = Vec::new();
                let mut now = state.clone();
                let late: Vec<(String, u32, u32)> = state
                    .steps
                    .iter()
                    .filter(|(_, s)| {
                        s.status == StepStatus::Running && s.deadline.is_some_and(|d| d <= at)
                    })
                    .map(|(k, s)| {
                        let timeout = state
                            .spec
                            .steps
                            .iter()
                            .find(|spec| spec.key == *k)
                            .map_or(0, |spec| spec.timeout_seconds);
                        (k.clone(), s.attempt, timeout)
                    })
                    .collect();
                for (step, attempt, timeout) in late {
                    if now.status.is_over() {
                        break;
                    }
                    let error = format!("no result within {timeout} s");
                    for event in now.fail_step(&step, attempt, error) {
                        now = Execution::evolve(now, &event);
                        events.push(event);
                    }
                }
                if !events.is_empty() && !now.status.is_over() {
                    events.extend(now.advance(at));
                }
                Ok(events)
            }
            C::Pause => match state.status {
                ExecutionStatus::Running => Ok(vec![E::ExecutionPaused]),
                ExecutionStatus::Paused => Ok(vec![]),
                _ => Err(over(state, "pause")),
            },
            C::Resume { at } => match state.status {
                ExecutionStatus::Paused => Ok(then_advance(state, vec![E::ExecutionResumed], at)),
                ExecutionStatus::Running => Ok(vec![]),
                _ => Err(over(state, "resume")),
            },
            C::Cancel { reason } => {
                if state.status.is_over() {
                    return if state.status == ExecutionStatus::Cancelled {
                        Ok(vec![])
                    } else {
                        Err(over(state, "cancel"))
                    };
                }
                crate::text::check_name("reason", &reason, 1000)?;
                Ok(vec![E::ExecutionCancelled { reason }])
            }
        }
    }

    fn evolve(mut state: Self, event: &ExecutionEvent) -> Self {
        use ExecutionEvent as E;
        match event {
            E::ExecutionStarted {
                tenant_id,
                workflow_id,
                version,
                spec,
                input,
            } => {
                state.exists = true;
                state.tenant_id = *tenant_id;
                state.workflow_id = *workflow_id;
                state.version = *version;
                state.input = input.clone();
                state.steps = spec
                    .steps
                    .iter()
                    .map(|s| (s.key.clone(), StepRun::default()))
                    .collect();
                state.spec = spec.clone();
            }
            E::StepStarted {
                step,
                attempt,
                deadline,
                ..
            } => {
                if let Some(run) = state.steps.get_mut(step) {
                    run.status = StepStatus::Running;
                    run.attempt = *attempt;
                    run.deadline = Some(*deadline);
                    run.called = false;
                }
            }
            E::ToolCallStarted { step, .. } => {
                if let Some(run) = state.steps.get_mut(step) {
                    run.called = true;
                }
            }
            E::StepSucceeded { step, output, .. } => {
                if let Some(run) = state.steps.get_mut(step) {
                    run.status = StepStatus::Succeeded;
                    run.output = Some(output.clone());
                    run.deadline = None;
                }
            }
            E::StepFailed {
                step,
                error,
                retried,
                ..
            } => {
                if let Some(run) = state.steps.get_mut(step) {
                    run.status = if *retried {
                        StepStatus::Waiting
                    } else {
                        StepStatus::Failed
                    };
                    run.error = Some(error.clone());
                    run.deadline = None;
                }
            }
            E::ExecutionPaused => state.status = ExecutionStatus::Paused,
            E::ExecutionResumed => state.status = ExecutionStatus::Running,
            E::ExecutionCompleted => state.status = ExecutionStatus::Completed,
            E::ExecutionFailed { .. } => state.status = ExecutionStatus::Failed,
            E::ExecutionCancelled { .. } => state.status = ExecutionStatus::Cancelled,
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{given, given_no_events};
    use crate::workflow::{Edge, Step, StepAction};
    use serde_json::json;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + Duration::seconds(1_800_000_000 + seconds)
    }

    fn step(key: &str, input: Value, retries: u32) -> Step {
        Step {
            key: key.into(),
            action: StepAction::Agent {
                agent_kind: "writer".into(),
                task_type: key.into(),
            },
            input,
            timeout_seconds: 60,
            retries,
        }
    }

    /// fetch → (summarise, translate) → publish.
    fn spec() -> WorkflowSpec {
        let edge = |from: &str, to: &str| Edge {
            from: from.into(),
            to: to.into(),
        };
        WorkflowSpec {
            steps: vec![
                step("fetch", json!({ "url": "$input.url" }), 1),
                step(
                    "summarise",
                    json!({ "text": "$steps.fetch.output.body" }),
                    0,
                ),
                step(
                    "translate",
                    json!({ "text": "$steps.fetch.output.body", "to": "pt" }),
                    0,
                ),
                step(
                    "publish",
                    json!({ "parts": ["$steps.summarise.output", "$steps.translate.output"] }),
                    0,
                ),
            ],
            edges: vec![
                edge("fetch", "summarise"),
                edge("fetch", "translate"),
                edge("summarise", "publish"),
                edge("translate", "publish"),
            ],
        }
    }

    fn started() -> ExecutionEvent {
        ExecutionEvent::ExecutionStarted {
            tenant_id: TenantId(Uuid::nil()),
            workflow_id: Uuid::nil(),
            version: 1,
            spec: spec(),
            input: json!({ "url": "https://example.com/post" }),
        }
    }

    fn step_started(step: &str, attempt: u32, input: Value, seconds: i64) -> ExecutionEvent {
        ExecutionEvent::StepStarted {
            step: step.into(),
            attempt,
            input,
            deadline: at(seconds + 60),
        }
    }

    fn succeeded(step: &str, output: Value) -> ExecutionEvent {
        ExecutionEvent::StepSucceeded {
            step: step.into(),
            attempt: 1,
            output,
        }
    }

    fn fetched() -> [ExecutionEvent; 3] {
        [
            started(),
            step_started("fetch", 1, json!({ "url": "https://example.com/post" }), 0),
            succeeded("fetch", json!({ "body": "hello" })),
        ]
    }

    #[test]
    fn starting_starts_the_steps_nothing_waits_for_with_their_input_mapped() {
        given_no_events::<Execution>()
            .when(ExecutionCommand::Start {
                tenant_id: TenantId(Uuid::nil()),
                workflow_id: Uuid::nil(),
                version: 1,
                spec: spec(),
                input: json!({ "url": "https://example.com/post" }),
                at: at(0),
            })
            .then([
                started(),
                step_started("fetch", 1, json!({ "url": "https://example.com/post" }), 0),
            ]);
    }

    #[test]
    fn a_step_done_starts_the_steps_that_waited_for_it_and_the_last_completes() {
        given::<Execution>([
            started(),
            step_started("fetch", 1, json!({ "url": "https://example.com/post" }), 0),
        ])
        .when(ExecutionCommand::StepSucceeded {
            step: "fetch".into(),
            attempt: 1,
            output: json!({ "body": "hello" }),
            at: at(5),
        })
        .then([
            succeeded("fetch", json!({ "body": "hello" })),
            step_started("summarise", 1, json!({ "text": "hello" }), 5),
            step_started("translate", 1, json!({ "text": "hello", "to": "pt" }), 5),
        ]);

        let mut history = fetched().to_vec();
        history.push(step_started("summarise", 1, json!({ "text": "hello" }), 5));
        history.push(step_started(
            "translate",
            1,
            json!({ "text": "hello", "to": "pt" }),
            5,
        ));
        history.push(succeeded("summarise", json!("hi")));
        // `publish` waits for both.
        given::<Execution>(history.clone())
            .when(ExecutionCommand::StepSucceeded {
                step: "translate".into(),
                attempt: 1,
                output: json!("olá"),
                at: at(9),
            })
            .then([
                succeeded("translate", json!("olá")),
                step_started("publish", 1, json!({ "parts": ["hi", "olá"] }), 9),
            ]);
        history.push(succeeded("translate", json!("olá")));
        history.push(step_started(
            "publish",
            1,
            json!({ "parts": ["hi", "olá"] }),
            9,
        ));
        let done = given::<Execution>(history)
            .when(ExecutionCommand::StepSucceeded {
                step: "publish".into(),
                attempt: 1,
                output: json!({ "url": "https://example.com/digest" }),
                at: at(12),
            })
            .then([
                succeeded("publish", json!({ "url": "https://example.com/digest" })),
                ExecutionEvent::ExecutionCompleted,
            ]);
        assert_eq!(done.status, ExecutionStatus::Completed);
    }

    #[test]
    fn a_failure_is_retried_as_the_step_says_then_fails_the_execution() {
        let first = step_started("fetch", 1, json!({ "url": "https://example.com/post" }), 0);
        let failed = |attempt| ExecutionCommand::StepFailed {
            step: "fetch".into(),
            attempt,
            error: "503 from the site".into(),
            at: at(10),
        };
        given::<Execution>([started(), first.clone()])
            .when(failed(1))
            .then([
                ExecutionEvent::StepFailed {
                    step: "fetch".into(),
                    attempt: 1,
                    error: "503 from the site".into(),
                    retried: true,
                },
                step_started("fetch", 2, json!({ "url": "https://example.com/post" }), 10),
            ]);
        let second = step_started("fetch", 2, json!({ "url": "https://example.com/post" }), 10);
        let retried = ExecutionEvent::StepFailed {
            step: "fetch".into(),
            attempt: 1,
            error: "503 from the site".into(),
            retried: true,
        };
        let over = given::<Execution>([started(), first.clone(), retried.clone(), second.clone()])
            .when(failed(2))
            .then([
                ExecutionEvent::StepFailed {
                    step: "fetch".into(),
                    attempt: 2,
                    error: "503 from the site".into(),
                    retried: false,
                },
                ExecutionEvent::ExecutionFailed {
                    step: "fetch".into(),
                    error: "503 from the site".into(),
                },
            ]);
        assert_eq!(over.status, ExecutionStatus::Failed);
        // A late report of the first attempt changes nothing.
        given::<Execution>([started(), first, retried, second])
            .when(ExecutionCommand::StepSucceeded {
                step: "fetch".into(),
                attempt: 1,
                output: json!({}),
                at: at(11),
            })
            .then_nothing_happens();
    }

    #[test]
    fn an_attempt_past_its_deadline_times_out_like_a_failure() {
        let first = step_started("fetch", 1, json!({ "url": "https://example.com/post" }), 0);
        given::<Execution>([started(), first.clone()])
            .when(ExecutionCommand::TimeOut { at: at(59) })
            .then_nothing_happens();
        given::<Execution>([started(), first])
            .when(ExecutionCommand::TimeOut { at: at(60) })
            .then([
                ExecutionEvent::StepFailed {
                    step: "fetch".into(),
                    attempt: 1,
                    error: "no result within 60 s".into(),
                    retried: true,
                },
                step_started("fetch", 2, json!({ "url": "https://example.com/post" }), 60),
            ]);
    }

    #[test]
    fn a_tool_call_is_made_once_per_attempt() {
        let first = step_started("fetch", 1, json!({ "url": "https://example.com/post" }), 0);
        let start = || ExecutionCommand::StartCall {
            step: "fetch".into(),
            attempt: 1,
        };
        given::<Execution>([started(), first.clone()])
            .when(start())
            .then([ExecutionEvent::ToolCallStarted {
                step: "fetch".into(),
                attempt: 1,
            }]);
        let called = ExecutionEvent::ToolCallStarted {
            step: "fetch".into(),
            attempt: 1,
        };
        given::<Execution>([started(), first.clone(), called.clone()])
            .when(start())
            .then_nothing_happens();
        // Its next attempt is called afresh; the old one no more.
        let retried = ExecutionEvent::StepFailed {
            step: "fetch".into(),
            attempt: 1,
            error: "no result within 60 s".into(),
            retried: true,
        };
        let second = step_started("fetch", 2, json!({ "url": "https://example.com/post" }), 60);
        let history = [started(), first, called, retried, second];
        given::<Execution>(history.clone())
            .when(start())
            .then_nothing_happens();
        given::<Execution>(history)
            .when(ExecutionCommand::StartCall {
                step: "fetch".into(),
                attempt: 2,
            })
            .then([ExecutionEvent::ToolCallStarted {
                step: "fetch".into(),
                attempt: 2,
            }]);
    }

    #[test]
    fn paused_nothing_new_starts_until_resumed_and_cancelled_is_final() {
        let mut history = vec![
            started(),
            step_started("fetch", 1, json!({ "url": "https://example.com/post" }), 0),
            ExecutionEvent::ExecutionPaused,
        ];
        given::<Execution>(history.clone())
            .when(ExecutionCommand::StepSucceeded {
                step: "fetch".into(),
                attempt: 1,
                output: json!({ "body": "hello" }),
                at: at(5),
            })
            .then([succeeded("fetch", json!({ "body": "hello" }))]);
        history.push(succeeded("fetch", json!({ "body": "hello" })));
        given::<Execution>(history.clone())
            .when(ExecutionCommand::Resume { at: at(30) })
            .then([
                ExecutionEvent::ExecutionResumed,
                step_started("summarise", 1, json!({ "text": "hello" }), 30),
                step_started("translate", 1, json!({ "text": "hello", "to": "pt" }), 30),
            ]);
        history.push(ExecutionEvent::ExecutionCancelled {
            reason: "not needed".into(),
        });
        given::<Execution>(history.clone())
            .when(ExecutionCommand::Resume { at: at(31) })
            .then_refused(|e| matches!(e, DomainError::InvalidTransition { .. }));
        given::<Execution>(history)
            .when(ExecutionCommand::Cancel {
                reason: "again".into(),
            })
            .then_nothing_happens();
    }

    #[test]
    fn paused_a_failed_step_waits_for_its_retry_until_resumed() {
        let history = [
            started(),
            step_started("fetch", 1, json!({ "url": "https://example.com/post" }), 0),
            ExecutionEvent::ExecutionPaused,
        ];
        let failed = ExecutionEvent::StepFailed {
            step: "fetch".into(),
            attempt: 1,
            error: "503 from the site".into(),
            retried: true,
        };
        given::<Execution>(history.clone())
            .when(ExecutionCommand::StepFailed {
                step: "fetch".into(),
                attempt: 1,
                error: "503 from the site".into(),
                at: at(10),
            })
            .then([failed.clone()]);
        given::<Execution>(history)
            .and(failed)
            .when(ExecutionCommand::Resume { at: at(20) })
            .then([
                ExecutionEvent::ExecutionResumed,
                step_started("fetch", 2, json!({ "url": "https://example.com/post" }), 20),
            ]);
    }

    #[test]
    fn a_report_the_execution_cannot_keep_fails_the_attempt_saying_why() {
        let running = [
            started(),
            step_started("fetch", 1, json!({ "url": "https://example.com/post" }), 0),
        ];
        given::<Execution>(running.clone())
            .when(ExecutionCommand::StepSucceeded {
                step: "fetch".into(),
                attempt: 1,
                output: json!({ "body": "bad\u{0}byte" }),
                at: at(5),
            })
            .then_events(|events| {
                assert!(
                    matches!(&events[0], ExecutionEvent::StepFailed { error, retried: true, .. } if error.contains("output was refused")),
                    "{events:?}"
                );
            });
        given::<Execution>(running)
            .when(ExecutionCommand::StepFailed {
                step: "fetch".into(),
                attempt: 1,
                error: format!("bad\u{0}{}", "x".repeat(10_000)),
                at: at(5),
            })
            .then_events(|events| {
                assert!(
                    matches!(&events[0], ExecutionEvent::StepFailed { error, .. } if !error.contains('\u{0}') && error.len() <= MAX_ERROR_BYTES),
                    "{events:?}"
                );
            });
    }

    #[test]
    fn a_mapping_cannot_blow_an_input_up() {
        let big = json!({ "text": "x".repeat(MAX_VALUE_BYTES / 2) });
        let outputs = BTreeMap::new();
        assert!(
            resolve(&json!(["$input", "$input"]), &big, &outputs)
                .is_err_and(|e| e.contains("exceed"))
        );
        assert!(resolve(&json!(["$input"]), &big, &outputs).is_ok());
    }

    #[test]
    fn a_mapping_that_names_nothing_fails_the_execution_with_where() {
        let failed = given::<Execution>([
            started(),
            step_started("fetch", 1, json!({ "url": "https://example.com/post" }), 0),
        ])
        .when(ExecutionCommand::StepSucceeded {
            step: "fetch".into(),
            attempt: 1,
            output: json!({ "no_body": true }),
            at: at(5),
        })
        .then([
            succeeded("fetch", json!({ "no_body": true })),
            ExecutionEvent::ExecutionFailed {
                step: "summarise".into(),
                error: "`$steps.fetch.output.body` names nothing in `fetch`'s output".into(),
            },
        ]);
        assert_eq!(failed.status, ExecutionStatus::Failed);
    }

    #[test]
    fn mappings_reach_into_objects_and_arrays() {
        let outputs = BTreeMap::from([("a".to_owned(), json!({ "items": [{ "id": 7 }] }))]);
        let resolved = resolve(
            &json!({ "first": "$steps.a.output.items.0.id", "all": "$steps.a.output", "n": 3, "s": "plain" }),
            &json!({}),
            &outputs,
        );
        assert_eq!(
            resolved,
            Ok(json!({ "first": 7, "all": { "items": [{ "id": 7 }] }, "n": 3, "s": "plain" }))
        );
        assert!(resolve(&json!("$input.missing"), &json!({}), &outputs).is_err());
    }
}
