//! An AI agent: its identity, secret, permissions, sessions and presence.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::aggregate::Aggregate;
use crate::error::DomainError;
use crate::ids::TenantId;

/// Every permission an agent can hold.
pub const SCOPES: &[&str] = &[
    "actions:write",
    "runs:write",
    "tasks:claim",
    "tasks:create",
    "commands:poll",
    "batch",
    "webhooks:manage",
    "cache:write",
];

/// Sessions (refresh-token families) remembered per agent; older ones lapse.
pub const MAX_SESSIONS: usize = 20;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Agent {
    pub exists: bool,
    pub tenant_id: TenantId,
    pub name: String,
    pub kind: String,
    pub permissions: BTreeSet<String>,
    pub rate_limit_per_minute: u32,
    /// Argon2id PHC string.
    #[serde(skip)]
    pub secret_hash: String,
    pub enabled: bool,
    pub online: bool,
    /// Why it was retired, once it is: final, its history kept.
    pub retired: Option<String>,
    /// Refresh-token families by id (UUIDv7, so ordered oldest first).
    pub sessions: BTreeMap<Uuid, Session>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Session {
    /// Hash of the one refresh token of this family that is valid now.
    #[serde(skip)]
    pub current_hash: String,
    pub expires_at: DateTime<Utc>,
    /// Hashes of tokens already exchanged: presenting one again means a copy leaked.
    #[serde(skip)]
    pub spent: BTreeSet<String>,
    pub revoked: bool,
}

impl Agent {
    pub fn has_permission(&self, scope: &str) -> bool {
        self.permissions.contains(scope)
    }

    fn require_exists(&self) -> Result<(), DomainError> {
        if self.exists {
            Ok(())
        } else {
            Err(DomainError::NotFound("agent"))
        }
    }

    /// Exists and is not retired: a retired agent changes no more.
    fn require_active(&self, action: &'static str) -> Result<(), DomainError> {
        self.require_exists()?;
        match &self.retired {
            None => Ok(()),
            Some(_) => Err(DomainError::InvalidTransition {
                entity: "agent",
                action,
                state: "retired".into(),
            }),
        }
    }

    fn require_enabled(&self) -> Result<(), DomainError> {
        self.require_exists()?;
        if self.enabled {
            Ok(())
        } else {
            Err(DomainError::Forbidden("the agent is disabled".into()))
        }
    }
}

#[derive(Debug, Clone)]
pub enum AgentCommand {
    Register {
        tenant_id: TenantId,
        name: String,
        kind: String,
        permissions: Vec<String>,
        rate_limit_per_minute: u32,
        secret_hash: String,
    },
    RotateSecret {
        secret_hash: String,
    },
    ChangePermissions {
        permissions: Vec<String>,
        rate_limit_per_minute: u32,
    },
    Disable {
        reason: String,
    },
    Enable,
    Rename {
        name: String,
    },
    /// Retires it for good: it cannot log in or be enabled again, and its
    /// history stays.
    Retire {
        reason: String,
    },
    /// A successful authentication opens a session (a refresh-token family).
    StartSession {
        session_id: Uuid,
        refresh_hash: String,
        expires_at: DateTime<Utc>,
    },
    RecordFailedAuthentication {
        reason: String,
        source: Option<String>,
    },
    /// Exchange the presented refresh token for a new one.
    Refresh {
        session_id: Uuid,
        presented_hash: String,
        new_hash: String,
        expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    /// The agent polled: it is online if it was not.
    Heartbeat,
    /// The monitor saw no poll since `last_seen`.
    MarkOffline {
        last_seen: DateTime<Utc>,
    },
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames, strum::EnumDiscriminants,
)]
#[strum_discriminants(
    name(AgentEventType),
    derive(Hash, strum::IntoStaticStr, strum::VariantArray),
    strum(const_into_str)
)]
#[serde(tag = "type", content = "data")]
pub enum AgentEvent {
    AgentRegistered {
        tenant_id: TenantId,
        name: String,
        kind: String,
        permissions: Vec<String>,
        rate_limit_per_minute: u32,
        secret_hash: String,
    },
    /// Also ends every session: tokens issued under the old secret stop working.
    AgentSecretRotated {
        secret_hash: String,
    },
    AgentPermissionsChanged {
        permissions: Vec<String>,
        rate_limit_per_minute: u32,
    },
    /// Also ends every session, for good: enabling the agent again does not
    /// bring back tokens issued before.
    AgentDisabled {
        reason: String,
    },
    AgentEnabled,
    AgentRenamed {
        name: String,
    },
    AgentRetired {
        reason: String,
    },
    AgentAuthenticated {
        session_id: Uuid,
        refresh_hash: String,
        expires_at: DateTime<Utc>,
    },
    AgentAuthenticationFailed {
        reason: String,
        source: Option<String>,
    },
    RefreshTokenRotated {
        session_id: Uuid,
        refresh_hash: String,
        expires_at: DateTime<Utc>,
    },
    /// A spent refresh token came back: the whole session is revoked.
    RefreshTokenReused {
        session_id: Uuid,
    },
    AgentWentOnline,
    /// Schema version 2; version 1 named the instant `last_seen`
    /// (`went_offline_v1`).
    AgentWentOffline {
        last_seen_at: DateTime<Utc>,
    },
}

