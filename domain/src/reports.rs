//! What agents report: actions (the operation log) and LLM runs. These are
//! facts without an aggregate to check them against, so deciding is validating.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::DomainError;
use crate::ids::{AgentId, TaskId};
use crate::stream::Category;
use crate::text;

/// Each agent's actions: `actions-<agent>`.
pub const ACTIONS: Category = Category::new("actions");
/// Each agent's LLM runs: `runs-<agent>`.
pub const RUNS: Category = Category::new("runs");

pub const MAX_REQUEST_DATA_BYTES: usize = 16 * 1024;
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
pub const MAX_REASONING_BYTES: usize = 8 * 1024;
/// Most actions one batch call may record.
pub const MAX_BATCH: usize = 1000;
/// Most tokens one run may report, per kind: far above any model's context.
pub const MAX_TOKENS: u64 = 100_000_000;
/// Longest duration an action or a run may report: a day, in milliseconds.
/// With this and the other maxima, a day's sums stay far inside the read
/// models' integers (which saturate besides: `projections::engine::CAP`).
pub const MAX_DURATION_MS: u64 = 86_400_000;
/// Most one run may cost, in US dollars.
pub const MAX_RUN_COST_USD: f64 = 10_000.0;
/// Longest client-given id (resource, member, session).
pub const MAX_ID_BYTES: usize = 200;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    Success,
    Failed,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Success,
    Failed,
    Timeout,
    CircuitOpen,
}

crate::names::snake_case_names!(ActionStatus {
    Success => "success",
    Failed => "failed",
});

crate::names::snake_case_names!(RunStatus {
    Success => "success",
    Failed => "failed",
    Timeout => "timeout",
    CircuitOpen => "circuit_open",
});

impl RunStatus {
    /// Whether a run that ended this way raises an alert.
    pub fn is_failure(self) -> bool {
        !matches!(self, RunStatus::Success)
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionReport {
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub status: ActionStatus,
    pub confidence: Option<f64>,
    pub reasoning: Option<String>,
    pub request_data: Option<Value>,
    #[cfg_attr(feature = "openapi", schema(maximum = 86_400_000))]
    pub execution_time_ms: Option<u64>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunReport {
    pub app_type: String,
    pub trigger_type: String,
    pub member_id: Option<String>,
    pub model: String,
    #[cfg_attr(feature = "openapi", schema(maximum = 100_000_000))]
    pub prompt_tokens: u64,
    #[cfg_attr(feature = "openapi", schema(maximum = 100_000_000))]
    pub completion_tokens: u64,
    /// Cost in US dollars as reported; stored as integer micro-dollars.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 10_000))]
    pub cost_usd: f64,
    #[cfg_attr(feature = "openapi", schema(maximum = 86_400_000))]
    pub latency_ms: u64,
    pub status: RunStatus,
    pub error_message: Option<String>,
    pub session_id: Option<String>,
    pub prompt: Option<String>,
    pub response: Option<String>,
    /// The task the run was made for, which the reporting agent holds: its
    /// tokens and cost count towards the task's execution, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Uuid))]
    pub task_id: Option<TaskId>,
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames, strum::EnumDiscriminants,
)]
#[strum_discriminants(
    name(ReportEventType),
    derive(Hash, strum::IntoStaticStr, strum::VariantArray),
    strum(const_into_str)
)]
#[serde(tag = "type", content = "data")]
pub enum ReportEvent {
    ActionRecorded {
        agent_id: AgentId,
        action: String,
        resource_type: String,
        resource_id: Option<String>,
        status: ActionStatus,
        confidence: Option<f64>,
        reasoning: Option<String>,
        request_data: Option<Value>,
        execution_time_ms: Option<u64>,
    },
    LlmRunRecorded {
        agent_id: AgentId,
        app_type: String,
        trigger_type: String,
        member_id: Option<String>,
        model: String,
        prompt_tokens: u64,
        completion_tokens: u64,
        cost_micros: i64,
        latency_ms: u64,
        status: RunStatus,
        error_message: Option<String>,
        session_id: Option<String>,
        prompt: Option<String>,
        response: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task_id: Option<TaskId>,
    },
}

/// A client-given id, when present: a name of at most `MAX_ID_BYTES`.
fn check_id(what: &str, value: Option<&str>) -> Result<(), DomainError> {
    value.map_or(Ok(()), |v| text::check_name(what, v, MAX_ID_BYTES))
}

fn check_duration(what: &str, ms: Option<u64>) -> Result<(), DomainError> {
    if ms.is_some_and(|ms| ms > MAX_DURATION_MS) {
        return Err(DomainError::invalid(format!(
            "{what} must be at most {MAX_DURATION_MS} (a day)"
        )));
    }
    Ok(())
}

pub fn record_action(agent_id: AgentId, r: ActionReport) -> Result<ReportEvent, DomainError> {
    DomainError::check_label("action", &r.action)?;
    DomainError::check_label("resource_type", &r.resource_type)?;
    check_id("resource_id", r.resource_id.as_deref())?;
    text::check_text("reasoning", r.reasoning.as_deref(), MAX_REASONING_BYTES)?;
    check_duration("execution_time_ms", r.execution_time_ms)?;
    if let Some(c) = r.confidence
        && !(0.0..=1.0).contains(&c)
    {
        return Err(DomainError::invalid("confidence must be between 0 and 1"));
    }
    if r.request_data
        .as_ref()
        .is_some_and(|d| d.to_string().len() > MAX_REQUEST_DATA_BYTES)
    {
        return Err(DomainError::invalid(format!(
            "request_data exceeds {MAX_REQUEST_DATA_BYTES} bytes"
        )));
    }
    Ok(ReportEvent::ActionRecorded {
        agent_id,
        action: r.action,
        resource_type: r.resource_type,
        resource_id: r.resource_id,
        status: r.status,
        confidence: r.confidence,
        reasoning: r.reasoning,
        request_data: r.request_data,
        execution_time_ms: r.execution_time_ms,
    })
}

