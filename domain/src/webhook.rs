//! Webhook subscriptions. Their URLs follow the outbound address policy in
//! [`crate::address`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::address::AddressPolicy;
use crate::aggregate::Aggregate;
use crate::catalogue;
use crate::error::DomainError;
use crate::ids::{AgentId, TenantId};

pub const MAX_EVENT_TYPES: usize = 100;

/// The field name in refusals, so a client can tell which URL was refused.
const URL_FIELD: &str = "webhook url";

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Webhook {
    pub exists: bool,
    pub deleted: bool,
    pub tenant_id: TenantId,
    pub url: String,
    pub event_types: Vec<String>,
    /// The agent that subscribed it; `None` for an operator's.
    pub owner: Option<AgentId>,
    /// Why deliveries to it stopped, while they are stopped.
    pub disabled: Option<String>,
}

/// Who manages a subscription: an operator manages every one of the tenant,
/// an agent only those it made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manager {
    Operator,
    Agent(AgentId),
}

impl Webhook {
    /// Whether `manager` may see and change this subscription. Another
    /// agent's looks as if it did not exist.
    pub fn managed_by(&self, manager: Manager) -> bool {
        match manager {
            Manager::Operator => true,
            Manager::Agent(agent) => self.owner == Some(agent),
        }
    }

    /// A delivery asked for by `by` (a ping, a replay) is made only to a
    /// subscription it manages that is enabled: a disabled one would
    /// cancel it unsent.
    fn check_deliverable(&self, by: Manager, action: &'static str) -> Result<(), DomainError> {
        if !self.exists || self.deleted || !self.managed_by(by) {
            return Err(DomainError::NotFound("webhook"));
        }
        if self.disabled.is_some() {
            return Err(DomainError::InvalidTransition {
                entity: "webhook",
                action,
                state: "disabled".into(),
            });
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub enum WebhookCommand {
    Create {
        tenant_id: TenantId,
        url: String,
        event_types: Vec<String>,
        secret_hash: String,
        by: Manager,
        policy: AddressPolicy,
    },
    Update {
        url: String,
        event_types: Vec<String>,
        by: Manager,
        policy: AddressPolicy,
    },
    Delete {
        by: Manager,
    },
    /// Stops deliveries: the receiver answered 410 Gone (`by` is `None`),
    /// or its manager asked.
    Disable {
        reason: String,
        by: Option<Manager>,
    },
    Enable {
        by: Manager,
    },
    /// Asks for a test delivery to this subscription alone.
    Ping {
        by: Manager,
    },
    /// Asks for the events recorded from `from` to `to` (both included)
    /// that the subscription asks for to be delivered to it again.
    Replay {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        by: Manager,
    },
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames, strum::EnumDiscriminants,
)]
#[strum_discriminants(
    name(WebhookEventType),
    derive(Hash, strum::IntoStaticStr, strum::VariantArray),
    strum(const_into_str)
)]
#[serde(tag = "type", content = "data")]
pub enum WebhookEvent {
    WebhookSubscribed {
        tenant_id: TenantId,
        url: String,
        event_types: Vec<String>,
        secret_hash: String,
        /// Absent in subscriptions made before agents owned theirs: those
        /// are operators' to manage.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<AgentId>,
    },
    WebhookUpdated {
        url: String,
        event_types: Vec<String>,
    },
    WebhookDeleted,
    WebhookDisabled {
        reason: String,
        /// Stopped by the server (the receiver answered 410, or kept
        /// failing), not by its manager: an alert is raised.
        #[serde(default)]
        automatic: bool,
    },
    WebhookEnabled,
    /// Delivered to this subscription only, whatever it subscribed to.
    WebhookPinged,
    /// The events recorded from `from` to `to` (both included) and before
    /// this one that the subscription asks for, delivered again: under
    /// their first delivery's id when they had one, scheduled now when not.
    WebhookReplayRequested {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
}

/// A subscription names event types of the catalogue: a misspelt one would
/// never be delivered, and nobody would know why.
fn check_types(types: &[String]) -> Result<(), DomainError> {
    if types.is_empty() || types.len() > MAX_EVENT_TYPES {
        return Err(DomainError::invalid(format!(
            "event_types needs 1 to {MAX_EVENT_TYPES} names"
        )));
    }
    catalogue::check_known("event_types", types)
}

impl Aggregate for Webhook {
    type Command = WebhookCommand;
    type Event = WebhookEvent;
    type Id = uuid::Uuid;
    const STREAM_PREFIX: &'static str = "webhook";
    const ENTITY: &'static str = "webhook";

