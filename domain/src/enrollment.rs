//! Enrollment tokens: an operator hands one out so agents can register
//! themselves. A token belongs to a tenant, expires, enrolls at most
//! `max_uses` agents and can be revoked; every agent it enrolls is an
//! ordinary agent of that tenant with the kind and permissions the token
//! names (its own, or a preset's). Only a hash of its secret is kept.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::agent::validate_profile;
use crate::aggregate::Aggregate;
use crate::error::DomainError;
use crate::ids::{AgentId, TenantId};
use crate::preset;

/// The most agents one token enrolls.
pub const MAX_USES: u32 = 1000;
/// The longest a token lives: one that never lapses would be a standing
/// invitation into the tenant for whoever finds it.
pub const MAX_LIFETIME_DAYS: i64 = 90;
const ENTITY: &str = "enrollment token";

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EnrollmentToken {
    pub exists: bool,
    pub tenant_id: TenantId,
    pub label: String,
    /// Hex SHA-256 of the token's secret part.
    #[serde(skip)]
    pub secret_hash: String,
    /// From this moment on it enrolls no one.
    pub expires_at: DateTime<Utc>,
    pub max_uses: u32,
    pub uses: u32,
    /// The kind of every agent it enrolls; `None`: each agent names its own.
    pub kind: Option<String>,
    pub permissions: Vec<String>,
    pub rate_limit_per_minute: u32,
    /// The preset its kind and permissions came from.
    pub preset: Option<String>,
    pub revoked: bool,
}

impl EnrollmentToken {
    /// Whether it may enroll one more agent at `at`: it must exist, not be
    /// revoked, not have expired (it has at `expires_at` itself) and have a
    /// use left.
    pub fn usable_at(&self, at: DateTime<Utc>) -> Result<(), DomainError> {
        if !self.exists {
            return Err(DomainError::NotFound(ENTITY));
        }
        let refused = |state: &str| DomainError::InvalidTransition {
            entity: ENTITY,
            action: "use",
            state: state.into(),
        };
        if self.revoked {
            return Err(refused("revoked"));
        }
        if at >= self.expires_at {
            return Err(DomainError::Expired(ENTITY));
        }
        if self.uses >= self.max_uses {
            return Err(refused("used up"));
        }
        Ok(())
    }

    pub fn uses_left(&self) -> u32 {
        self.max_uses.saturating_sub(self.uses)
    }

    /// The kind an agent enrolling with it gets, given the one it `asked`
    /// for: the token's own when it names one (asking for another is
    /// refused, or a token for moderators could enroll agents that claim
    /// another kind's tasks), else the one asked for, which is then needed.
    pub fn kind_for(&self, asked: Option<String>) -> Result<String, DomainError> {
        match (&self.kind, asked) {
            (Some(fixed), None) => Ok(fixed.clone()),
            (Some(fixed), Some(asked)) if asked == *fixed => Ok(asked),
            (Some(fixed), Some(_)) => Err(DomainError::invalid(format!(
                "this token enrolls agents of kind `{fixed}` only"
            ))),
            (None, Some(asked)) => {
                DomainError::check_label("kind", &asked)?;
                Ok(asked)
            }
            (None, None) => Err(DomainError::invalid(
                "kind is required: this token names none",
            )),
        }
    }
}

#[derive(Debug, Clone)]
pub enum EnrollmentTokenCommand {
    /// A preset gives the kind and permissions; without one, `kind` (or
    /// none: each agent names its own) and `permissions` do.
    Create {
        tenant_id: TenantId,
        label: String,
        secret_hash: String,
        /// When it is created, so its expiry can be checked against it.
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        max_uses: u32,
        kind: Option<String>,
        permissions: Option<Vec<String>>,
        rate_limit_per_minute: u32,
        preset: Option<String>,
    },
    /// One agent enrolls with it at `at`.
    Use {
        agent_id: AgentId,
        at: DateTime<Utc>,
    },
    Revoke,
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames, strum::EnumDiscriminants,
)]
#[strum_discriminants(
    name(EnrollmentTokenEventType),
    derive(Hash, strum::IntoStaticStr, strum::VariantArray),
    strum(const_into_str)
)]
#[serde(tag = "type", content = "data")]
pub enum EnrollmentTokenEvent {
    EnrollmentTokenCreated {
        tenant_id: TenantId,
        label: String,
        secret_hash: String,
        expires_at: DateTime<Utc>,
        max_uses: u32,
        kind: Option<String>,
        permissions: Vec<String>,
        rate_limit_per_minute: u32,
        preset: Option<String>,
    },
    /// The agent it enrolled: registered on its own stream right after.
    EnrollmentTokenUsed {
        agent_id: AgentId,
    },
    EnrollmentTokenRevoked,
}

