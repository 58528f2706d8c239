//! The tool calls under way from this server: at most [`AT_ONCE`] in all and
//! [`PER_TENANT`] for one tenant, each waiting for its slots on its own task
//! (the engine never waits for one, so a tenant whose tools hang holds up
//! only its own calls), and each aborted when its attempt ends otherwise:
//! timed out, or its execution failed or was cancelled.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use agentledger_domain::ids::TenantId;
use tokio::sync::Semaphore;
use tokio::task::AbortHandle;
use uuid::Uuid;

/// Calls under way at once, from this server.
const AT_ONCE: usize = 64;
/// Calls under way at once for one tenant.
const PER_TENANT: usize = 16;

/// An attempt: its execution, step and number.
type Attempt = (Uuid, String, u32);

pub struct UnderWay {
    all: Arc<Semaphore>,
    tenants: Mutex<HashMap<TenantId, Arc<Semaphore>>>,
    calls: Arc<Mutex<HashMap<Attempt, AbortHandle>>>,
}

impl Default for UnderWay {
    fn default() -> Self {
        Self {
            all: Arc::new(Semaphore::new(AT_ONCE)),
            tenants: Mutex::default(),
            calls: Arc::default(),
        }
    }
}

impl UnderWay {
    /// Runs `call` for `attempt` once a slot of the server's and one of the
    /// tenant's are free.
    pub fn spawn(
        &self,
        tenant: TenantId,
        attempt: Attempt,
        call: impl Future<Output = ()> + Send + 'static,
    ) {
        let mine = {
            let mut tenants = self.tenants.lock().unwrap_or_else(PoisonError::into_inner);
            // Tenants with nothing under way are forgotten.
            tenants.retain(|t, slots| *t == tenant || slots.available_permits() < PER_TENANT);
            tenants
                .entry(tenant)
                .or_insert_with(|| Arc::new(Semaphore::new(PER_TENANT)))
                .clone()
        };
        let (all, calls, key) = (self.all.clone(), self.calls.clone(), attempt.clone());
        let mut held = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        let task = tokio::spawn(async move {
            let (Ok(_tenant_slot), Ok(_slot)) =
                (mine.acquire_owned().await, all.acquire_owned().await)
            else {
                return;
            };
            call.await;
            calls
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&key);
        });
        held.insert(attempt, task.abort_handle());
    }

    /// Aborts the call of `attempt`, if one is under way.
    pub fn abort(&self, attempt: &Attempt) {
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(call) = calls.remove(attempt) {
            call.abort();
        }
    }

    /// Aborts every call of the execution under way.
    pub fn abort_all(&self, execution_id: Uuid) {
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        calls.retain(|(execution, _, _), call| {
            let keep = *execution != execution_id;
            if !keep {
                call.abort();
            }
            keep
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_tenant_holds_at_most_its_share_and_an_aborted_call_frees_it() {
        let under_way = UnderWay::default();
        let (busy, other) = (TenantId::new(), TenantId::new());
        let execution = Uuid::now_v7();
        let hang = || std::future::pending::<()>();
        for n in 0..(PER_TENANT as u32 + 4) {
            under_way.spawn(busy, (execution, "s".into(), n), hang());
        }
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        under_way.spawn(other, (Uuid::now_v7(), "s".into(), 1), async move {
            let _ = done_tx.send(());
        });
        let served = tokio::time::timeout(Duration::from_secs(5), done_rx).await;
        assert!(served.is_ok(), "another tenant's call is not held up");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(under_way.all.available_permits(), AT_ONCE - PER_TENANT);
        under_way.abort_all(execution);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(under_way.all.available_permits(), AT_ONCE);
    }
}
