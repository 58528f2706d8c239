//! Webhook subscriptions. Their URLs follow the outbound address policy in
//! [`crate::address`].

use serde::{Deserialize, Serialize};

use crate::address;
use crate::aggregate::Aggregate;
use crate::error::DomainError;
use crate::ids::TenantId;

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
}

#[derive(Debug, Clone)]
pub enum WebhookCommand {
    Create {
        tenant_id: TenantId,
        url: String,
        event_types: Vec<String>,
        secret_hash: String,
    },
    Update {
        url: String,
        event_types: Vec<String>,
    },
    Delete,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames)]
#[serde(tag = "type", content = "data")]
pub enum WebhookEvent {
    WebhookSubscribed {
        tenant_id: TenantId,
        url: String,
        event_types: Vec<String>,
        secret_hash: String,
    },
    WebhookUpdated {
        url: String,
        event_types: Vec<String>,
    },
    WebhookDeleted,
}

fn check_types(types: &[String]) -> Result<(), DomainError> {
    if types.is_empty()
        || types.len() > MAX_EVENT_TYPES
        || types.iter().any(|t| t.trim().is_empty() || t.len() > 100)
    {
        return Err(DomainError::invalid(format!(
            "event_types needs 1 to {MAX_EVENT_TYPES} names"
        )));
    }
    Ok(())
}

impl Aggregate for Webhook {
    type Command = WebhookCommand;
    type Event = WebhookEvent;
    const STREAM_PREFIX: &'static str = "webhook";

    fn decide(state: &Self, command: WebhookCommand) -> Result<Vec<WebhookEvent>, DomainError> {
        match command {
            WebhookCommand::Create {
                tenant_id,
                url,
                event_types,
                secret_hash,
            } => {
                if state.exists {
                    return Err(DomainError::AlreadyExists("webhook"));
                }
                address::check_url(URL_FIELD, &url)?;
                check_types(&event_types)?;
                Ok(vec![WebhookEvent::WebhookSubscribed {
                    tenant_id,
                    url,
                    event_types,
                    secret_hash,
                }])
            }
            WebhookCommand::Update { url, event_types } => {
                if !state.exists || state.deleted {
                    return Err(DomainError::NotFound("webhook"));
                }
                address::check_url(URL_FIELD, &url)?;
                check_types(&event_types)?;
                Ok(vec![WebhookEvent::WebhookUpdated { url, event_types }])
            }
            WebhookCommand::Delete => {
                if !state.exists || state.deleted {
                    return Err(DomainError::NotFound("webhook"));
                }
                Ok(vec![WebhookEvent::WebhookDeleted])
            }
        }
    }

    fn evolve(mut state: Self, event: &WebhookEvent) -> Self {
        match event {
            WebhookEvent::WebhookSubscribed {
                tenant_id,
                url,
                event_types,
                ..
            } => {
                state.exists = true;
                state.tenant_id = *tenant_id;
                state.url = url.clone();
                state.event_types = event_types.clone();
            }
            WebhookEvent::WebhookUpdated { url, event_types } => {
                state.url = url.clone();
                state.event_types = event_types.clone();
            }
            WebhookEvent::WebhookDeleted => state.deleted = true,
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
            assert!(address::check_url(URL_FIELD, url).is_ok(), "{url}");
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
                    address::check_url(URL_FIELD, url),
                    Err(DomainError::Invalid(_))
                ),
                "{url} must be refused"
            );
        }
    }

    #[test]
    fn subscriptions_are_created_updated_and_deleted() {
        let create = WebhookCommand::Create {
            tenant_id: TenantId::new(),
            url: "https://hooks.example.com/a".into(),
            event_types: vec!["AlertRaised".into()],
            secret_hash: "h".into(),
        };
        let state =
            Webhook::fold(&Webhook::decide(&Webhook::default(), create).unwrap_or_default());
        let bad = WebhookCommand::Update {
            url: "http://10.0.0.1/".into(),
            event_types: vec!["X".into()],
        };
        assert!(matches!(
            Webhook::decide(&state, bad),
            Err(DomainError::Invalid(_))
        ));
        let none = WebhookCommand::Update {
            url: "https://hooks.example.com/b".into(),
            event_types: vec![],
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
                        event_types: vec!["A".into()],
                        secret_hash: "h".into(),
                    },
                )
                .unwrap_or_default(),
                vec![WebhookEvent::WebhookDeleted],
            ]
            .concat(),
        );
        assert_eq!(
            Webhook::decide(&deleted, WebhookCommand::Delete),
            Err(DomainError::NotFound("webhook"))
        );
    }
}