/// A name a client sent, fit to quote in a refusal: no control character,
/// at most 100 of them.
fn quoted(name: &str) -> String {
    name.chars().filter(|c| !c.is_control()).take(100).collect()
}

impl Aggregate for EnrollmentToken {
    type Command = EnrollmentTokenCommand;
    type Event = EnrollmentTokenEvent;
    type Id = uuid::Uuid;
    const STREAM_PREFIX: &'static str = "enrollment";
    const ENTITY: &'static str = ENTITY;

    fn owner(&self) -> Option<TenantId> {
        self.exists.then_some(self.tenant_id)
    }

    fn decide(
        state: &Self,
        command: EnrollmentTokenCommand,
    ) -> Result<Vec<EnrollmentTokenEvent>, DomainError> {
        use EnrollmentTokenCommand as C;
        use EnrollmentTokenEvent as E;
        match command {
            C::Create {
                tenant_id,
                label,
                secret_hash,
                at,
                expires_at,
                max_uses,
                kind,
                permissions,
                rate_limit_per_minute,
                preset,
            } => {
                if state.exists {
                    return Err(DomainError::AlreadyExists(ENTITY));
                }
                crate::text::check_name("label", &label, 200)?;
                if !(1..=MAX_USES).contains(&max_uses) {
                    return Err(DomainError::invalid(format!(
                        "max_uses must be 1 to {MAX_USES}"
                    )));
                }
                if expires_at <= at {
                    return Err(DomainError::invalid("expires_at must be in the future"));
                }
                if expires_at > at + Duration::days(MAX_LIFETIME_DAYS) {
                    return Err(DomainError::invalid(format!(
                        "a token expires within {MAX_LIFETIME_DAYS} days"
                    )));
                }
                let (kind, permissions) = match &preset {
                    Some(name) => {
                        if kind.is_some() || permissions.is_some() {
                            return Err(DomainError::invalid(
                                "a preset gives the kind and permissions: name a preset or them, not both",
                            ));
                        }
                        let found = preset::find(name).ok_or_else(|| {
                            DomainError::invalid(format!(
                                "no preset is named `{}` (presets: {})",
                                quoted(name),
                                preset::names()
                            ))
                        })?;
                        (Some(found.kind.to_owned()), found.permissions())
                    }
                    None => (kind, permissions.unwrap_or_default()),
                };
                if let Some(kind) = &kind {
                    DomainError::check_label("kind", kind)?;
                }
                validate_profile(&permissions, rate_limit_per_minute)?;
                let permissions: BTreeSet<String> = permissions.into_iter().collect();
                Ok(vec![E::EnrollmentTokenCreated {
                    tenant_id,
                    label,
                    secret_hash,
                    expires_at,
                    max_uses,
                    kind,
                    permissions: permissions.into_iter().collect(),
                    rate_limit_per_minute,
                    preset,
                }])
            }
            C::Use { agent_id, at } => {
                state.usable_at(at)?;
                Ok(vec![E::EnrollmentTokenUsed { agent_id }])
            }
            C::Revoke => {
                if !state.exists {
                    return Err(DomainError::NotFound(ENTITY));
                }
                Ok(if state.revoked {
                    vec![]
                } else {
                    vec![E::EnrollmentTokenRevoked]
                })
            }
        }
    }

