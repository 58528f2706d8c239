//! Tenants, operator API keys and the first start.

use agentledger_domain::Aggregate;
use agentledger_domain::api_key::{ApiKey, ApiKeyCommand, Role};
use agentledger_domain::ids::{ApiKeyId, TenantId};
use agentledger_domain::tenant::{Initialise, Installation, Tenant, TenantCommand};

use crate::auth::{API_KEY_PREFIX, format_token};
use crate::error::CommandError;
use crate::handler::{Context, Handler};
use crate::secrets::{random_secret, sha256_hex};

pub const DEFAULT_TENANT_NAME: &str = "default";

pub async fn create_tenant(
    handler: &Handler,
    ctx: &Context,
    tenant_id: TenantId,
    name: String,
) -> Result<u64, CommandError> {
    let ctx = Context {
        tenant_id,
        ..ctx.clone()
    };
    let executed = handler
        .execute::<Tenant>(
            &Tenant::stream_id(tenant_id),
            &ctx,
            TenantCommand::Create { name },
        )
        .await?;
    Ok(executed.position)
}

/// Sets the zone the tenant's days are counted in; `None` for UTC.
pub async fn set_time_zone(
    handler: &Handler,
    ctx: &Context,
    tenant_id: TenantId,
    time_zone: Option<String>,
) -> Result<u64, CommandError> {
    let executed = handler
        .execute::<Tenant>(
            &Tenant::stream_id(tenant_id),
            &Context {
                tenant_id,
                ..ctx.clone()
            },
            TenantCommand::SetTimeZone { time_zone },
        )
        .await?;
    Ok(executed.position)
}

/// A new key; the returned plaintext is the only copy there will ever be.
pub struct IssuedKey {
    pub key_id: ApiKeyId,
    pub key: String,
    pub position: u64,
}

pub async fn create_api_key(
    handler: &Handler,
    ctx: &Context,
    key_id: ApiKeyId,
    tenant_id: TenantId,
    role: Role,
    label: String,
) -> Result<IssuedKey, CommandError> {
    let tenant = handler.load::<Tenant>(tenant_id).await?.state;
    if !tenant.exists {
        return Err(agentledger_domain::DomainError::NotFound("tenant").into());
    }
    let secret = random_secret();
    let command = ApiKeyCommand::Create {
        tenant_id,
        role,
        label,
        secret_hash: sha256_hex(&secret),
    };
    let ctx = Context {
        tenant_id,
        ..ctx.clone()
    };
    let executed = handler
        .execute::<ApiKey>(&ApiKey::stream_id(key_id), &ctx, command)
        .await?;
    Ok(IssuedKey {
        key_id,
        key: format_token(API_KEY_PREFIX, &[key_id.0], &secret),
        position: executed.position,
    })
}

pub async fn revoke_api_key(
    handler: &Handler,
    ctx: &Context,
    key_id: ApiKeyId,
) -> Result<u64, CommandError> {
    let executed = handler
        .execute::<ApiKey>(&ApiKey::stream_id(key_id), ctx, ApiKeyCommand::Revoke)
        .await?;
    Ok(executed.position)
}

/// The tenant created when the ledger was set up, where the installation's
/// own alerts go; `None` before setup.
pub async fn default_tenant(handler: &Handler) -> Result<Option<TenantId>, CommandError> {
    let stream = Installation::stream_id(Installation::ID);
    let installed = handler.load_stream::<Installation>(&stream).await?.state;
    Ok(installed.initialised.map(|(tenant, _)| tenant))
}

/// On a fresh ledger: creates the default tenant and an admin key, and returns
/// them so the caller can show the key once. `None` when already set up.
pub async fn bootstrap(handler: &Handler) -> Result<Option<(TenantId, IssuedKey)>, CommandError> {
    let stream = Installation::stream_id(Installation::ID);
    let installed = handler.load_stream::<Installation>(&stream).await?.state;
    if installed.initialised.is_some() {
        return Ok(None);
    }
    let plan = Initialise {
        default_tenant_id: TenantId::new(),
        admin_key_id: ApiKeyId::new(),
    };
    let ctx = Context::system(plan.default_tenant_id, "bootstrap");
    let executed = handler
        .execute::<Installation>(&stream, &ctx, plan.clone())
        .await?;
    // Another server that started at the same moment won the race: it prints the key.
    if executed.state.initialised != Some((plan.default_tenant_id, plan.admin_key_id))
        || executed.events.is_empty()
    {
        return Ok(None);
    }
    create_tenant(
        handler,
        &ctx,
        plan.default_tenant_id,
        DEFAULT_TENANT_NAME.into(),
    )
    .await?;
    let key = create_api_key(
        handler,
        &ctx,
        plan.admin_key_id,
        plan.default_tenant_id,
        Role::Admin,
        "bootstrap admin".into(),
    )
    .await?;
    Ok(Some((plan.default_tenant_id, key)))
}
