//! A tenant ("site"): owns agents, tasks, keys and budgets.

use chrono::Duration;
use serde::{Deserialize, Serialize};

use crate::aggregate::Aggregate;
use crate::error::DomainError;
use crate::ids::{ApiKeyId, TenantId};

/// How long a task's dedup key blocks another task with the same key, unless
/// the tenant sets its own window.
pub const DEFAULT_DEDUP_WINDOW_SECONDS: i64 = 24 * 3600;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tenant {
    pub exists: bool,
    pub name: String,
    pub dedup_window_seconds: i64,
}

impl Tenant {
    pub fn dedup_window(&self) -> Duration {
        Duration::seconds(self.dedup_window_seconds)
    }
}

#[derive(Debug, Clone)]
pub enum TenantCommand {
    Create { name: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum TenantEvent {
    TenantCreated {
        name: String,
        dedup_window_seconds: i64,
    },
}

impl Aggregate for Tenant {
    type Command = TenantCommand;
    type Event = TenantEvent;
    const STREAM_PREFIX: &'static str = "tenant";

    fn decide(state: &Self, command: TenantCommand) -> Result<Vec<TenantEvent>, DomainError> {
        match command {
            TenantCommand::Create { name } => {
                if state.exists {
                    return Err(DomainError::AlreadyExists("tenant"));
                }
                let name = name.trim().to_owned();
                if name.is_empty() || name.len() > 200 {
                    return Err(DomainError::invalid(
                        "tenant name must be 1 to 200 characters",
                    ));
                }
                Ok(vec![TenantEvent::TenantCreated {
                    name,
                    dedup_window_seconds: DEFAULT_DEDUP_WINDOW_SECONDS,
                }])
            }
        }
    }

    fn evolve(mut state: Self, event: &TenantEvent) -> Self {
        match event {
            TenantEvent::TenantCreated {
                name,
                dedup_window_seconds,
            } => {
                state.exists = true;
                state.name = name.clone();
                state.dedup_window_seconds = *dedup_window_seconds;
            }
        }
        state
    }
}

/// The ledger's one-time setup: the default tenant and the first admin key.
/// Its stream is appended with `NoStream`, so of several servers starting on
/// one fresh database exactly one performs the setup.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Installation {
    pub initialised: Option<(TenantId, ApiKeyId)>,
}

#[derive(Debug, Clone)]
pub struct Initialise {
    pub default_tenant_id: TenantId,
    pub admin_key_id: ApiKeyId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum InstallationEvent {
    LedgerInitialised {
        default_tenant_id: TenantId,
        admin_key_id: ApiKeyId,
    },
}

impl Aggregate for Installation {
    type Command = Initialise;
    type Event = InstallationEvent;
    const STREAM_PREFIX: &'static str = "system";

    fn decide(state: &Self, c: Initialise) -> Result<Vec<InstallationEvent>, DomainError> {
        Ok(match state.initialised {
            Some(_) => vec![],
            None => vec![InstallationEvent::LedgerInitialised {
                default_tenant_id: c.default_tenant_id,
                admin_key_id: c.admin_key_id,
            }],
        })
    }

    fn evolve(mut state: Self, event: &InstallationEvent) -> Self {
        let InstallationEvent::LedgerInitialised {
            default_tenant_id,
            admin_key_id,
        } = event;
        state.initialised = Some((*default_tenant_id, *admin_key_id));
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_is_created_once_with_a_name() {
        let events = Tenant::decide(
            &Tenant::default(),
            TenantCommand::Create {
                name: " Acme ".into(),
            },
        );
        let events = events.unwrap_or_default();
        assert_eq!(events.len(), 1);
        let state = Tenant::fold(&events);
        assert_eq!((state.exists, state.name.as_str()), (true, "Acme"));
        assert_eq!(state.dedup_window().num_hours(), 24);
        assert_eq!(
            Tenant::decide(
                &state,
                TenantCommand::Create {
                    name: "again".into()
                }
            ),
            Err(DomainError::AlreadyExists("tenant"))
        );
        assert!(matches!(
            Tenant::decide(
                &Tenant::default(),
                TenantCommand::Create { name: "  ".into() }
            ),
            Err(DomainError::Invalid(_))
        ));
    }
}