    fn evolve(mut state: Self, event: &EnrollmentTokenEvent) -> Self {
        use EnrollmentTokenEvent as E;
        match event {
            E::EnrollmentTokenCreated {
                tenant_id,
                label,
                secret_hash,
                expires_at,
                max_uses,
                kind,
                permissions,
                rate_limit_per_minute,
                preset,
            } => {
                state.exists = true;
                state.tenant_id = *tenant_id;
                state.label.clone_from(label);
                state.secret_hash.clone_from(secret_hash);
                state.expires_at = *expires_at;
                state.max_uses = *max_uses;
                state.kind.clone_from(kind);
                state.permissions.clone_from(permissions);
                state.rate_limit_per_minute = *rate_limit_per_minute;
                state.preset.clone_from(preset);
            }
            E::EnrollmentTokenUsed { .. } => state.uses = state.uses.saturating_add(1),
            E::EnrollmentTokenRevoked => state.revoked = true,
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{given, given_no_events};

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    fn expires_at() -> DateTime<Utc> {
        at() + Duration::hours(1)
    }

    fn create(max_uses: u32) -> EnrollmentTokenCommand {
        EnrollmentTokenCommand::Create {
            tenant_id: TenantId::default(),
            label: "rollout".into(),
            secret_hash: "h".into(),
            at: at(),
            expires_at: expires_at(),
            max_uses,
            kind: Some("moderator".into()),
            permissions: Some(vec!["tasks:claim".into(), "runs:write".into()]),
            rate_limit_per_minute: 60,
            preset: None,
        }
    }

    fn created(max_uses: u32) -> EnrollmentTokenEvent {
        EnrollmentTokenEvent::EnrollmentTokenCreated {
            tenant_id: TenantId::default(),
            label: "rollout".into(),
            secret_hash: "h".into(),
            expires_at: expires_at(),
            max_uses,
            kind: Some("moderator".into()),
            permissions: vec!["runs:write".into(), "tasks:claim".into()],
            rate_limit_per_minute: 60,
            preset: None,
        }
    }

    fn used() -> EnrollmentTokenEvent {
        EnrollmentTokenEvent::EnrollmentTokenUsed {
            agent_id: AgentId::default(),
        }
    }

    fn enroll(at: DateTime<Utc>) -> EnrollmentTokenCommand {
        EnrollmentTokenCommand::Use {
            agent_id: AgentId::default(),
            at,
        }
    }

    fn invalid(e: &DomainError) -> bool {
        matches!(e, DomainError::Invalid(_))
    }

    fn in_state(expected: &'static str) -> impl Fn(&DomainError) -> bool {
        move |e: &DomainError| matches!(e, DomainError::InvalidTransition { state, .. } if state == expected)
    }

    #[test]
    fn a_token_is_created_once_with_permissions_sorted_and_no_duplicate() {
        let state = given_no_events::<EnrollmentToken>()
            .when(create(2))
            .then([created(2)]);
        assert!(state.exists && !state.revoked);
        assert_eq!((state.uses, state.uses_left()), (0, 2));
        given::<EnrollmentToken>([created(2)])
            .when(create(2))
            .then_refused(|e| matches!(e, DomainError::AlreadyExists(_)));
    }

    #[test]
    fn creation_refuses_bad_limits_expiries_labels_and_permissions() {
        fn with(change: fn(&mut EnrollmentTokenCommand)) -> EnrollmentTokenCommand {
            let mut command = create(2);
            change(&mut command);
            command
        }
        let bad = [
            create(0),
            create(MAX_USES + 1),
            with(|c| {
                if let EnrollmentTokenCommand::Create { expires_at, .. } = c {
                    *expires_at = at();
                }
            }),
            with(|c| {
                if let EnrollmentTokenCommand::Create { expires_at, .. } = c {
                    *expires_at = at() - Duration::seconds(1);
                }
            }),
            with(|c| {
                if let EnrollmentTokenCommand::Create { expires_at, .. } = c {
                    *expires_at = at() + Duration::days(MAX_LIFETIME_DAYS) + Duration::seconds(1);
                }
            }),
            with(|c| {
                if let EnrollmentTokenCommand::Create { label, .. } = c {
                    *label = "bad\u{0}label".into();
                }
            }),
            with(|c| {
                if let EnrollmentTokenCommand::Create { label, .. } = c {
                    *label = " ".into();
                }
            }),
            with(|c| {
                if let EnrollmentTokenCommand::Create { kind, .. } = c {
                    *kind = Some("mod\u{7}".into());
                }
            }),
            with(|c| {
                if let EnrollmentTokenCommand::Create { permissions, .. } = c {
                    *permissions = Some(vec!["root".into()]);
                }
            }),
            with(|c| {
                if let EnrollmentTokenCommand::Create {
                    rate_limit_per_minute,
                    ..
                } = c
                {
                    *rate_limit_per_minute = 0;
                }
            }),
        ];
        for command in bad {
            given_no_events::<EnrollmentToken>()
                .when(command)
                .then_refused(invalid);
        }
        // The boundaries themselves are allowed.
        given_no_events::<EnrollmentToken>()
            .when(create(MAX_USES))
            .then_events(|events| assert_eq!(events.len(), 1));
        given_no_events::<EnrollmentToken>()
            .when(with(|c| {
                if let EnrollmentTokenCommand::Create { expires_at, .. } = c {
                    *expires_at = at() + Duration::days(MAX_LIFETIME_DAYS);
                }
            }))
            .then_events(|events| assert_eq!(events.len(), 1));
    }

    #[test]
    fn a_preset_gives_its_kind_and_permissions_and_excludes_its_own() {
        let from_preset = |kind: Option<&str>, permissions: Option<Vec<String>>, name: &str| {
            EnrollmentTokenCommand::Create {
                tenant_id: TenantId::default(),
                label: "analysts".into(),
                secret_hash: "h".into(),
                at: at(),
                expires_at: expires_at(),
                max_uses: 5,
                kind: kind.map(str::to_owned),
                permissions,
                rate_limit_per_minute: 600,
                preset: Some(name.into()),
            }
        };
        let state = given_no_events::<EnrollmentToken>()
            .when(from_preset(None, None, "analytics-ai"))
            .then_events(|_| {});
        let analytics = preset::find("analytics-ai");
        assert_eq!(state.kind.as_deref(), analytics.map(|p| p.kind));
        let mut expected = analytics
            .map(preset::Preset::permissions)
            .unwrap_or_default();
        expected.sort_unstable();
        assert_eq!(state.permissions, expected);
        assert_eq!(state.preset.as_deref(), Some("analytics-ai"));

        for command in [
            from_preset(Some("analyst"), None, "analytics-ai"),
            from_preset(None, Some(vec![]), "analytics-ai"),
            from_preset(None, None, "no-such-preset"),
        ] {
            given_no_events::<EnrollmentToken>()
                .when(command)
                .then_refused(invalid);
        }
    }

    #[test]
    fn a_token_enrolls_until_its_last_use_and_not_one_more() {
        let state = given::<EnrollmentToken>([created(2)])
            .when(enroll(at()))
            .then([used()]);
        assert_eq!(state.uses_left(), 1);
        let state = given::<EnrollmentToken>([created(2), used()])
            .when(enroll(at()))
            .then([used()]);
        assert_eq!(state.uses_left(), 0);
        given::<EnrollmentToken>([created(2), used(), used()])
            .when(enroll(at()))
            .then_refused(in_state("used up"));
    }

    #[test]
    fn a_token_expires_at_its_expiry_exactly() {
        given::<EnrollmentToken>([created(2)])
            .when(enroll(expires_at() - Duration::microseconds(1)))
            .then([used()]);
        for late in [expires_at(), expires_at() + Duration::days(1)] {
            given::<EnrollmentToken>([created(2)])
                .when(enroll(late))
                .then_refused(|e| matches!(e, DomainError::Expired(_)));
        }
    }

    #[test]
    fn a_revoked_token_enrolls_no_one_and_is_revoked_once() {
        let revoked = EnrollmentTokenEvent::EnrollmentTokenRevoked;
        let state = given::<EnrollmentToken>([created(2), used()])
            .when(EnrollmentTokenCommand::Revoke)
            .then([revoked.clone()]);
        assert!(state.revoked);
        given::<EnrollmentToken>([created(2), revoked.clone()])
            .when(enroll(at()))
            .then_refused(in_state("revoked"));
        given::<EnrollmentToken>([created(2), revoked])
            .when(EnrollmentTokenCommand::Revoke)
            .then_nothing_happens();
    }

    #[test]
    fn a_missing_token_is_not_found() {
        for command in [enroll(at()), EnrollmentTokenCommand::Revoke] {
            given_no_events::<EnrollmentToken>()
                .when(command)
                .then_refused(|e| matches!(e, DomainError::NotFound(_)));
        }
    }

    #[test]
    fn the_enrolled_kind_is_the_tokens_or_else_the_agents_own() {
        let token = EnrollmentToken::fold(&[created(2)]);
        assert_eq!(token.kind_for(None).ok().as_deref(), Some("moderator"));
        assert_eq!(
            token.kind_for(Some("moderator".into())).ok().as_deref(),
            Some("moderator")
        );
        assert!(token.kind_for(Some("writer".into())).is_err());
        let open = EnrollmentToken {
            kind: None,
            ..token
        };
        assert_eq!(
            open.kind_for(Some("writer".into())).ok().as_deref(),
            Some("writer")
        );
        assert!(open.kind_for(None).is_err());
        assert!(open.kind_for(Some("bad\u{0}".into())).is_err());
    }
}
