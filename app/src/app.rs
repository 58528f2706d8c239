//! The application's state: what every use case and worker reaches.

use std::sync::Arc;
use std::time::Duration;

use agentledger_commands::Handler;
use agentledger_commands::tokens::TokenIssuer;
use agentledger_projections::cache_index::CacheIndex;
use agentledger_projections::command_book::CommandBook;
use agentledger_projections::engine::{self, Projection};
use agentledger_projections::follower::{Apply, Progress, Reporter, follow};
use agentledger_projections::task_queue::TaskQueue;
use agentledger_projections::webhook_deliveries::DeliveryQueue;
use agentledger_store::{Database, EventStore, IdempotencyStore, Storage};
use tokio::task::JoinHandle;

use crate::error::AppError;
use crate::limits::{Limits, LimitsConfig};
use crate::presence::Presence;
use crate::read_your_writes::reached;

/// Everything a use case can reach: the store, the handlers, the models
/// following the log and the policies' state. Cheap to clone.
#[derive(Clone)]
pub struct App {
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
    /// Each persistent read model's progress, by projection name.
    pub read_models: Arc<Vec<(&'static str, Progress)>>,
    /// How far the reactors got, and where they stopped if they did.
    pub reactors_progress: Progress,
    pub metrics: crate::metrics::Metrics,
    pub live_feeds: crate::live::FeedSlots,
    /// Which addresses the server may call on a tenant's behalf.
    pub address_policy: agentledger_domain::address::AddressPolicy,
    /// The webhook deliveries still to be made.
    pub delivery_queue: Arc<DeliveryQueue>,
    pub delivery_queue_progress: Progress,
    /// How far the reactor scheduling deliveries got.
    pub deliveries_progress: Progress,
    /// How far the execution engine got.
    pub executions_progress: Progress,
    /// The tool calls the execution engine has under way.
    pub tool_calls: Arc<crate::executions::UnderWay>,
    /// The time budgets' days and months are read at.
    pub clock: crate::clock::Clock,
}

/// Where the reactors report, until they are started.
pub(crate) struct Reporters {
    pub reactors: Reporter,
    pub deliveries: Reporter,
    pub executions: Reporter,
}

/// A new in-memory model, following the log from its start.
fn followed<M: Apply + Default>(
    store: &Arc<dyn EventStore>,
    name: &'static str,
    tasks: &mut Vec<JoinHandle<()>>,
) -> (Arc<M>, Progress) {
    let model = Arc::new(M::default());
    let (progress, task) = follow(store.clone(), model.clone(), name);
    tasks.push(task);
    (model, progress)
}

impl App {
    /// Starts every model following the log: the in-memory ones and the
    /// persistent read models. `jwt_secret` signs agent access tokens; all
    /// servers of a deployment must share it. The tasks are the runtime's
    /// to stop.
    pub(crate) fn start(
        storage: Storage,
        jwt_secret: &[u8],
        limits: LimitsConfig,
    ) -> (Self, Vec<JoinHandle<()>>, Reporters) {
        let store = storage.events;
        let mut tasks = Vec::new();
        let (task_queue, task_queue_progress) =
            followed::<TaskQueue>(&store, "task_queue", &mut tasks);
        let presence = Arc::new(Presence::default());
        let (command_book, command_book_progress) =
            followed::<CommandBook>(&store, "command_book", &mut tasks);
        let (cache_index, cache_index_progress) =
            followed::<CacheIndex>(&store, "cache_index", &mut tasks);
        let (delivery_queue, delivery_queue_progress) =
            followed::<DeliveryQueue>(&store, "delivery_queue", &mut tasks);
        let metrics = crate::metrics::Metrics::new()
            .unwrap_or_else(|e| panic!("metric names are valid: {e}"));
        let observer = metrics.projection_observer();
        let (read_models, runner) = engine::spawn(
            store.clone(),
            storage.database.clone(),
            engine::all(),
            observer,
        );
        tasks.push(runner);
        let (reactors, reactors_progress) = Reporter::new();
        let (deliveries, deliveries_progress) = Reporter::new();
        let (executions, executions_progress) = Reporter::new();
        let live_feeds =
            crate::live::FeedSlots::new(limits.live_feeds, limits.live_feeds_per_tenant);
        let app = Self {
            handler: Handler::new(store.clone()),
            store,
            idempotency: storage.idempotency,
            tokens: Arc::new(TokenIssuer::new(jwt_secret)),
            limits: Arc::new(Limits::new(limits)),
            task_queue,
            task_queue_progress,
            presence,
            command_book,
            command_book_progress,
            cache_index,
            cache_index_progress,
            database: storage.database,
            read_models: Arc::new(read_models),
            reactors_progress,
            metrics,
            live_feeds,
            address_policy: limits.address_policy,
            delivery_queue,
            delivery_queue_progress,
            deliveries_progress,
            executions_progress,
            tool_calls: Arc::default(),
            clock: crate::clock::Clock::default(),
        };
        (
            app,
            tasks,
            Reporters {
                reactors,
                deliveries,
                executions,
            },
        )
    }

    /// The progress of the persistent read model `projection`.
    pub fn progress_of(&self, projection: &dyn Projection) -> Progress {
        let name = projection.name();
        self.read_models
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| p.clone())
            // Every projection of `engine::all` is spawned, so this is only
            // reached by one left out of it: it never advances, and queries
            // with `min_position` answer 503.
            .unwrap_or_else(Progress::never)
    }

    /// The progress of the read model `projection` once it has applied the
    /// log up to `min_position` (503 if it does not get there in time, 422
    /// at once if the log has no such position).
    pub async fn caught_up(
        &self,
        projection: &dyn Projection,
        min_position: Option<u64>,
    ) -> Result<Progress, AppError> {
        let progress = self.progress_of(projection);
        if let Some(wanted) = min_position
            && wanted > progress.position()
        {
            // Positions come from commands' answers, and the head is read from
            // the database every server shares: one past it was never handed
            // out, and waiting for it would only hold the request for 5 s.
            let head = self.store.head_position().await?;
            if wanted > head {
                return Err(AppError::PastHead { wanted, head });
            }
        }
        reached(&progress, min_position).await?;
        Ok(progress)
    }

    /// Waits, at most `timeout`, until an in-memory model has applied the
    /// log up to its head as it is now; after that it answers from there.
    pub async fn settle(&self, model: &Progress, timeout: Duration) -> Result<(), AppError> {
        let head = self.store.head_position().await?;
        model.wait_for(head, timeout).await;
        Ok(())
    }

    /// Every model following the log, and how far it got; the reactors
    /// too, so a stop of theirs shows where a model's does (`/ready`,
    /// `/metrics`, an alert).
    pub fn models(&self) -> Vec<(&'static str, &Progress)> {
        let mut models = vec![
            ("task_queue", &self.task_queue_progress),
            ("command_book", &self.command_book_progress),
            ("cache_index", &self.cache_index_progress),
            ("delivery_queue", &self.delivery_queue_progress),
            (crate::reactors::NAME, &self.reactors_progress),
            // Not their checkpoints' names, which the read models beside them
            // have too: one label for two things showed a name twice in
            // `/ready` and let one gauge overwrite the other in `/metrics`.
            (
                crate::deliveries::schedule::LABEL,
                &self.deliveries_progress,
            ),
            (crate::executions::engine::LABEL, &self.executions_progress),
        ];
        models.extend(self.read_models.iter().map(|(n, p)| (*n, p)));
        models
    }
}
