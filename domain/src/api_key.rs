//! Operator API keys: a role and a home tenant. Only the key's hash is stored.

use serde::{Deserialize, Serialize};

use crate::aggregate::Aggregate;
use crate::error::DomainError;
use crate::ids::TenantId;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, in every tenant.
    Admin,
    /// Runs commands in its tenant.
    Operator,
    /// Reads its tenant.
    Viewer,
    /// Reads its tenant and its audit history.
    Auditor,
}

crate::names::snake_case_names!(Role {
    Admin => "admin",
    Operator => "operator",
    Viewer => "viewer",
    Auditor => "auditor",
});

impl Role {
    pub fn can_run_commands(self) -> bool {
        matches!(self, Role::Admin | Role::Operator)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ApiKey {
    pub exists: bool,
    pub tenant_id: TenantId,
    pub role: Option<Role>,
    pub label: String,
    /// Hex SHA-256 of the key's secret part.
    #[serde(skip)]
    pub secret_hash: String,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub enum ApiKeyCommand {
    Create {
        tenant_id: TenantId,
        role: Role,
        label: String,
        secret_hash: String,
    },
    Revoke,
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames, strum::EnumDiscriminants,
)]
#[strum_discriminants(
    name(ApiKeyEventType),
    derive(Hash, strum::IntoStaticStr, strum::VariantArray),
    strum(const_into_str)
)]
#[serde(tag = "type", content = "data")]
pub enum ApiKeyEvent {
    ApiKeyCreated {
        tenant_id: TenantId,
        role: Role,
        label: String,
        secret_hash: String,
    },
    ApiKeyRevoked,
}

impl Aggregate for ApiKey {
    type Command = ApiKeyCommand;
    type Event = ApiKeyEvent;
    type Id = crate::ids::ApiKeyId;
    const STREAM_PREFIX: &'static str = "apikey";
    const ENTITY: &'static str = "api key";

    fn owner(&self) -> Option<crate::ids::TenantId> {
        self.exists.then_some(self.tenant_id)
    }

    fn decide(state: &Self, command: ApiKeyCommand) -> Result<Vec<ApiKeyEvent>, DomainError> {
        match command {
            ApiKeyCommand::Create {
                tenant_id,
                role,
                label,
                secret_hash,
            } => {
                if state.exists {
                    return Err(DomainError::AlreadyExists("api key"));
                }
                if label.len() > 200 {
                    return Err(DomainError::invalid("label is longer than 200 characters"));
                }
                Ok(vec![ApiKeyEvent::ApiKeyCreated {
                    tenant_id,
                    role,
                    label,
                    secret_hash,
                }])
            }
            ApiKeyCommand::Revoke => {
                if !state.exists {
                    return Err(DomainError::NotFound("api key"));
                }
                // Revoking twice changes nothing and says so by appending nothing.
                Ok(if state.revoked {
                    vec![]
                } else {
                    vec![ApiKeyEvent::ApiKeyRevoked]
                })
            }
        }
    }

    fn evolve(mut state: Self, event: &ApiKeyEvent) -> Self {
        match event {
            ApiKeyEvent::ApiKeyCreated {
                tenant_id,
                role,
                label,
                secret_hash,
            } => {
                state.exists = true;
                state.tenant_id = *tenant_id;
                state.role = Some(*role);
                state.label = label.clone();
                state.secret_hash = secret_hash.clone();
            }
            ApiKeyEvent::ApiKeyRevoked => state.revoked = true,
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn created() -> ApiKey {
        let events = ApiKey::decide(
            &ApiKey::default(),
            ApiKeyCommand::Create {
                tenant_id: TenantId::new(),
                role: Role::Viewer,
                label: "ci".into(),
                secret_hash: "abc".into(),
            },
        );
        ApiKey::fold(&events.unwrap_or_default())
    }

    #[test]
    fn keys_are_created_then_revoked_once() {
        let key = created();
        assert!(key.exists && !key.revoked);
        assert_eq!(key.role, Some(Role::Viewer));
        let revoke = ApiKey::decide(&key, ApiKeyCommand::Revoke).unwrap_or_default();
        assert_eq!(revoke, vec![ApiKeyEvent::ApiKeyRevoked]);
        let revoked = ApiKey::evolve(key, &revoke[0]);
        assert!(revoked.revoked);
        assert_eq!(ApiKey::decide(&revoked, ApiKeyCommand::Revoke), Ok(vec![]));
    }

    #[test]
    fn missing_keys_cannot_be_revoked_and_existing_ones_not_recreated() {
        assert_eq!(
            ApiKey::decide(&ApiKey::default(), ApiKeyCommand::Revoke),
            Err(DomainError::NotFound("api key"))
        );
        let again = ApiKey::decide(
            &created(),
            ApiKeyCommand::Create {
                tenant_id: TenantId::new(),
                role: Role::Admin,
                label: String::new(),
                secret_hash: String::new(),
            },
        );
        assert_eq!(again, Err(DomainError::AlreadyExists("api key")));
    }

    #[test]
    fn only_admins_and_operators_run_commands() {
        assert!(Role::Admin.can_run_commands() && Role::Operator.can_run_commands());
        assert!(!Role::Viewer.can_run_commands() && !Role::Auditor.can_run_commands());
    }
}