/// `AgentWentOffline` v1 → v2: the instant gets the `_at` suffix every
/// instant of the API carries.
pub(crate) fn went_offline_v1(payload: &mut Value) -> Result<(), &'static str> {
    let fields = payload
        .as_object_mut()
        .ok_or("the payload is not an object")?;
    let last_seen = fields.remove("last_seen").ok_or("it has no `last_seen`")?;
    fields.insert("last_seen_at".to_owned(), last_seen);
    Ok(())
}

/// Permissions must all be known (an operator grants nothing that does not
/// exist) and the rate limit within bounds: for an agent registered, changed
/// or enrolled by a token alike.
pub(crate) fn validate_profile(
    permissions: &[String],
    rate_limit_per_minute: u32,
) -> Result<(), DomainError> {
    if let Some(unknown) = permissions.iter().find(|p| !SCOPES.contains(&p.as_str())) {
        return Err(DomainError::invalid(format!(
            "unknown permission `{unknown}` (known: {})",
            SCOPES.join(", ")
        )));
    }
    if !(1..=100_000).contains(&rate_limit_per_minute) {
        return Err(DomainError::invalid(
            "rate_limit_per_minute must be 1 to 100000",
        ));
    }
    Ok(())
}

impl Aggregate for Agent {
    type Command = AgentCommand;
    type Event = AgentEvent;
    type Id = crate::ids::AgentId;
    const STREAM_PREFIX: &'static str = "agent";
    const ENTITY: &'static str = "agent";

    fn owner(&self) -> Option<crate::ids::TenantId> {
        self.exists.then_some(self.tenant_id)
    }

