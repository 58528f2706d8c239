//! Whether the server can take work: the event store answers, and no model
//! following the log has stopped at an event it cannot apply.

use agentledger_projections::follower::Stall;

use crate::app::App;
use crate::error::AppError;

/// How far one model following the log has got.
#[derive(Debug, Clone)]
pub struct ModelProgress {
    pub name: &'static str,
    pub position: u64,
    /// Events behind the head of the log.
    pub lag: u64,
    /// Where it stopped and why, if it did.
    pub stall: Option<Stall>,
}

/// The store's head and every model's progress, read once.
#[derive(Debug, Clone)]
pub struct Readiness {
    pub head_position: u64,
    pub models: Vec<ModelProgress>,
}

impl Readiness {
    /// The models that stopped. Each serves stale data for every tenant
    /// until it is repaired, so while any has, the server is not ready.
    pub fn stalled(&self) -> Vec<&'static str> {
        self.models
            .iter()
            .filter(|m| m.stall.is_some())
            .map(|m| m.name)
            .collect()
    }

    pub fn is_ready(&self) -> bool {
        self.models.iter().all(|m| m.stall.is_none())
    }
}

impl App {
    /// The readiness report; an unreachable store is `Unavailable`.
    pub async fn readiness(&self) -> Result<Readiness, AppError> {
        let head = self
            .store
            .head_position()
            .await
            .map_err(|e| AppError::Unavailable(format!("event store unreachable: {e}")))?;
        let models = self
            .models()
            .into_iter()
            .map(|(name, progress)| {
                let position = progress.position();
                ModelProgress {
                    name,
                    position,
                    lag: head.saturating_sub(position),
                    stall: progress.stall(),
                }
            })
            .collect();
        Ok(Readiness {
            head_position: head,
            models,
        })
    }
}
