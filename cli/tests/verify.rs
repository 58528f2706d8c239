//! Tamper evidence: events edited, deleted or reordered directly in the
//! database make `agentledger verify` (and the audit route) fail at the
//! position of the first change; an untouched log verifies clean.

use agentledger_store::conformance::test_config;
use agentledger_store::on_database;
use agentledger_store::testing::TestDatabase;
use serde_json::Value;
use tokio::process::Command;

mod common;
use common::start_server;

fn agentledger(url: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_agentledger"));
    command
        .args(args)
        .env("AGENTLEDGER_DATABASE_URL", url)
        .env("RUST_LOG", "warn");
    command
}

/// Runs the demo and returns the admin key and the log head it printed.
async fn seeded(db: &TestDatabase) -> (String, u64) {
    let out = agentledger(db.url(), &["demo", "--days", "1"])
        .output()
        .await
        .unwrap_or_else(|e| panic!("demo: {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let key = stdout
        .lines()
        .find_map(|l| l.strip_prefix("admin API key: "))
        .unwrap_or_default()
        .trim()
        .to_owned();
    let head = stdout
        .split("log head at ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_default();
    (key, head)
}

/// `verify`'s exit status and what it printed.
async fn verify(db: &TestDatabase) -> (bool, String) {
    let out = agentledger(db.url(), &["verify"])
        .output()
        .await
        .unwrap_or_else(|e| panic!("verify: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

async fn tamper(db: &TestDatabase, statements: &[&str]) {
    let storage = db
        .open(test_config())
        .await
        .unwrap_or_else(|e| panic!("open: {e}"));
    for sql in statements {
        on_database!(&storage.database, p => sqlx::query(sqlx::AssertSqlSafe(*sql))
            .execute(p)
            .await
            .map(|_| ())
            .unwrap_or_else(|e| panic!("{sql}: {e}")));
    }
    storage.events.close().await;
}

async fn every_kind_of_tampering_is_found_at_its_position(
    fresh: impl Fn(&str) -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<TestDatabase>>>>,
) {
    let Some(untouched) = fresh("verify_untouched").await else {
        return;
    };
    seeded(&untouched).await;
    let (ok, text) = verify(&untouched).await;
    assert!(ok && text.contains("intact"), "{text}");

    // Position 0 stands for the log's last event.
    let cases: [(&str, &[&str], u64); 5] = [
        (
            "edited payload",
            &["UPDATE events SET payload = '{\"forged\":true}' WHERE position = 100"],
            100,
        ),
        (
            "edited actor",
            &["UPDATE events SET actor_id = 'mallory' WHERE position = 120"],
            120,
        ),
        ("deleted", &["DELETE FROM events WHERE position = 150"], 150),
        (
            "reordered",
            &[
                "UPDATE events SET position = -1 WHERE position = 200",
                "UPDATE events SET position = 200 WHERE position = 201",
                "UPDATE events SET position = 201 WHERE position = -1",
            ],
            200,
        ),
        (
            "last event deleted",
            &["DELETE FROM events WHERE position = (SELECT MAX(position) FROM events)"],
            0,
        ),
    ];
    for (i, (what, statements, position)) in cases.into_iter().enumerate() {
        let Some(db) = fresh(&format!("verify_case_{i}")).await else {
            return;
        };
        let (admin, head) = seeded(&db).await;
        let position = if position == 0 { head } else { position };
        assert!(head > 201, "the demo log is long enough: {head}");
        tamper(&db, statements).await;
        let (ok, text) = verify(&db).await;
        assert!(!ok, "{what}: verify passed\n{text}");
        assert!(
            text.contains(&format!("position {position} ")),
            "{what}: {text}"
        );

        // The audit route reports the same break, even after the server appended more.
        if i == 0 {
            let mut server = start_server(db.url()).await;
            assert!(server.admin_key.is_none(), "demo already set the ledger up");
            let report: Value = reqwest::Client::new()
                .get(format!("{}/api/v1/audit/verify", server.base))
                .bearer_auth(&admin)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .json()
                .await
                .unwrap_or_default();
            let _ = server.child.kill().await;
            assert_eq!(
                report["first_break"]["position"],
                Value::from(position),
                "{report}"
            );
            assert_eq!(report["verified"], Value::from(position - 1));
        }
        println!("{what}: verify fails at position {position}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_tampering_is_found() {
    every_kind_of_tampering_is_found_at_its_position(|_| {
        Box::pin(async { Some(TestDatabase::sqlite()) })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_tampering_is_found() {
    every_kind_of_tampering_is_found_at_its_position(|name| {
        let name = name.to_owned();
        Box::pin(async move { TestDatabase::postgres(&name).await })
    })
    .await;
}
