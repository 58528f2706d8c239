//! The live runner keeps all models together, one transaction per batch; a
//! model whose batch fails must hold back only itself.

use std::sync::Arc;
use std::time::Duration;

use agentledger_domain::Actor;
use agentledger_domain::codec::encode;
use agentledger_domain::ids::AgentId;
use agentledger_domain::reports::{ActionStatus, ReportEvent};
use agentledger_projections::engine::{self, Projection, contents};
use agentledger_projections::operation_log::OperationLog;
use agentledger_projections::run_log::RunLog;
use agentledger_projections::sql_projection;
use agentledger_store::testing::TestDatabase;
use agentledger_store::{EventStore, ExpectedVersion, NewEvent, StoreConfig};
use uuid::Uuid;

/// A model whose every batch fails, as one with a bad migration would.
struct Broken;

impl Projection for Broken {
    fn name(&self) -> &'static str {
        "broken"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[]
    }
}

sql_projection!(Broken, |_this, conn, _events| {
    sqlx::query("INSERT INTO no_such_table (x) VALUES (1)")
        .execute(&mut *conn)
        .await?;
    Ok(())
});

async fn append_actions(store: &dyn EventStore, tenant: Uuid, count: usize) -> u64 {
    let agent = AgentId::new();
    let events = (0..count)
        .map(|i| {
            let (event_type, payload) = encode(&ReportEvent::ActionRecorded {
                agent_id: agent,
                action: "approve_post".into(),
                resource_type: "post".into(),
                resource_id: Some(format!("r-{i}")),
                status: ActionStatus::Success,
                confidence: Some(0.5),
                reasoning: None,
                request_data: None,
                execution_time_ms: Some(10),
            })
            .unwrap_or_else(|e| panic!("an action encodes: {e}"));
            NewEvent::new(tenant, Actor::system("test"), event_type, payload)
        })
        .collect();
    match store
        .append(&format!("agent-{agent}"), ExpectedVersion::Any, events)
        .await
    {
        Ok(outcome) => outcome.last_position(),
        Err(e) => panic!("append failed: {e}"),
    }
}

async fn a_failing_model_holds_back_only_itself(db: TestDatabase) {
    let storage = match db.open(StoreConfig::default()).await {
        Ok(storage) => storage,
        Err(e) => panic!("cannot open the test database: {e}"),
    };
    let store = storage.events.clone();
    let tenant = Uuid::now_v7();
    let first = append_actions(&*store, tenant, 3).await;
    let (progress, runner) = engine::spawn(
        store.clone(),
        storage.database.clone(),
        vec![Arc::new(OperationLog), Arc::new(Broken), Arc::new(RunLog)],
        Arc::new(|_, _| {}),
    );
    let of = |name: &str| {
        progress
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| p.clone())
            .unwrap_or_else(|| panic!("no progress for {name}"))
    };
    let (operations, runs, broken) = (of("operation_log"), of("run_log"), of("broken"));
    // Before and after the broken model left the group.
    for head in [first, append_actions(&*store, tenant, 2).await] {
        for model in [&operations, &runs] {
            assert!(
                model.wait_for(head, Duration::from_secs(30)).await,
                "a healthy model stopped at {} of {head}",
                model.position()
            );
        }
    }
    assert_eq!(broken.position(), 0, "the broken model applied nothing");
    let rows = match contents(&storage.database, &OperationLog).await {
        Ok(rows) => rows,
        Err(e) => panic!("cannot read the operation log: {e}"),
    };
    assert_eq!(rows.get("rm_operation_log").map(Vec::len), Some(5));

    // Stopped, the runners apply nothing more.
    runner.abort();
    assert!(runner.await.is_err_and(|e| e.is_cancelled()));
    let stopped_at = operations.position();
    append_actions(&*store, tenant, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(operations.position(), stopped_at);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_a_failing_model_holds_back_only_itself() {
    a_failing_model_holds_back_only_itself(TestDatabase::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_failing_model_holds_back_only_itself() {
    if let Some(db) = TestDatabase::postgres("runner a_failing_model_holds_back_only_itself").await
    {
        a_failing_model_holds_back_only_itself(db).await;
    }
}
