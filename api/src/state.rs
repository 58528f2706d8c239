use std::sync::Arc;

use agentledger_commands::Handler;
use agentledger_commands::tokens::TokenIssuer;
use agentledger_projections::command_book::CommandBook;
use agentledger_projections::follower::{Progress, follow};
use agentledger_projections::task_queue::TaskQueue;
use agentledger_store::{EventStore, IdempotencyStore, Storage};

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
}

impl AppState {
    /// Starts the in-memory task queue following the log. `jwt_secret` signs
    /// agent access tokens; all servers of a deployment must share it.
    pub fn new(storage: Storage, jwt_secret: &[u8]) -> Self {
        let store = storage.events;
        let task_queue = Arc::new(TaskQueue::default());
        let (task_queue_progress, _) = follow(store.clone(), task_queue.clone(), "task_queue");
        let presence = Arc::new(Presence::default());
        follow(store.clone(), presence.clone(), "presence");
        let command_book = Arc::new(CommandBook::default());
        let (command_book_progress, _) =
            follow(store.clone(), command_book.clone(), "command_book");
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
        }
    }
}
