//! A newcomer's first run: `agentledger demo`, then `agentledger serve`, and
//! the seeded failures come back as alerts raised by the server's reactors.

use std::time::Duration;

use agentledger_store::testing::TestDatabase;
use serde_json::Value;
use tokio::process::Command;

mod common;
use common::start_server;

async fn demo_then_serve_raises_the_seeded_alerts(db: TestDatabase) {
    let output = Command::new(env!("CARGO_BIN_EXE_agentledger"))
        .args(["demo", "--days", "3"])
        .env("AGENTLEDGER_DATABASE_URL", db.url())
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run demo: {e}"));
    assert!(
        output.status.success(),
        "demo failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let admin = stdout
        .lines()
        .find_map(|l| l.strip_prefix("admin API key: "))
        .unwrap_or_else(|| panic!("demo printed no admin key: {stdout}"))
        .trim()
        .to_owned();
    assert!(stdout.contains("5 agents"), "{stdout}");

    let mut server = start_server(db.url()).await;
    assert!(
        server.admin_key.is_none(),
        "the ledger was set up by demo: no second admin key"
    );
    let http = reqwest::Client::new();
    let mut alerts = 0;
    for _ in 0..100 {
        let page: Value = http
            .get(format!(
                "{}/api/v1/events?types=AlertRaised&limit=1000",
                server.base
            ))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_default();
        alerts = page["events"].as_array().map_or(0, Vec::len);
        if alerts > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let operator = stdout
        .lines()
        .find_map(|l| l.strip_prefix("operator API key for the demo tenant: "))
        .unwrap_or_default()
        .trim()
        .to_owned();
    let mut week_calls = 0;
    for _ in 0..100 {
        let dashboard: Value = http
            .get(format!("{}/api/v1/dashboard", server.base))
            .bearer_auth(&operator)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_default();
        week_calls = dashboard["trend"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["calls"].as_i64())
            .sum();
        if week_calls > 0
            && dashboard["recent_alerts"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = server.child.start_kill();
    assert!(
        alerts > 0,
        "the server's alert reactor raised nothing for the seeded failures"
    );
    assert!(week_calls > 0, "the demo tenant's dashboard is empty");
    println!(
        "demo then serve: {alerts} alerts raised from the seeded failures; the dashboard shows {week_calls} LLM calls this week"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_demo_then_serve() {
    demo_then_serve_raises_the_seeded_alerts(TestDatabase::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_demo_then_serve() {
    if let Some(db) = TestDatabase::postgres("demo_then_serve").await {
        demo_then_serve_raises_the_seeded_alerts(db).await;
    }
}