    fn decide(state: &Self, command: AgentCommand) -> Result<Vec<AgentEvent>, DomainError> {
        use AgentCommand as C;
        use AgentEvent as E;
        match command {
            C::Register {
                tenant_id,
                name,
                kind,
                permissions,
                rate_limit_per_minute,
                secret_hash,
            } => {
                if state.exists {
                    return Err(DomainError::AlreadyExists("agent"));
                }
                DomainError::check_label("name", &name)?;
                DomainError::check_label("kind", &kind)?;
                validate_profile(&permissions, rate_limit_per_minute)?;
                let permissions: BTreeSet<String> = permissions.into_iter().collect();
                Ok(vec![E::AgentRegistered {
                    tenant_id,
                    name,
                    kind,
                    permissions: permissions.into_iter().collect(),
                    rate_limit_per_minute,
                    secret_hash,
                }])
            }
            C::RotateSecret { secret_hash } => {
                state.require_active("rotate the secret of")?;
                Ok(vec![E::AgentSecretRotated { secret_hash }])
            }
            C::ChangePermissions {
                permissions,
                rate_limit_per_minute,
            } => {
                state.require_active("change the permissions of")?;
                validate_profile(&permissions, rate_limit_per_minute)?;
                let permissions: BTreeSet<String> = permissions.into_iter().collect();
                if permissions == state.permissions
                    && rate_limit_per_minute == state.rate_limit_per_minute
                {
                    return Ok(vec![]);
                }
                Ok(vec![E::AgentPermissionsChanged {
                    permissions: permissions.into_iter().collect(),
                    rate_limit_per_minute,
                }])
            }
            C::Disable { reason } => {
                state.require_exists()?;
                Ok(if state.enabled {
                    vec![E::AgentDisabled { reason }]
                } else {
                    vec![]
                })
            }
            C::Enable => {
                state.require_active("enable")?;
                Ok(if state.enabled {
                    vec![]
                } else {
                    vec![E::AgentEnabled]
                })
            }
            C::Rename { name } => {
                state.require_active("rename")?;
                DomainError::check_label("name", &name)?;
                Ok(if name == state.name {
                    vec![]
                } else {
                    vec![E::AgentRenamed { name }]
                })
            }
            C::Retire { reason } => {
                state.require_exists()?;
                crate::text::check_name("reason", &reason, 1000)?;
                Ok(if state.retired.is_some() {
                    vec![]
                } else {
                    vec![E::AgentRetired { reason }]
                })
            }
            C::StartSession {
                session_id,
                refresh_hash,
                expires_at,
            } => {
                state.require_enabled()?;
                Ok(vec![E::AgentAuthenticated {
                    session_id,
                    refresh_hash,
                    expires_at,
                }])
            }
            C::RecordFailedAuthentication { reason, source } => {
                Ok(vec![E::AgentAuthenticationFailed { reason, source }])
            }
            C::Refresh {
                session_id,
                presented_hash,
                new_hash,
                expires_at,
                at,
            } => {
                state.require_enabled()?;
                let refused = |why: &str| Err(DomainError::Forbidden(why.into()));
                let Some(session) = state.sessions.get(&session_id) else {
                    return refused("unknown refresh token");
                };
                if session.revoked {
                    return refused("the session was revoked");
                }
                if session.spent.contains(&presented_hash) {
                    return Ok(vec![E::RefreshTokenReused { session_id }]);
                }
                if session.current_hash != presented_hash {
                    return refused("unknown refresh token");
                }
                if session.expires_at <= at {
                    return refused("the refresh token has expired");
                }
                Ok(vec![E::RefreshTokenRotated {
                    session_id,
                    refresh_hash: new_hash,
                    expires_at,
                }])
            }
            C::Heartbeat => {
                state.require_enabled()?;
                Ok(if state.online {
                    vec![]
                } else {
                    vec![E::AgentWentOnline]
                })
            }
            C::MarkOffline { last_seen } => {
                state.require_exists()?;
                Ok(if state.online {
                    vec![E::AgentWentOffline {
                        last_seen_at: last_seen,
                    }]
                } else {
                    vec![]
                })
            }
        }
    }

    fn is_observation(event: &AgentEvent) -> bool {
        matches!(event, AgentEvent::AgentAuthenticationFailed { .. })
    }

