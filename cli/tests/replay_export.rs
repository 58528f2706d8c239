//! `agentledger replay` builds read models up to a past point in another
//! database without touching the live ones; `agentledger export` writes a
//! file that appears only once complete and reads back as the log.

use std::collections::BTreeMap;

use agentledger_projections::engine::{Contents, all, checkpoint, contents};
use agentledger_store::conformance::test_config;
use agentledger_store::testing::TestDatabase;
use agentledger_store::{Database, EventFilter, Storage};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use tokio::process::Command;

async fn agentledger(url: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_agentledger"))
        .args(args)
        .env("AGENTLEDGER_DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap_or_else(|e| panic!("agentledger {args:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

async fn open(db: &TestDatabase) -> Storage {
    db.open(test_config())
        .await
        .unwrap_or_else(|e| panic!("open {}: {e}", db.url()))
}

/// Every model's checkpoint and full contents.
async fn models(db: &Database) -> BTreeMap<&'static str, (u64, Contents)> {
    let mut all_models = BTreeMap::new();
    for projection in all() {
        let at = checkpoint(db, projection.name()).await.unwrap_or(u64::MAX);
        let rows = contents(db, &*projection)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", projection.name()));
        all_models.insert(projection.name(), (at, rows));
    }
    all_models
}

/// `fresh(name)` gives a new empty database; `None` skips the test.
async fn replay_and_export(
    fresh: impl AsyncFn(&str) -> Option<TestDatabase>,
    scratch_dir: &std::path::Path,
) {
    let Some(live) = fresh("replay_live").await else {
        return;
    };
    let (ok, text) = agentledger(live.url(), &["demo", "--days", "1"]).await;
    assert!(ok, "{text}");
    let (ok, text) = agentledger(live.url(), &["rebuild"]).await;
    assert!(ok, "{text}");
    let storage = open(&live).await;
    let head = storage.events.head_position().await.unwrap_or_default();
    let before = models(&storage.database).await;
    assert!(head > 100 && before.values().all(|(at, _)| *at == head));

    // Up to the middle of the log, into a database of its own.
    let Some(middle) = fresh("replay_middle").await else {
        return;
    };
    let point = (head / 2).to_string();
    let (ok, text) = agentledger(
        live.url(),
        &["replay", "--to", &point, "--into", middle.url()],
    )
    .await;
    assert!(ok, "{text}");
    let replayed = open(&middle).await;
    let at_middle = models(&replayed.database).await;
    assert!(at_middle.values().all(|(at, _)| *at == head / 2), "{text}");
    let runs_then = storage
        .events
        .read_all(
            1,
            head as usize,
            &EventFilter {
                event_types: vec!["LlmRunRecorded".into()],
                ..EventFilter::default()
            },
        )
        .await
        .unwrap_or_default()
        .iter()
        .filter(|e| e.position <= head / 2)
        .count();
    assert_eq!(at_middle["run_log"].1["rm_run_log"].len(), runs_then);
    assert!(runs_then > 0);
    assert_eq!(replayed.events.head_position().await.ok(), Some(0));
    // The live models were not touched.
    assert_eq!(models(&storage.database).await, before);

    // Up to the head, the replay equals the live models row for row.
    let Some(whole) = fresh("replay_whole").await else {
        return;
    };
    let (ok, text) = agentledger(
        live.url(),
        &["replay", "--to", &head.to_string(), "--into", whole.url()],
    )
    .await;
    assert!(ok, "{text}");
    assert_eq!(models(&open(&whole).await.database).await, before);

    // Refusals: the live database itself, a point past the head, a target
    // that holds a log.
    for (args, why) in [
        (
            vec!["replay", "--to", "1", "--into", live.url()],
            "live database",
        ),
        (
            vec!["replay", "--to", "999999", "--into", whole.url()],
            "past the end",
        ),
        (vec!["replay", "--to", "1", "--into", "mysql://x"], "sqlite"),
    ] {
        let (ok, text) = agentledger(live.url(), &args).await;
        assert!(!ok && text.contains(why), "{args:?}: {text}");
    }
    let (ok, text) = agentledger(whole.url(), &["replay", "--to", "0", "--into", live.url()]).await;
    assert!(!ok && text.contains("holds a log"), "{text}");

    // Export: the file appears complete, with one row per event.
    let out = scratch_dir.join("events.parquet");
    let out_arg = out.to_string_lossy().to_string();
    let (ok, text) = agentledger(
        live.url(),
        &["export", "events", "--format", "parquet", "--out", &out_arg],
    )
    .await;
    assert!(ok, "{text}");
    let file = std::fs::File::open(&out).unwrap_or_else(|e| panic!("{e}"));
    let rows: usize = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .unwrap_or_else(|e| panic!("{e}"))
        .map(|b| b.map(|b| b.num_rows()).unwrap_or_default())
        .sum();
    assert_eq!(rows as u64, head);
    // A refused export leaves nothing behind, not even a partial file.
    let refused = scratch_dir.join("runs.csv");
    let (ok, text) = agentledger(
        live.url(),
        &[
            "export",
            "runs",
            "--format",
            "csv",
            "--out",
            &refused.to_string_lossy(),
        ],
    )
    .await;
    assert!(!ok && text.contains("tenant_id"), "{text}");
    // An export that fails after writing (here: the target is a directory,
    // so the final rename fails) removes what it wrote.
    let occupied = scratch_dir.join("occupied");
    std::fs::create_dir_all(occupied.join("inside")).unwrap_or_else(|e| panic!("{e}"));
    let (ok, text) = agentledger(
        live.url(),
        &[
            "export",
            "events",
            "--format",
            "csv",
            "--out",
            &occupied.to_string_lossy(),
        ],
    )
    .await;
    assert!(!ok, "{text}");
    std::fs::remove_dir_all(&occupied).unwrap_or_else(|e| panic!("{e}"));
    let left: Vec<_> = std::fs::read_dir(scratch_dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert_eq!(
        left,
        [std::ffi::OsString::from("events.parquet")],
        "{left:?}"
    );
    storage.events.close().await;
}

fn scratch_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("agentledger-export-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_replay_and_export() {
    let dir = scratch_dir();
    replay_and_export(async |_| Some(TestDatabase::sqlite()), &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replay_and_export() {
    let dir = scratch_dir();
    replay_and_export(
        async |name| {
            let db = TestDatabase::postgres(name).await?;
            // Replay creates a missing schema: drop the one just made for it.
            if name != "replay_live" {
                drop_schema(db.url()).await;
            }
            Some(db)
        },
        &dir,
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
}

async fn drop_schema(url: &str) {
    let schema = url.rsplit("search_path]=").next().unwrap_or_default();
    let server = url.split('?').next().unwrap_or_default();
    let pool = sqlx::PgPool::connect(server)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&pool)
        .await
        .unwrap_or_else(|e| panic!("drop {schema} via {server}: {e}"));
}
