//! The store contract, run against every adapter: SQLite and PostgreSQL on a
//! real database, and the in-memory store.

macro_rules! for_each_backend {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let db = agentledger_store::testing::TestDatabase::sqlite();
                    agentledger_store::conformance::$check(&db).await;
                }
            )*
        }
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let store = agentledger_store::memory::MemoryStore::new();
                    agentledger_store::conformance::$check(&store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let Some(db) = agentledger_store::testing::TestDatabase::postgres(stringify!($check)).await else {
                        return;
                    };
                    agentledger_store::conformance::$check(&db).await;
                }
            )*
        }
    };
}

for_each_backend!(
    expected_version_semantics,
    appends_are_all_or_nothing,
    reappending_stored_events_is_idempotent,
    read_stream_pages_in_version_order,
    the_full_envelope_round_trips,
    every_event_chains_to_the_one_before,
    read_all_pages_and_filters,
    read_all_filters_by_actor_correlation_and_time,
    as_of_resolves_times_and_reads_prefixes,
    subscriptions_catch_up_then_go_live,
    subscriptions_see_appends_from_other_processes,
    closing_answers_accepted_appends_then_refuses,
);

// Idempotency keys are kept by the SQL backends only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_remember_answers_on_sqlite() {
    let db = agentledger_store::testing::TestDatabase::sqlite();
    agentledger_store::conformance::idempotency_keys_remember_answers(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_remember_answers_on_postgres() {
    let check = "idempotency_keys_remember_answers";
    if let Some(db) = agentledger_store::testing::TestDatabase::postgres(check).await {
        agentledger_store::conformance::idempotency_keys_remember_answers(&db).await;
    }
}