    fn evolve(mut state: Self, event: &AgentEvent) -> Self {
        use AgentEvent as E;
        match event {
            E::AgentRegistered {
                tenant_id,
                name,
                kind,
                permissions,
                rate_limit_per_minute,
                secret_hash,
            } => {
                state.exists = true;
                state.enabled = true;
                state.tenant_id = *tenant_id;
                state.name = name.clone();
                state.kind = kind.clone();
                state.permissions = permissions.iter().cloned().collect();
                state.rate_limit_per_minute = *rate_limit_per_minute;
                state.secret_hash = secret_hash.clone();
            }
            E::AgentSecretRotated { secret_hash } => {
                state.secret_hash = secret_hash.clone();
                for session in state.sessions.values_mut() {
                    session.revoked = true;
                }
            }
            E::AgentPermissionsChanged {
                permissions,
                rate_limit_per_minute,
            } => {
                state.permissions = permissions.iter().cloned().collect();
                state.rate_limit_per_minute = *rate_limit_per_minute;
            }
            E::AgentDisabled { .. } => {
                state.enabled = false;
                state.online = false;
                // Enabling again must not revive what was handed out before:
                // the agent logs in anew.
                for session in state.sessions.values_mut() {
                    session.revoked = true;
                }
            }
            E::AgentEnabled => state.enabled = true,
            E::AgentRenamed { name } => state.name.clone_from(name),
            E::AgentRetired { reason } => {
                state.retired = Some(reason.clone());
                state.enabled = false;
                state.online = false;
                for session in state.sessions.values_mut() {
                    session.revoked = true;
                }
            }
            E::AgentAuthenticated {
                session_id,
                refresh_hash,
                expires_at,
            } => {
                state.sessions.insert(
                    *session_id,
                    Session {
                        current_hash: refresh_hash.clone(),
                        expires_at: *expires_at,
                        spent: BTreeSet::new(),
                        revoked: false,
                    },
                );
                while state.sessions.len() > MAX_SESSIONS {
                    state.sessions.pop_first();
                }
            }
            E::AgentAuthenticationFailed { .. } => {}
            E::RefreshTokenRotated {
                session_id,
                refresh_hash,
                expires_at,
            } => {
                if let Some(session) = state.sessions.get_mut(session_id) {
                    let spent = std::mem::replace(&mut session.current_hash, refresh_hash.clone());
                    session.spent.insert(spent);
                    session.expires_at = *expires_at;
                }
            }
            E::RefreshTokenReused { session_id } => {
                if let Some(session) = state.sessions.get_mut(session_id) {
                    session.revoked = true;
                }
            }
            E::AgentWentOnline => state.online = true,
            E::AgentWentOffline { .. } => state.online = false,
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn given(events: &[AgentEvent]) -> Agent {
        Agent::fold(events)
    }

    fn registered() -> AgentEvent {
        AgentEvent::AgentRegistered {
            tenant_id: TenantId::new(),
            name: "content-moderator-ai".into(),
            kind: "moderator".into(),
            permissions: vec!["runs:write".into(), "tasks:claim".into()],
            rate_limit_per_minute: 60,
            secret_hash: "h0".into(),
        }
    }

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    fn session(id: Uuid, hash: &str) -> AgentEvent {
        AgentEvent::AgentAuthenticated {
            session_id: id,
            refresh_hash: hash.into(),
            expires_at: at() + Duration::days(30),
        }
    }

    fn refresh(id: Uuid, presented: &str, new: &str) -> AgentCommand {
        AgentCommand::Refresh {
            session_id: id,
            presented_hash: presented.into(),
            new_hash: new.into(),
            expires_at: at() + Duration::days(30),
            at: at(),
        }
    }

    #[test]
    fn a_retired_agent_keeps_its_history_and_changes_no_more() {
        use crate::testing::given as given_events;
        given_events::<Agent>([registered()])
            .when(AgentCommand::Rename {
                name: "moderator-2".into(),
            })
            .then([AgentEvent::AgentRenamed {
                name: "moderator-2".into(),
            }]);
        given_events::<Agent>([registered()])
            .when(AgentCommand::Rename {
                name: "bad\u{0}name".into(),
            })
            .then_refused(|e| matches!(e, DomainError::Invalid(_)));
        let retired = AgentEvent::AgentRetired {
            reason: "replaced".into(),
        };
        let state = given_events::<Agent>([registered(), session(Uuid::now_v7(), "r0")])
            .when(AgentCommand::Retire {
                reason: "replaced".into(),
            })
            .then([retired.clone()]);
        assert!(!state.enabled && state.sessions.values().all(|s| s.revoked));
        for command in [
            AgentCommand::Enable,
            AgentCommand::Rename { name: "x".into() },
            AgentCommand::RotateSecret {
                secret_hash: "h1".into(),
            },
        ] {
            given_events::<Agent>([registered(), retired.clone()])
                .when(command)
                .then_refused(|e| matches!(e, DomainError::InvalidTransition { .. }));
        }
        given_events::<Agent>([registered(), retired.clone()])
            .when(AgentCommand::StartSession {
                session_id: Uuid::now_v7(),
                refresh_hash: "r1".into(),
                expires_at: at() + Duration::days(30),
            })
            .then_refused(|e| matches!(e, DomainError::Forbidden(_)));
        given_events::<Agent>([registered(), retired])
            .when(AgentCommand::Retire {
                reason: "again".into(),
            })
            .then_nothing_happens();
    }

    #[test]
    fn registering_validates_and_happens_once() {
        let register = |permissions: Vec<&str>, rate: u32, name: &str| AgentCommand::Register {
            tenant_id: TenantId::new(),
            name: name.into(),
            kind: "k".into(),
            permissions: permissions.into_iter().map(String::from).collect(),
            rate_limit_per_minute: rate,
            secret_hash: "h".into(),
        };
        let events = Agent::decide(
            &Agent::default(),
            register(vec!["tasks:claim", "tasks:claim"], 10, "a"),
        );
        let state = given(&events.unwrap_or_default());
        assert!(state.exists && state.enabled && !state.online);
        assert_eq!(state.permissions.len(), 1, "duplicate permissions collapse");
        assert_eq!(
            Agent::decide(&state, register(vec![], 10, "a")),
            Err(DomainError::AlreadyExists("agent"))
        );
        for bad in [
            register(vec!["root"], 10, "a"),
            register(vec![], 0, "a"),
            register(vec![], 10, " "),
        ] {
            assert!(matches!(
                Agent::decide(&Agent::default(), bad),
                Err(DomainError::Invalid(_))
            ));
        }
    }

    #[test]
    fn commands_on_a_missing_agent_are_not_found() {
        for command in [
            AgentCommand::RotateSecret {
                secret_hash: "x".into(),
            },
            AgentCommand::Disable {
                reason: String::new(),
            },
            AgentCommand::Enable,
            AgentCommand::Heartbeat,
            AgentCommand::StartSession {
                session_id: Uuid::nil(),
                refresh_hash: "r".into(),
                expires_at: at(),
            },
            refresh(Uuid::nil(), "a", "b"),
        ] {
            assert_eq!(
                Agent::decide(&Agent::default(), command),
                Err(DomainError::NotFound("agent"))
            );
        }
    }

    #[test]
    fn a_disabled_agent_cannot_authenticate_refresh_or_poll_until_enabled() {
        let id = Uuid::now_v7();
        let state = given(&[
            registered(),
            session(id, "r1"),
            AgentEvent::AgentDisabled { reason: "x".into() },
        ]);
        assert!(!state.enabled);
        for command in [
            AgentCommand::StartSession {
                session_id: Uuid::now_v7(),
                refresh_hash: "r".into(),
                expires_at: at(),
            },
            refresh(id, "r1", "r2"),
            AgentCommand::Heartbeat,
        ] {
            assert!(matches!(
                Agent::decide(&state, command),
                Err(DomainError::Forbidden(_))
            ));
        }
        assert_eq!(
            Agent::decide(
                &state,
                AgentCommand::Disable {
                    reason: "again".into()
                }
            ),
            Ok(vec![])
        );
        let enabled = Agent::decide(&state, AgentCommand::Enable).unwrap_or_default();
        assert_eq!(enabled, vec![AgentEvent::AgentEnabled]);
        assert!(
            Agent::fold(&[
                registered(),
                AgentEvent::AgentDisabled {
                    reason: String::new()
                },
                AgentEvent::AgentEnabled
            ])
            .enabled
        );
    }

    #[test]
    fn refresh_rotates_and_a_reused_token_revokes_the_session() {
        let id = Uuid::now_v7();
        let state = given(&[registered(), session(id, "r1")]);
        let rotated = Agent::decide(&state, refresh(id, "r1", "r2")).unwrap_or_default();
        assert!(matches!(
            rotated.as_slice(),
            [AgentEvent::RefreshTokenRotated { .. }]
        ));
        let state = Agent::evolve(state, &rotated[0]);

        // The new token works; the old one, presented again, burns the session.
        assert!(Agent::decide(&state, refresh(id, "r2", "r3")).is_ok());
        let reused = Agent::decide(&state, refresh(id, "r1", "r9")).unwrap_or_default();
        assert_eq!(
            reused,
            vec![AgentEvent::RefreshTokenReused { session_id: id }]
        );
        let state = Agent::evolve(state, &reused[0]);
        assert!(matches!(
            Agent::decide(&state, refresh(id, "r2", "r3")),
            Err(DomainError::Forbidden(_))
        ));
    }

    #[test]
    fn refresh_refuses_unknown_and_expired_tokens() {
        let id = Uuid::now_v7();
        let state = given(&[registered(), session(id, "r1")]);
        assert!(matches!(
            Agent::decide(&state, refresh(id, "nope", "r2")),
            Err(DomainError::Forbidden(_))
        ));
        assert!(matches!(
            Agent::decide(&state, refresh(Uuid::now_v7(), "r1", "r2")),
            Err(DomainError::Forbidden(_))
        ));
        let late = AgentCommand::Refresh {
            session_id: id,
            presented_hash: "r1".into(),
            new_hash: "r2".into(),
            expires_at: at(),
            at: at() + Duration::days(31),
        };
        assert!(matches!(
            Agent::decide(&state, late),
            Err(DomainError::Forbidden(_))
        ));
    }

    #[test]
    fn rotating_the_secret_ends_every_session() {
        let id = Uuid::now_v7();
        let state = given(&[
            registered(),
            session(id, "r1"),
            AgentEvent::AgentSecretRotated {
                secret_hash: "h1".into(),
            },
        ]);
        assert_eq!(state.secret_hash, "h1");
        assert!(matches!(
            Agent::decide(&state, refresh(id, "r1", "r2")),
            Err(DomainError::Forbidden(_))
        ));
    }

    #[test]
    fn sessions_from_before_a_disable_stay_ended_after_enabling() {
        let (before, after) = (Uuid::now_v7(), Uuid::now_v7());
        let state = given(&[
            registered(),
            session(before, "r1"),
            AgentEvent::AgentDisabled { reason: "x".into() },
            AgentEvent::AgentEnabled,
            session(after, "r2"),
        ]);
        assert!(state.enabled);
        assert!(state.sessions.get(&before).is_some_and(|s| s.revoked));
        assert!(matches!(
            Agent::decide(&state, refresh(before, "r1", "r3")),
            Err(DomainError::Forbidden(_))
        ));
        assert!(Agent::decide(&state, refresh(after, "r2", "r3")).is_ok());
    }

    #[test]
    fn old_sessions_lapse_beyond_the_limit() {
        let mut events = vec![registered()];
        let ids: Vec<Uuid> = (0..MAX_SESSIONS + 5).map(|_| Uuid::now_v7()).collect();
        events.extend(ids.iter().map(|id| session(*id, "r")));
        let state = given(&events);
        assert_eq!(state.sessions.len(), MAX_SESSIONS);
        assert!(!state.sessions.contains_key(&ids[0]));
        assert!(state.sessions.contains_key(&ids[MAX_SESSIONS + 4]));
    }

    #[test]
    fn presence_changes_only_on_transitions() {
        let state = given(&[registered()]);
        let online = Agent::decide(&state, AgentCommand::Heartbeat).unwrap_or_default();
        assert_eq!(online, vec![AgentEvent::AgentWentOnline]);
        let state = Agent::evolve(state, &online[0]);
        assert_eq!(Agent::decide(&state, AgentCommand::Heartbeat), Ok(vec![]));
        let offline = Agent::decide(&state, AgentCommand::MarkOffline { last_seen: at() })
            .unwrap_or_default();
        assert_eq!(
            offline,
            vec![AgentEvent::AgentWentOffline { last_seen_at: at() }]
        );
        let state = Agent::evolve(state, &offline[0]);
        assert_eq!(
            Agent::decide(&state, AgentCommand::MarkOffline { last_seen: at() }),
            Ok(vec![])
        );
    }

    #[test]
    fn permission_changes_are_validated_and_no_ops_append_nothing() {
        let state = given(&[registered()]);
        let same = AgentCommand::ChangePermissions {
            permissions: vec!["tasks:claim".into(), "runs:write".into()],
            rate_limit_per_minute: 60,
        };
        assert_eq!(Agent::decide(&state, same), Ok(vec![]));
        let bad = AgentCommand::ChangePermissions {
            permissions: vec!["everything".into()],
            rate_limit_per_minute: 60,
        };
        assert!(matches!(
            Agent::decide(&state, bad),
            Err(DomainError::Invalid(_))
        ));
        let change = AgentCommand::ChangePermissions {
            permissions: vec!["batch".into()],
            rate_limit_per_minute: 5,
        };
        let state = Agent::fold(
            &[registered()]
                .into_iter()
                .chain(Agent::decide(&state, change).unwrap_or_default())
                .collect::<Vec<_>>(),
        );
        assert!(state.has_permission("batch") && !state.has_permission("tasks:claim"));
        assert_eq!(state.rate_limit_per_minute, 5);
    }
}
