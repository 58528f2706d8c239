//! Alerts: raised by the alert policy (a reactor) when something went wrong,
//! then acknowledged or ignored by an operator.

use serde::{Deserialize, Serialize};

use crate::aggregate::Aggregate;
use crate::error::DomainError;
use crate::ids::TenantId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// What raised the alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertSource {
    LlmRun,
    Task,
    Agent,
    Budget,
    /// A read model that stopped at an event it cannot apply.
    ReadModel,
    /// A webhook subscription the server stopped delivering to.
    Webhook,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    #[default]
    Pending,
    Acknowledged,
    Ignored,
}

crate::names::snake_case_names!(Severity {
    Info => "info",
    Warning => "warning",
    Critical => "critical",
});

crate::names::snake_case_names!(AlertSource {
    LlmRun => "llm_run",
    Task => "task",
    Agent => "agent",
    Budget => "budget",
    ReadModel => "read_model",
    Webhook => "webhook",
});

crate::names::snake_case_names!(AlertStatus {
    Pending => "pending",
    Acknowledged => "acknowledged",
    Ignored => "ignored",
});

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Alert {
    pub exists: bool,
    pub tenant_id: TenantId,
    pub status: AlertStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RaisedAlert {
    pub tenant_id: TenantId,
    pub source: AlertSource,
    pub severity: Severity,
    pub title: String,
    pub detail: String,
    /// The object the alert is about: a run's event id, a task, an agent, a budget period.
    pub subject: String,
}

#[derive(Debug, Clone)]
pub enum AlertCommand {
    Raise(RaisedAlert),
    Acknowledge { note: Option<String> },
    Ignore { note: Option<String> },
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames, strum::EnumDiscriminants,
)]
#[strum_discriminants(
    name(AlertEventType),
    derive(Hash, strum::IntoStaticStr, strum::VariantArray),
    strum(const_into_str)
)]
#[serde(tag = "type", content = "data")]
pub enum AlertEvent {
    AlertRaised(RaisedAlert),
    AlertAcknowledged { note: Option<String> },
    AlertIgnored { note: Option<String> },
}

impl Alert {
    fn handle(
        &self,
        target: AlertStatus,
        note: Option<String>,
    ) -> Result<Vec<AlertEvent>, DomainError> {
        if !self.exists {
            return Err(DomainError::NotFound("alert"));
        }
        if note.as_ref().is_some_and(|n| n.chars().count() > 2000) {
            return Err(DomainError::invalid("note exceeds 2000 characters"));
        }
        match (self.status, target) {
            (current, wanted) if current == wanted => Ok(vec![]),
            (AlertStatus::Pending, AlertStatus::Acknowledged) => {
                Ok(vec![AlertEvent::AlertAcknowledged { note }])
            }
            (AlertStatus::Pending, AlertStatus::Ignored) => {
                Ok(vec![AlertEvent::AlertIgnored { note }])
            }
            (current, wanted) => Err(DomainError::InvalidTransition {
                entity: "alert",
                action: if wanted == AlertStatus::Acknowledged {
                    "acknowledge"
                } else {
                    "ignore"
                },
                state: current.to_string(),
            }),
        }
    }
}

impl Aggregate for Alert {
    type Command = AlertCommand;
    type Event = AlertEvent;
    type Id = uuid::Uuid;
    const STREAM_PREFIX: &'static str = "alert";
    const ENTITY: &'static str = "alert";

    fn owner(&self) -> Option<crate::ids::TenantId> {
        self.exists.then_some(self.tenant_id)
    }

    fn decide(state: &Self, command: AlertCommand) -> Result<Vec<AlertEvent>, DomainError> {
        match command {
            // Raising is idempotent: alert ids derive from their cause.
            AlertCommand::Raise(_) if state.exists => Ok(vec![]),
            AlertCommand::Raise(alert) => Ok(vec![AlertEvent::AlertRaised(alert)]),
            AlertCommand::Acknowledge { note } => state.handle(AlertStatus::Acknowledged, note),
            AlertCommand::Ignore { note } => state.handle(AlertStatus::Ignored, note),
        }
    }

    fn evolve(mut state: Self, event: &AlertEvent) -> Self {
        match event {
            AlertEvent::AlertRaised(alert) => {
                state.exists = true;
                state.tenant_id = alert.tenant_id;
                state.status = AlertStatus::Pending;
            }
            AlertEvent::AlertAcknowledged { .. } => state.status = AlertStatus::Acknowledged,
            AlertEvent::AlertIgnored { .. } => state.status = AlertStatus::Ignored,
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raised() -> Alert {
        let alert = RaisedAlert {
            tenant_id: TenantId::new(),
            source: AlertSource::LlmRun,
            severity: Severity::Warning,
            title: "run failed".into(),
            detail: "timeout".into(),
            subject: "run-1".into(),
        };
        let events = Alert::decide(&Alert::default(), AlertCommand::Raise(alert.clone()))
            .unwrap_or_default();
        let state = Alert::fold(&events);
        assert_eq!(
            Alert::decide(&state, AlertCommand::Raise(alert)),
            Ok(vec![]),
            "raised once"
        );
        state
    }

    #[test]
    fn repeating_a_transition_is_a_no_op_and_a_conflicting_one_is_refused() {
        let ack = || AlertCommand::Acknowledge {
            note: Some("on it".into()),
        };
        let ignore = || AlertCommand::Ignore { note: None };
        let events = Alert::decide(&raised(), ack()).unwrap_or_default();
        assert_eq!(events.len(), 1);
        let acknowledged = Alert::evolve(raised(), &events[0]);
        assert_eq!(Alert::decide(&acknowledged, ack()), Ok(vec![]));
        assert_eq!(
            Alert::decide(&acknowledged, ignore()),
            Err(DomainError::InvalidTransition {
                entity: "alert",
                action: "ignore",
                state: "acknowledged".into()
            })
        );
        let ignored = Alert::fold(
            &[
                Alert::decide(
                    &Alert::default(),
                    AlertCommand::Raise(RaisedAlert {
                        tenant_id: TenantId::new(),
                        source: AlertSource::Agent,
                        severity: Severity::Critical,
                        title: "offline".into(),
                        detail: String::new(),
                        subject: "a".into(),
                    }),
                )
                .unwrap_or_default(),
                vec![AlertEvent::AlertIgnored { note: None }],
            ]
            .concat(),
        );
        assert_eq!(Alert::decide(&ignored, ignore()), Ok(vec![]));
        assert!(matches!(
            Alert::decide(&ignored, ack()),
            Err(DomainError::InvalidTransition { .. })
        ));
        assert_eq!(
            Alert::decide(&Alert::default(), ack()),
            Err(DomainError::NotFound("alert"))
        );
    }
}
