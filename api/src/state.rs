use std::sync::Arc;

use agentledger_commands::Handler;
use agentledger_commands::tokens::TokenIssuer;
use agentledger_projections::cache_index::CacheIndex;
use agentledger_projections::command_book::CommandBook;
use agentledger_projections::dashboard::Dashboard;
use agentledger_projections::engine;
use agentledger_projections::follower::{Apply, Progress, follow};
use agentledger_projections::operation_log::OperationLog;
use agentledger_projections::run_log::RunLog;
use agentledger_projections::task_queue::TaskQueue;
use agentledger_store::{Database, EventStore, IdempotencyStore, Storage};

use crate::limits::Limits;
use crate::presence::Presence;

/// Everything a request handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn EventStore>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub handler: Handler,
    pub tokens: Arc<TokenIssuer>,
    pub limits: Arc<Limits>,
    pub task_queue: Arc<TaskQueue>,
    pub task_queue_progress: Progress,
    pub presence: Arc<Presence>,
    pub command_book: Arc<CommandBook>,
    pub command_book_progress: Progress,
    pub cache_index: Arc<CacheIndex>,
    pub cache_index_progress: Progress,
    /// The database of the log, where persistent read models live too.
    pub database: Database,
    pub operation_log_progress: Progress,
    pub dashboard_progress: Progress,
    pub run_log_progress: Progress,
    pub metrics: crate::metrics::Metrics,
}

/// A new in-memory model, following the log from its start.
fn followed<M: Apply + Default>(
    store: &Arc<dyn EventStore>,
    name: &'static str,
) -> (Arc<M>, Progress) {
    let model = Arc::new(M::default());
    let (progress, _) = follow(store.clone(), model.clone(), name);
    (model, progress)
}

impl AppState {
    /// Starts the in-memory models following the log. `jwt_secret` signs
    /// agent access tokens; all servers of a deployment must share it.
    pub fn new(storage: Storage, jwt_secret: &[u8]) -> Self {
        let store = storage.events;
        let (task_queue, task_queue_progress) = followed::<TaskQueue>(&store, "task_queue");
        let (presence, _) = followed::<Presence>(&store, "presence");
        let (command_book, command_book_progress) = followed::<CommandBook>(&store, "command_book");
        let (cache_index, cache_index_progress) = followed::<CacheIndex>(&store, "cache_index");
        let operation_log_progress = engine::spawn(
            store.clone(),
            storage.database.clone(),
            Arc::new(OperationLog),
        );
        let dashboard_progress =
            engine::spawn(store.clone(), storage.database.clone(), Arc::new(Dashboard));
        let run_log_progress =
            engine::spawn(store.clone(), storage.database.clone(), Arc::new(RunLog));
        Self {
            handler: Handler::new(store.clone()),
            store,
            idempotency: storage.idempotency,
            tokens: Arc::new(TokenIssuer::new(jwt_secret)),
            limits: Arc::new(Limits::default()),
            task_queue,
            task_queue_progress,
            presence,
            command_book,
            command_book_progress,
            cache_index,
            cache_index_progress,
            database: storage.database,
            operation_log_progress,
            dashboard_progress,
            run_log_progress,
            metrics: crate::metrics::Metrics::new()
                .unwrap_or_else(|e| panic!("metric names are valid: {e}")),
        }
    }

    /// Every model following the log, and how far it got.
    pub fn models(&self) -> Vec<(&'static str, &Progress)> {
        vec![
            ("task_queue", &self.task_queue_progress),
            ("command_book", &self.command_book_progress),
            ("cache_index", &self.cache_index_progress),
            ("operation_log", &self.operation_log_progress),
            ("dashboard", &self.dashboard_progress),
            ("run_log", &self.run_log_progress),
        ]
    }
}
