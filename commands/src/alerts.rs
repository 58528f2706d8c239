//! Raising alerts (the alert policy's reactions) and handling them.

use agentledger_domain::Aggregate;
use agentledger_domain::alert::{Alert, AlertCommand, RaisedAlert};
use uuid::Uuid;

use crate::error::CommandError;
use crate::handler::{Context, Handler, derived_id};

/// The alert about `subject`: the same subject always names the same alert.
pub fn alert_id(subject: &str) -> Uuid {
    derived_id(&format!("alert:{subject}"))
}

/// Raises the alert unless it was raised before. Returns its id and whether
/// this call raised it.
pub async fn raise(
    handler: &Handler,
    ctx: &Context,
    alert: RaisedAlert,
) -> Result<(Uuid, bool), CommandError> {
    let id = alert_id(&alert.subject);
    let ctx = Context {
        tenant_id: alert.tenant_id,
        ..ctx.clone()
    };
    let executed = handler
        .execute::<Alert>(&Alert::stream_id(id), &ctx, AlertCommand::Raise(alert))
        .await?;
    Ok((id, !executed.events.is_empty()))
}
