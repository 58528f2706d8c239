//! Tenants and operator API keys: admins create tenants and keys and revoke
//! keys; operators who may run commands set their tenant's time zone.

use agentledger_commands::operators::{
    IssuedKey, create_api_key, create_tenant, revoke_api_key, set_time_zone,
};
use agentledger_domain::api_key::Role;
use agentledger_domain::ids::{ApiKeyId, TenantId};

use crate::app::App;
use crate::caller::Operator;
use crate::error::AppError;

/// A new tenant: its id and the position of its creation.
pub async fn new_tenant(
    app: &App,
    operator: &Operator,
    name: String,
) -> Result<(TenantId, u64), AppError> {
    operator.require_admin()?;
    let tenant_id = TenantId::new();
    let position = create_tenant(&app.handler, &operator.context(), tenant_id, name).await?;
    Ok((tenant_id, position))
}

/// Sets the zone a tenant's days are counted in (`None`: UTC).
pub async fn time_zone(
    app: &App,
    operator: &Operator,
    tenant_id: TenantId,
    zone: Option<String>,
) -> Result<u64, AppError> {
    operator.tenant_to_read(Some(tenant_id))?;
    operator.require_commands()?;
    Ok(set_time_zone(&app.handler, &operator.context(), tenant_id, zone).await?)
}

/// A new API key of `role` for `tenant_id` (the admin's own when absent);
/// the key is in the answer only.
pub async fn new_key(
    app: &App,
    operator: &Operator,
    tenant_id: Option<TenantId>,
    role: Role,
    label: String,
) -> Result<(TenantId, IssuedKey), AppError> {
    operator.require_admin()?;
    let tenant_id = tenant_id.unwrap_or(operator.tenant_id);
    let ctx = operator.context();
    let issued =
        create_api_key(&app.handler, &ctx, ApiKeyId::new(), tenant_id, role, label).await?;
    Ok((tenant_id, issued))
}

pub async fn revoke_key(app: &App, operator: &Operator, key_id: ApiKeyId) -> Result<u64, AppError> {
    operator.require_admin()?;
    Ok(revoke_api_key(&app.handler, &operator.context(), key_id).await?)
}