    fn owner(&self) -> Option<crate::ids::TenantId> {
        self.exists.then_some(self.tenant_id)
    }

    fn decide(state: &Self, command: WebhookCommand) -> Result<Vec<WebhookEvent>, DomainError> {
        match command {
            WebhookCommand::Create {
                tenant_id,
                url,
                event_types,
                secret_hash,
                by,
                policy,
            } => {
                if state.exists {
                    return Err(DomainError::AlreadyExists("webhook"));
                }
                policy.check_url(URL_FIELD, &url)?;
                check_types(&event_types)?;
                Ok(vec![WebhookEvent::WebhookSubscribed {
                    tenant_id,
                    url,
                    event_types,
                    secret_hash,
                    owner: match by {
                        Manager::Operator => None,
                        Manager::Agent(agent) => Some(agent),
                    },
                }])
            }
            WebhookCommand::Update {
                url,
                event_types,
                by,
                policy,
            } => {
                if !state.exists || state.deleted || !state.managed_by(by) {
                    return Err(DomainError::NotFound("webhook"));
                }
                policy.check_url(URL_FIELD, &url)?;
                check_types(&event_types)?;
                Ok(vec![WebhookEvent::WebhookUpdated { url, event_types }])
            }
            WebhookCommand::Delete { by } => {
                if !state.exists || state.deleted || !state.managed_by(by) {
                    return Err(DomainError::NotFound("webhook"));
                }
                Ok(vec![WebhookEvent::WebhookDeleted])
            }
            WebhookCommand::Disable { reason, by } => {
                if !state.exists || state.deleted || by.is_some_and(|m| !state.managed_by(m)) {
                    return Err(DomainError::NotFound("webhook"));
                }
                if state.disabled.is_some() {
                    return Ok(vec![]);
                }
                crate::text::check_text("reason", Some(&reason), 1000)?;
                Ok(vec![WebhookEvent::WebhookDisabled {
                    reason,
                    automatic: by.is_none(),
                }])
            }
            WebhookCommand::Enable { by } => {
                if !state.exists || state.deleted || !state.managed_by(by) {
                    return Err(DomainError::NotFound("webhook"));
                }
                if state.disabled.is_none() {
                    return Ok(vec![]);
                }
                Ok(vec![WebhookEvent::WebhookEnabled])
            }
            WebhookCommand::Ping { by } => {
                state.check_deliverable(by, "ping")?;
                Ok(vec![WebhookEvent::WebhookPinged])
            }
            WebhookCommand::Replay { from, to, by } => {
                state.check_deliverable(by, "replay")?;
                if from > to {
                    return Err(DomainError::invalid("`from` must not be after `to`"));
                }
                Ok(vec![WebhookEvent::WebhookReplayRequested { from, to }])
            }
        }
    }

