//! The runtime: starts the models that follow the log and the background
//! workers, and stops them all. One per process (a test may run several).

use std::time::Duration;

use agentledger_store::Storage;
use tokio::task::JoinHandle;

use crate::app::{App, Reporters};
use crate::deliveries::DeliverySettings;
use crate::limits::LimitsConfig;

/// The workers' settings.
#[derive(Debug, Clone)]
pub struct Workers {
    /// An online agent silent this long is marked offline.
    pub offline_after: Duration,
    /// How often overdue commands and execution steps are looked for.
    pub deadline_check: Duration,
    pub deliveries: DeliverySettings,
}

impl Default for Workers {
    fn default() -> Self {
        Self {
            offline_after: Duration::from_secs(120),
            deadline_check: Duration::from_secs(1),
            deliveries: DeliverySettings::default(),
        }
    }
}

/// Everything running in the background for one [`App`]. Dropping it stops
/// the lot, as [`Runtime::stop`] does without waiting.
pub struct Runtime {
    app: App,
    tasks: Vec<JoinHandle<()>>,
    /// Where the reactors report, until they are started.
    reactors: Option<Reporters>,
}

impl Runtime {
    /// Starts the models following the log; requests can be served from here
    /// on. `jwt_secret` signs agent access tokens: every server of a
    /// deployment must share it.
    pub fn start(storage: Storage, jwt_secret: &[u8], limits: LimitsConfig) -> Self {
        let (app, tasks, reactors) = App::start(storage, jwt_secret, limits);
        Self {
            app,
            tasks,
            reactors: Some(reactors),
        }
    }

    pub fn app(&self) -> &App {
        &self.app
    }

    /// Starts the workers that act on their own: the presence monitor,
    /// command timeouts, the reactors, the read-model alarms and the pruning
    /// of idempotency keys. Separate from [`Runtime::start`] so a first start
    /// can set the installation up before anything reacts to it.
    pub fn start_workers(&mut self, workers: Workers) {
        let app = &self.app;
        self.tasks.extend([
            crate::presence::spawn_monitor(app.clone(), workers.offline_after),
            crate::idempotency::spawn_pruner(app.idempotency.clone()),
            crate::timeouts::spawn_command_timeouts(app.clone(), workers.deadline_check),
            crate::executions::spawn_deadlines(app.clone(), workers.deadline_check),
        ]);
        // Started once: a second call starts the other workers again only.
        if let Some(reporters) = self.reactors.take() {
            self.tasks.extend([
                crate::reactors::spawn::<crate::reactors::AlertsAndBatches>(
                    app.clone(),
                    reporters.reactors,
                ),
                crate::reactors::spawn::<crate::deliveries::schedule::Scheduler>(
                    app.clone(),
                    reporters.deliveries,
                ),
                crate::deliveries::spawn_worker(app.clone(), workers.deliveries),
                crate::reactors::spawn::<crate::executions::engine::Engine>(
                    app.clone(),
                    reporters.executions,
                ),
            ]);
        }
        self.tasks.extend(crate::stalls::spawn(app));
    }

    /// Stops every model and worker, and waits until they have.
    pub async fn stop(mut self) {
        let tasks = std::mem::take(&mut self.tasks);
        for task in &tasks {
            task.abort();
        }
        for task in tasks {
            // Cancelled is the expected end; a panic was logged where it happened.
            let _ = task.await;
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
