//! The server's background work besides answering requests.

use std::time::Duration;

use crate::state::AppState;

#[derive(Debug, Clone, Copy)]
pub struct Workers {
    /// An online agent silent this long is marked offline.
    pub offline_after: Duration,
    /// How often overdue commands are looked for.
    pub command_timeout_check: Duration,
}

impl Default for Workers {
    fn default() -> Self {
        Self {
            offline_after: Duration::from_secs(120),
            command_timeout_check: Duration::from_secs(1),
        }
    }
}

impl Workers {
    pub fn spawn(self, state: &AppState) {
        crate::presence::spawn_monitor(state.clone(), self.offline_after);
        crate::idempotency::spawn_pruner(state.idempotency.clone());
        crate::timeouts::spawn_command_timeouts(state.clone(), self.command_timeout_check);
        crate::reactors::spawn(state.clone());
        crate::stalls::spawn(state);
    }
}