    fn evolve(mut state: Self, event: &WebhookEvent) -> Self {
        match event {
            WebhookEvent::WebhookSubscribed {
                tenant_id,
                url,
                event_types,
                owner,
                ..
            } => {
                state.exists = true;
                state.owner = *owner;
                state.tenant_id = *tenant_id;
                state.url = url.clone();
                state.event_types = event_types.clone();
            }
            WebhookEvent::WebhookUpdated { url, event_types } => {
                state.url = url.clone();
                state.event_types = event_types.clone();
            }
            WebhookEvent::WebhookDeleted => state.deleted = true,
            WebhookEvent::WebhookDisabled { reason, .. } => state.disabled = Some(reason.clone()),
            WebhookEvent::WebhookEnabled => state.disabled = None,
            WebhookEvent::WebhookPinged | WebhookEvent::WebhookReplayRequested { .. } => {}
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_pass() {
        for url in [
            "https://hooks.example.com/x",
            "http://api.example.org:8443/a?b=1",
            "https://93.184.216.34/",
            "https://[2606:4700::1111]/",
        ] {
            assert!(crate::address::check_url(URL_FIELD, url).is_ok(), "{url}");
        }
    }

    #[test]
    fn internal_and_disguised_addresses_are_refused() {
        for url in [
            "ftp://example.com/",
            "https://localhost/",
            "http://LOCALHOST./",
            "http://app.localhost/",
            "http://127.0.0.1:8080/",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://metadata.google.internal/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[fd00:ec2::254]/",
            "http://[fe80::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "https://127.0.0.1\\.evil.com/",
            "http://169.254.169.254\\.x.io/",
            "http://127.0.0.%31/",
            "http://127.0.0.\t1/",
            "http://user:pw@example.com/",
            "http://printer/",
            "https:///nohost",
        ] {
            assert!(
                matches!(
                    crate::address::check_url(URL_FIELD, url),
                    Err(DomainError::Invalid(_))
                ),
                "{url} must be refused"
            );
        }
    }

    #[test]
    fn loopback_is_allowed_only_when_the_policy_says_and_nothing_else_is() {
        let loopback = AddressPolicy {
            allow_loopback: true,
        };
        for url in [
            "http://127.0.0.1:8080/",
            "http://localhost:9/",
            "http://[::1]/",
        ] {
            assert!(loopback.check_url(URL_FIELD, url).is_ok(), "{url}");
            assert!(crate::address::check_url(URL_FIELD, url).is_err(), "{url}");
        }
        for url in [
            "http://10.1.2.3/",
            "http://169.254.169.254/",
            "http://printer/",
            "http://app.localhost/",
        ] {
            assert!(loopback.check_url(URL_FIELD, url).is_err(), "{url}");
        }
    }

    /// An operator's subscription to `TaskFailed`.
    fn subscribed() -> WebhookEvent {
        WebhookEvent::WebhookSubscribed {
            tenant_id: TenantId::new(),
            url: "https://hooks.example.com/a".into(),
            event_types: vec!["TaskFailed".into()],
            secret_hash: "h".into(),
            owner: None,
        }
    }

    #[test]
    fn a_disabled_subscription_is_enabled_again_and_pings_only_while_enabled() {
        use crate::testing::given;
        let subscribed = subscribed();
        let gone = WebhookEvent::WebhookDisabled {
            reason: "the receiver answered 410 Gone".into(),
            automatic: true,
        };
        given::<Webhook>([subscribed.clone()])
            .when(WebhookCommand::Disable {
                reason: "the receiver answered 410 Gone".into(),
                by: None,
            })
            .then([gone.clone()]);
        given::<Webhook>([subscribed.clone(), gone.clone()])
            .when(WebhookCommand::Ping {
                by: Manager::Operator,
            })
            .then_refused(|e| matches!(e, DomainError::InvalidTransition { .. }));
        given::<Webhook>([subscribed.clone(), gone])
            .when(WebhookCommand::Enable {
                by: Manager::Operator,
            })
            .then([WebhookEvent::WebhookEnabled]);
        given::<Webhook>([subscribed])
            .when(WebhookCommand::Ping {
                by: Manager::Agent(AgentId::new()),
            })
            .then_refused(|e| matches!(e, DomainError::NotFound(_)));
    }

    #[test]
    fn a_replay_names_a_range_in_order_of_an_enabled_subscription_its_caller_manages() {
        use crate::testing::given;
        let at = |s: i64| DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::seconds(s);
        let subscribed = subscribed();
        let replay = |from, to, by| WebhookCommand::Replay { from, to, by };
        given::<Webhook>([subscribed.clone()])
            .when(replay(at(10), at(20), Manager::Operator))
            .then([WebhookEvent::WebhookReplayRequested {
                from: at(10),
                to: at(20),
            }]);
        given::<Webhook>([subscribed.clone()])
            .when(replay(at(20), at(10), Manager::Operator))
            .then_refused(|e| matches!(e, DomainError::Invalid(_)));
        given::<Webhook>([subscribed.clone()])
            .when(replay(at(10), at(20), Manager::Agent(AgentId::new())))
            .then_refused(|e| matches!(e, DomainError::NotFound(_)));
        given::<Webhook>([
            subscribed,
            WebhookEvent::WebhookDisabled {
                reason: "maintenance".into(),
                automatic: false,
            },
        ])
        .when(replay(at(10), at(20), Manager::Operator))
        .then_refused(|e| matches!(e, DomainError::InvalidTransition { .. }));
    }

    #[test]
    fn subscriptions_name_event_types_of_the_catalogue() {
        let create = |types: &[&str]| WebhookCommand::Create {
            tenant_id: TenantId::new(),
            url: "https://hooks.example.com/a".into(),
            event_types: types.iter().map(|t| t.to_string()).collect(),
            secret_hash: "h".into(),
            by: Manager::Operator,
            policy: AddressPolicy::default(),
        };
        assert!(
            Webhook::decide(&Webhook::default(), create(&["TaskFailed", "AlertRaised"])).is_ok()
        );
        let refused = Webhook::decide(&Webhook::default(), create(&["TaskFailed", "NoSuchEvent"]));
        assert!(
            matches!(&refused, Err(DomainError::Invalid(m)) if m.contains("`NoSuchEvent` is not an event type")),
            "{refused:?}"
        );
    }

    #[test]
    fn an_agent_manages_only_the_subscriptions_it_made() {
        let (mine, other) = (AgentId::new(), AgentId::new());
        let created = Webhook::decide(
            &Webhook::default(),
            WebhookCommand::Create {
                tenant_id: TenantId::new(),
                url: "https://hooks.example.com/a".into(),
                event_types: vec!["TaskFailed".into()],
                secret_hash: "h".into(),
                by: Manager::Agent(mine),
                policy: AddressPolicy::default(),
            },
        );
        let state = Webhook::fold(&created.unwrap_or_default());
        let update = |by| WebhookCommand::Update {
            url: "https://hooks.example.com/b".into(),
            event_types: vec!["TaskFailed".into()],
            by,
            policy: AddressPolicy::default(),
        };
        assert_eq!(
            Webhook::decide(&state, update(Manager::Agent(other))),
            Err(DomainError::NotFound("webhook"))
        );
        assert_eq!(
            Webhook::decide(
                &state,
                WebhookCommand::Delete {
                    by: Manager::Agent(other)
                }
            ),
            Err(DomainError::NotFound("webhook"))
        );
        assert!(Webhook::decide(&state, update(Manager::Agent(mine))).is_ok());
        assert!(Webhook::decide(&state, update(Manager::Operator)).is_ok());
        let operators = Webhook {
            owner: None,
            ..state
        };
        assert!(!operators.managed_by(Manager::Agent(mine)));
    }

    #[test]
    fn subscriptions_are_created_updated_and_deleted() {
        let create = WebhookCommand::Create {
            tenant_id: TenantId::new(),
            url: "https://hooks.example.com/a".into(),
            event_types: vec!["AlertRaised".into()],
            secret_hash: "h".into(),
            by: Manager::Operator,
            policy: AddressPolicy::default(),
        };
        let state =
            Webhook::fold(&Webhook::decide(&Webhook::default(), create).unwrap_or_default());
        let bad = WebhookCommand::Update {
            url: "http://10.0.0.1/".into(),
            event_types: vec!["X".into()],
            by: Manager::Operator,
            policy: AddressPolicy::default(),
        };
        assert!(matches!(
            Webhook::decide(&state, bad),
            Err(DomainError::Invalid(_))
        ));
        let none = WebhookCommand::Update {
            url: "https://hooks.example.com/b".into(),
            event_types: vec![],
            by: Manager::Operator,
            policy: AddressPolicy::default(),
        };
        assert!(matches!(
            Webhook::decide(&state, none),
            Err(DomainError::Invalid(_))
        ));
        let deleted = Webhook::fold(
            &[
                Webhook::decide(
                    &Webhook::default(),
                    WebhookCommand::Create {
                        tenant_id: TenantId::new(),
                        url: "https://hooks.example.com/a".into(),
                        event_types: vec!["AlertRaised".into()],
                        secret_hash: "h".into(),
                        by: Manager::Operator,
                        policy: AddressPolicy::default(),
                    },
                )
                .unwrap_or_default(),
                vec![WebhookEvent::WebhookDeleted],
            ]
            .concat(),
        );
        assert_eq!(
            Webhook::decide(
                &deleted,
                WebhookCommand::Delete {
                    by: Manager::Operator
                }
            ),
            Err(DomainError::NotFound("webhook"))
        );
    }
}