pub fn record_run(agent_id: AgentId, r: RunReport) -> Result<ReportEvent, DomainError> {
    DomainError::check_label("app_type", &r.app_type)?;
    DomainError::check_label("trigger_type", &r.trigger_type)?;
    DomainError::check_label("model", &r.model)?;
    check_id("member_id", r.member_id.as_deref())?;
    check_id("session_id", r.session_id.as_deref())?;
    text::check_text(
        "error_message",
        r.error_message.as_deref(),
        MAX_REASONING_BYTES,
    )?;
    text::check_text("prompt", r.prompt.as_deref(), MAX_TEXT_BYTES)?;
    text::check_text("response", r.response.as_deref(), MAX_TEXT_BYTES)?;
    check_duration("latency_ms", Some(r.latency_ms))?;
    if r.prompt_tokens > MAX_TOKENS || r.completion_tokens > MAX_TOKENS {
        return Err(DomainError::invalid(format!(
            "token counts must be at most {MAX_TOKENS}"
        )));
    }
    if !r.cost_usd.is_finite() || !(0.0..=MAX_RUN_COST_USD).contains(&r.cost_usd) {
        return Err(DomainError::invalid(format!(
            "cost_usd must be between 0 and {MAX_RUN_COST_USD}"
        )));
    }
    Ok(ReportEvent::LlmRunRecorded {
        agent_id,
        app_type: r.app_type,
        trigger_type: r.trigger_type,
        member_id: r.member_id,
        model: r.model,
        prompt_tokens: r.prompt_tokens,
        completion_tokens: r.completion_tokens,
        cost_micros: (r.cost_usd * 1e6).round() as i64,
        latency_ms: r.latency_ms,
        status: r.status,
        error_message: r.error_message,
        session_id: r.session_id,
        prompt: r.prompt,
        response: r.response,
        task_id: r.task_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn action() -> ActionReport {
        ActionReport {
            action: "approve_post".into(),
            resource_type: "post".into(),
            resource_id: Some("p-1".into()),
            status: ActionStatus::Success,
            confidence: Some(0.9),
            reasoning: Some("clean".into()),
            request_data: Some(json!({ "id": 1 })),
            execution_time_ms: Some(12),
        }
    }

    fn run() -> RunReport {
        RunReport {
            app_type: "moderation".into(),
            trigger_type: "schedule".into(),
            member_id: None,
            model: "m-1".into(),
            prompt_tokens: 100,
            completion_tokens: 20,
            cost_usd: 0.0123456,
            latency_ms: 800,
            status: RunStatus::Timeout,
            error_message: Some("slow".into()),
            session_id: None,
            prompt: None,
            response: None,
            task_id: None,
        }
    }

    #[test]
    fn a_valid_action_becomes_an_event_and_invalid_ones_are_refused() {
        assert!(matches!(
            record_action(AgentId::new(), action()),
            Ok(ReportEvent::ActionRecorded { .. })
        ));
        let cases: Vec<fn(&mut ActionReport)> = vec![
            |a| a.action.clear(),
            |a| a.resource_type = "x".repeat(101),
            |a| a.confidence = Some(1.5),
            |a| a.confidence = Some(-0.1),
            |a| a.reasoning = Some("x".repeat(MAX_REASONING_BYTES + 1)),
            |a| a.request_data = Some(json!("x".repeat(MAX_REQUEST_DATA_BYTES))),
            |a| a.action = "a\u{0}b".into(),
            |a| a.resource_id = Some("p\n1".into()),
            |a| a.reasoning = Some("\u{0}".into()),
            |a| a.execution_time_ms = Some(u64::MAX),
            |a| a.execution_time_ms = Some(MAX_DURATION_MS + 1),
        ];
        for change in cases {
            let mut a = action();
            change(&mut a);
            assert!(matches!(
                record_action(AgentId::new(), a),
                Err(DomainError::Invalid(_))
            ));
        }
    }

    #[test]
    fn run_cost_is_stored_in_micro_dollars() {
        let event = record_run(AgentId::new(), run());
        assert!(matches!(
            event,
            Ok(ReportEvent::LlmRunRecorded {
                cost_micros: 12346,
                ..
            })
        ));
        let mut bad = run();
        bad.cost_usd = f64::NAN;
        assert!(record_run(AgentId::new(), bad).is_err());
        let mut bad = run();
        bad.prompt_tokens = u64::MAX;
        assert!(record_run(AgentId::new(), bad).is_err());
        let mut bad = run();
        bad.latency_ms = u64::MAX;
        assert!(record_run(AgentId::new(), bad).is_err());
        let mut bad = run();
        bad.cost_usd = MAX_RUN_COST_USD * 2.0;
        assert!(record_run(AgentId::new(), bad).is_err());
        let mut bad = run();
        bad.response = Some("text\u{0}".into());
        assert!(record_run(AgentId::new(), bad).is_err());
        let mut bad = run();
        bad.model.clear();
        assert!(record_run(AgentId::new(), bad).is_err());
        assert!(RunStatus::CircuitOpen.is_failure() && !RunStatus::Success.is_failure());
    }
}
