//! Webhook subscriptions, and the address policy that keeps deliveries away
//! from the server's own network: loopback, private, link-local and cloud
//! metadata addresses are refused when a subscription is made.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::aggregate::Aggregate;
use crate::error::DomainError;
use crate::ids::TenantId;

pub const MAX_EVENT_TYPES: usize = 100;

/// Checks a delivery URL. The URL is parsed the way HTTP clients parse it
/// (WHATWG: backslashes, tabs, percent-encoding and numeric hosts such as
/// `2130706433` or `0x7f.1` are normalised), so what is checked is what a
/// client would connect to. Host names are checked by name; the delivery
/// worker must check the addresses they resolve to as well.
pub fn check_url(raw: &str) -> Result<(), DomainError> {
    let refuse = |why: &str| Err(DomainError::invalid(format!("webhook url refused: {why}")));
    if raw.len() > 2000 {
        return refuse("longer than 2000 characters");
    }
    let Ok(url) = url::Url::parse(raw) else {
        return refuse("not a valid URL");
    };
    if !matches!(url.scheme(), "http" | "https") {
        return refuse("only http and https are allowed");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return refuse("credentials in the url are not allowed");
    }
    match url.host() {
        None => refuse("no host"),
        Some(url::Host::Ipv4(ip)) => {
            if is_public(IpAddr::V4(ip)) {
                Ok(())
            } else {
                refuse("the address is not public")
            }
        }
        Some(url::Host::Ipv6(ip)) => {
            if is_public(IpAddr::V6(ip)) {
                Ok(())
            } else {
                refuse("the address is not public")
            }
        }
        Some(url::Host::Domain(host)) => {
            let host = host.trim_end_matches('.').to_ascii_lowercase();
            let internal = ["localhost", "metadata", "metadata.google.internal"];
            let internal_suffixes = [
                ".localhost",
                ".local",
                ".internal",
                ".localdomain",
                ".home.arpa",
            ];
            if internal.contains(&host.as_str())
                || internal_suffixes.iter().any(|s| host.ends_with(s))
                || !host.contains('.')
            {
                refuse("internal host name")
            } else {
                Ok(())
            }
        }
    }
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // includes 169.254.169.254, the metadata service
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local, incl. fd00:ec2::254
        || (first & 0xffc0) == 0xfe80 // link local
        || first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation
}

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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
                check_url(&url)?;
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
                check_url(&url)?;
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
            assert_eq!(check_url(url), Ok(()), "{url}");
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
                matches!(check_url(url), Err(DomainError::Invalid(_))),
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
