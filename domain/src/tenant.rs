//! A tenant ("site"): owns agents, tasks, keys and budgets.

use chrono::Duration;
use serde::{Deserialize, Serialize};

use crate::aggregate::Aggregate;
use crate::error::DomainError;
use crate::ids::{ApiKeyId, TenantId};

/// How long a task's dedup key blocks another task with the same key, unless
/// the tenant sets its own window.
pub const DEFAULT_DEDUP_WINDOW_SECONDS: i64 = 24 * 3600;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tenant {
    pub exists: bool,
    pub name: String,
    pub dedup_window_seconds: i64,
    /// IANA name of the zone its days are counted in; UTC when unset.
    pub time_zone: Option<String>,
}

impl Tenant {
    pub fn dedup_window(&self) -> Duration {
        Duration::seconds(self.dedup_window_seconds)
    }
}

#[derive(Debug, Clone)]
pub enum TenantCommand {
    Create {
        name: String,
    },
    /// `None` counts days in UTC again.
    SetTimeZone {
        time_zone: Option<String>,
    },
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames, strum::EnumDiscriminants,
)]
#[strum_discriminants(
    name(TenantEventType),
    derive(Hash, strum::IntoStaticStr, strum::VariantArray),
    strum(const_into_str)
)]
#[serde(tag = "type", content = "data")]
pub enum TenantEvent {
    TenantCreated {
        name: String,
        dedup_window_seconds: i64,
    },
    TenantTimeZoneSet {
        time_zone: Option<String>,
    },
}

impl Aggregate for Tenant {
    type Command = TenantCommand;
    type Event = TenantEvent;
    type Id = crate::ids::TenantId;
    const STREAM_PREFIX: &'static str = "tenant";
    const ENTITY: &'static str = "tenant";

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
            TenantCommand::SetTimeZone { time_zone } => {
                if !state.exists {
                    return Err(DomainError::NotFound("tenant"));
                }
                if let Some(name) = &time_zone
                    && !crate::calendar::is_zone(name)
                {
                    return Err(DomainError::invalid(format!(
                        "`{name}` is not an IANA time zone name (like Europe/Berlin)"
                    )));
                }
                Ok(if state.time_zone == time_zone {
                    vec![]
                } else {
                    vec![TenantEvent::TenantTimeZoneSet { time_zone }]
                })
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
            TenantEvent::TenantTimeZoneSet { time_zone } => {
                state.time_zone = time_zone.clone();
            }
        }
        state
    }
}

/// The ledger's one-time setup: the default tenant and the first admin key.
/// Its stream is appended with `NoStream`, so of several servers starting on
/// one fresh database exactly one performs the setup.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Installation {
    pub initialised: Option<(TenantId, ApiKeyId)>,
}

#[derive(Debug, Clone)]
pub struct Initialise {
    pub default_tenant_id: TenantId,
    pub admin_key_id: ApiKeyId,
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames, strum::EnumDiscriminants,
)]
#[strum_discriminants(
    name(InstallationEventType),
    derive(Hash, strum::IntoStaticStr, strum::VariantArray),
    strum(const_into_str)
)]
#[serde(tag = "type", content = "data")]
pub enum InstallationEvent {
    LedgerInitialised {
        default_tenant_id: TenantId,
        admin_key_id: ApiKeyId,
    },
}

impl Installation {
    /// The one installation's id: its stream is `system-installation`.
    pub const ID: &'static str = "installation";
}

impl Aggregate for Installation {
    type Command = Initialise;
    type Event = InstallationEvent;
    type Id = &'static str;
    const STREAM_PREFIX: &'static str = "system";
    const ENTITY: &'static str = "installation";

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

    #[test]
    fn a_tenant_counts_days_in_a_time_zone_it_sets() {
        // Given a tenant
        let created = Tenant::fold(&[TenantEvent::TenantCreated {
            name: "Acme".into(),
            dedup_window_seconds: 60,
        }]);
        let set = |state: &Tenant, zone: Option<&str>| {
            Tenant::decide(
                state,
                TenantCommand::SetTimeZone {
                    time_zone: zone.map(str::to_owned),
                },
            )
        };
        // When it sets a known zone, then it is recorded; setting it again does nothing
        let events = set(&created, Some("Europe/Berlin")).unwrap_or_default();
        let berlin = events.iter().fold(created.clone(), Tenant::evolve);
        assert_eq!(berlin.time_zone.as_deref(), Some("Europe/Berlin"));
        assert_eq!(set(&berlin, Some("Europe/Berlin")), Ok(vec![]));
        // An unknown zone is refused, and so is a tenant that does not exist
        assert!(matches!(
            set(&berlin, Some("Berlin")),
            Err(DomainError::Invalid(_))
        ));
        assert_eq!(
            set(&Tenant::default(), None),
            Err(DomainError::NotFound("tenant"))
        );
        // Back to UTC
        assert_eq!(
            set(&berlin, None),
            Ok(vec![TenantEvent::TenantTimeZoneSet { time_zone: None }])
        );
    }
}
