//! Agent presets (`domain::preset`): listed for operators, and registered as
//! agents of their tenant by those who may run commands.

use agentledger_commands::agents::Registered;
use agentledger_domain::preset::{self, PRESETS, Preset};

use crate::app::App;
use crate::caller::Operator;
use crate::error::AppError;

/// Every preset. Any operator may read them: they are the same for all and
/// say nothing of a tenant.
pub fn list(_operator: &Operator) -> &'static [Preset] {
    PRESETS
}

/// A new agent of the operator's tenant with the preset's kind and
/// permissions, named `name` (the preset's own name when absent); answered
/// as any registration is, with the secret shown once.
pub async fn register(
    app: &App,
    operator: &Operator,
    preset_name: &str,
    name: Option<String>,
) -> Result<Registered, AppError> {
    operator.require_commands()?;
    let preset =
        preset::find(preset_name).ok_or_else(|| AppError::NotFound("preset not found".into()))?;
    let name = name.unwrap_or_else(|| preset.name.to_owned());
    crate::agents::register(
        app,
        operator,
        name,
        preset.kind.to_owned(),
        preset.permissions(),
        None,
    )
    .await
}
