//! Marks commands that ran past their deadline as timed out, once a second.
//! The decision is the command's own (`TimeOut` is a no-op unless the
//! deadline passed and it is unfinished), so two servers doing this at once,
//! or a restart, never time a command out twice.

use std::time::Duration;

use agentledger_commands::Context;
use agentledger_commands::dispatch::run;
use agentledger_domain::dispatch::DispatchCommand;

use crate::state::AppState;

pub fn spawn_command_timeouts(state: AppState, period: Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        loop {
            ticks.tick().await;
            let now = agentledger_store::now();
            for overdue in state.command_book.overdue(now) {
                let ctx = Context::system(overdue.tenant_id, "command-timeouts");
                if let Err(e) = run(
                    &state.handler,
                    &ctx,
                    overdue.command_id,
                    DispatchCommand::TimeOut { at: now },
                )
                .await
                {
                    tracing::warn!(command_id = %overdue.command_id, error = %e, "cannot time out command");
                }
            }
        }
    });
}
