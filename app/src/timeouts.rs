//! Marks commands that ran past their deadline as timed out, once a period.
//! Overdue commands are read from the command history read model, so a
//! restart reads it where it is. The decision is the command's own
//! (`TimeOut` is a no-op unless the deadline passed and it is unfinished), so
//! a model that lags, two servers doing this at once, or a restart never
//! time a command out twice.

use std::time::Duration;

use agentledger_commands::Context;
use agentledger_domain::ids::TenantId;
use agentledger_domain::instruction::{Instruction, InstructionCommand};
use agentledger_projections::command_history::overdue;
use tokio::task::JoinHandle;

use crate::app::App;

/// Commands timed out per period at most; the rest wait for the next one.
const PER_PERIOD: i64 = 500;

pub fn spawn_command_timeouts(state: App, period: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        loop {
            ticks.tick().await;
            let now = agentledger_store::now();
            let due = match overdue(&state.database, now.timestamp_micros(), PER_PERIOD).await {
                Ok(due) => due,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read overdue commands");
                    continue;
                }
            };
            for (command_id, tenant_id) in due {
                let (Ok(command_id), Ok(tenant_id)) =
                    (command_id.parse::<uuid::Uuid>(), tenant_id.parse())
                else {
                    continue;
                };
                let ctx = Context::system(TenantId(tenant_id), "command-timeouts");
                if let Err(e) = state
                    .handler
                    .run::<Instruction>(&ctx, command_id, InstructionCommand::TimeOut { at: now })
                    .await
                {
                    tracing::warn!(%command_id, error = %e, "cannot time out command");
                }
            }
        }
    })
}
