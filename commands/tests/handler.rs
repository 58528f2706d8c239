//! The command handler against the in-memory store: what it adds around an
//! aggregate's decision (retrying on a concurrent change, stamping events
//! with the aggregate's tenant, keeping callers in their tenant).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use agentledger_commands::{CommandError, Context, Handler};
use agentledger_domain::address::AddressPolicy;
use agentledger_domain::budget::{Budget, BudgetCommand, BudgetScope, Limits, Rule};
use agentledger_domain::ids::TenantId;
use agentledger_domain::task::{NewTask, Task, TaskCommand};
use agentledger_domain::{Actor, Aggregate, DomainError};
use agentledger_store::memory::MemoryStore;
use agentledger_store::{
    AppendOutcome, EventFilter, EventStore, ExpectedVersion, NewEvent, Position, RecordedEvent,
    StoreError, Subscription,
};
use async_trait::async_trait;
use serde_json::json;

/// A store where someone else appends to a stream just before the first
/// append the handler makes: the handler's expected version is then stale.
struct Raced {
    inner: MemoryStore,
    rival: NewEvent,
    raced: AtomicBool,
    /// How many appends the handler made (the rival's not counted).
    appends: AtomicUsize,
}

#[async_trait]
impl EventStore for Raced {
    async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, StoreError> {
        if !self.raced.swap(true, Ordering::SeqCst) {
            let rival = vec![self.rival.clone()];
            self.inner
                .append(stream_id, ExpectedVersion::Any, rival)
                .await?;
        }
        self.appends.fetch_add(1, Ordering::SeqCst);
        self.inner.append(stream_id, expected, events).await
    }

    async fn read_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_stream(stream_id, from_version, limit).await
    }

    async fn read_all(
        &self,
        from_position: Position,
        limit: usize,
        filter: &EventFilter,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_all(from_position, limit, filter).await
    }

    async fn head_position(&self) -> Result<Position, StoreError> {
        self.inner.head_position().await
    }

    fn subscribe_all(&self, from_position: Position, filter: EventFilter) -> Subscription {
        self.inner.subscribe_all(from_position, filter)
    }

    async fn close(&self) {
        self.inner.close().await;
    }
}

fn limits(daily_tokens: u64) -> Limits {
    Limits {
        daily_tokens: Some(daily_tokens),
        ..Limits::default()
    }
}

