//! The alarm for a read model that stopped: it cannot apply an event and
//! will not pass over it (`projections::follower::Stall`). Besides the error
//! log, `/ready` and `/metrics`, each stall raises a critical alert in the
//! installation's default tenant, once per model and position, so operators
//! who watch alerts rather than logs learn of it.

use std::time::Duration;

use agentledger_commands::Context;
use agentledger_commands::alerts::raise;
use agentledger_commands::operators::default_tenant;
use agentledger_domain::alert::{AlertSource, RaisedAlert, Severity};
use agentledger_projections::follower::{Progress, Stall};
use tokio::task::JoinHandle;

use crate::app::App;

/// The alert's text is an operator's: short, with where to read more.
const MAX_ERROR_CHARS: usize = 1000;

pub fn spawn(state: &App) -> Vec<JoinHandle<()>> {
    state
        .models()
        .into_iter()
        .map(|(name, progress)| tokio::spawn(watch(state.clone(), name, progress.clone())))
        .collect()
}

async fn watch(state: App, name: &'static str, progress: Progress) {
    let mut changes = progress.stall_changes();
    loop {
        let stall = changes.borrow_and_update().clone();
        if let Some(stall) = stall {
            // Raising is retried until it lands: the alarm must not be lost
            // to a passing store error.
            while let Err(e) = alert(&state, name, &stall).await {
                tracing::warn!(projection = name, error = %e, "could not raise the read model's alert; retrying");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
        if changes.changed().await.is_err() {
            return;
        }
    }
}

async fn alert(
    state: &App,
    name: &'static str,
    stall: &Stall,
) -> Result<(), agentledger_commands::CommandError> {
    let Some(tenant) = default_tenant(&state.handler).await? else {
        return Ok(());
    };
    let error: String = stall
        .error
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_ERROR_CHARS)
        .collect();
    let raised = RaisedAlert {
        tenant_id: tenant,
        source: AlertSource::ReadModel,
        severity: Severity::Critical,
        title: format!("Read model {name} stopped"),
        detail: format!(
            "It cannot apply the events after position {}: {error}. It retries every second; \
             see the server's log and the README on repairing a read model.",
            stall.after
        ),
        subject: format!("read-model:{name}:{}", stall.after),
    };
    raise(
        &state.handler,
        &Context::system(tenant, "read-model-monitor"),
        raised,
    )
    .await?;
    Ok(())
}