#[tokio::test]
async fn a_command_that_lost_a_race_is_decided_again_on_the_new_state() {
    let tenant = TenantId::new();
    let ctx = Context::system(tenant, "test");
    let rival_event = NewEvent::new(
        tenant.0,
        Actor::system("rival"),
        "BudgetSet",
        json!({ "daily_tokens": 5, "monthly_tokens": null, "daily_cost_micros": null, "monthly_cost_micros": null }),
    );
    let store = Arc::new(Raced {
        inner: MemoryStore::new(),
        rival: rival_event,
        raced: AtomicBool::new(false),
        appends: AtomicUsize::new(0),
    });
    let handler = Handler::new(store.clone());
    let stream = Budget::stream_id(tenant);

    let executed = handler
        .execute::<Budget>(
            &stream,
            &ctx,
            BudgetCommand::Set {
                scope: BudgetScope::Tenant,
                rule: Rule::warning(limits(9)),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("the retry should land: {e}"));

    assert_eq!(executed.state.tenant_limits(), limits(9));
    let stored = store.read_stream(&stream, 0, 10).await.unwrap_or_default();
    let actors: Vec<&str> = stored.iter().map(|e| e.actor.id.as_str()).collect();
    assert_eq!(
        actors,
        ["rival", "test"],
        "the rival's event, then ours on top"
    );
}

fn new_task(tenant: TenantId) -> NewTask {
    NewTask {
        tenant_id: tenant,
        task_type: "t".into(),
        input: json!(null),
        priority: 0,
        callback_url: None,
        dedup_key: None,
        forced: false,
        retry_of: None,
        agent_kind: None,
        step: None,
    }
}

#[tokio::test]
async fn events_belong_to_the_aggregates_tenant_whoever_causes_them() {
    let store = Arc::new(MemoryStore::new());
    let handler = Handler::new(store.clone());
    let (theirs, admins) = (TenantId::new(), TenantId::new());
    let stream = Task::stream_id(agentledger_domain::ids::TaskId::new());
    let created = handler
        .execute::<Task>(
            &stream,
            &Context::system(theirs, "test"),
            TaskCommand::Create {
                task: new_task(theirs),
                policy: AddressPolicy::default(),
            },
        )
        .await;
    assert!(created.is_ok(), "{created:?}");

    // An admin of another tenant (no tenant scope) cancels it.
    let admin = Context::system(admins, "admin");
    let cancel = TaskCommand::Cancel { reason: None };
    let cancelled = handler.execute::<Task>(&stream, &admin, cancel).await;
    assert!(cancelled.is_ok(), "{cancelled:?}");

    let stored = store.read_stream(&stream, 0, 10).await.unwrap_or_default();
    let tenants: Vec<_> = stored.iter().map(|e| e.tenant_id).collect();
    assert_eq!(tenants, [theirs.0, theirs.0]);
}

#[tokio::test]
async fn a_caller_scoped_to_a_tenant_does_not_see_another_tenants_aggregate() {
    let store = Arc::new(MemoryStore::new());
    let handler = Handler::new(store.clone());
    let theirs = TenantId::new();
    let stream = Task::stream_id(agentledger_domain::ids::TaskId::new());
    let created = handler
        .execute::<Task>(
            &stream,
            &Context::system(theirs, "test"),
            TaskCommand::Create {
                task: new_task(theirs),
                policy: AddressPolicy::default(),
            },
        )
        .await;
    assert!(created.is_ok(), "{created:?}");
    let head = store.head_position().await.unwrap_or_default();

    let ours = TenantId::new();
    let scoped = Context {
        tenant_scope: Some(ours),
        ..Context::system(ours, "operator")
    };
    let refused = handler
        .execute::<Task>(&stream, &scoped, TaskCommand::Cancel { reason: None })
        .await;
    assert!(
        matches!(
            refused,
            Err(CommandError::Domain(DomainError::NotFound("task")))
        ),
        "{refused:?}"
    );
    assert_eq!(
        store.head_position().await.unwrap_or_default(),
        head,
        "nothing appended"
    );
}

#[tokio::test]
async fn commands_run_together_land_in_one_append_or_not_at_all() {
    // A rival that has already had its turn: this store only counts.
    let store = Arc::new(Raced {
        inner: MemoryStore::new(),
        rival: NewEvent::new(
            uuid::Uuid::nil(),
            Actor::system("rival"),
            "Unused",
            json!({}),
        ),
        raced: AtomicBool::new(true),
        appends: AtomicUsize::new(0),
    });
    let handler = Handler::new(store.clone());
    let tenant = TenantId::new();
    let ctx = Context::system(tenant, "test");
    let create = || TaskCommand::Create {
        task: new_task(tenant),
        policy: AddressPolicy::default(),
    };
    let cancel = || TaskCommand::Cancel { reason: None };

    // The second command is decided on the state the first left.
    let task = agentledger_domain::ids::TaskId::new();
    let both = handler
        .run_all::<Task>(&ctx, task, vec![create(), cancel()])
        .await;
    assert!(both.is_ok(), "{both:?}");
    let stored = store
        .read_stream(&Task::stream_id(task), 0, 10)
        .await
        .unwrap_or_default();
    assert_eq!(stored.len(), 2);
    // One append: nothing of anyone else's could come between them.
    assert_eq!(store.appends.load(Ordering::SeqCst), 1);

    // A refusal of any one refuses them all.
    let other = agentledger_domain::ids::TaskId::new();
    let head = store.head_position().await.unwrap_or_default();
    let refused = handler
        .run_all::<Task>(&ctx, other, vec![create(), cancel(), cancel()])
        .await;
    assert!(
        matches!(refused, Err(CommandError::Domain(_))),
        "{refused:?}"
    );
    assert_eq!(
        store.head_position().await.unwrap_or_default(),
        head,
        "nothing appended"
    );
}
