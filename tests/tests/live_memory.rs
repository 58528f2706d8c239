//! A live feed's client that stops reading holds no server memory for what
//! it has not read, and is told where to resume once it reads again.
//!
//! Measured as the growth of this process's resident memory (the server
//! runs in it), so the test is alone in its binary and runs the backends
//! one after the other: nothing else allocates meanwhile.

use std::time::Duration;

use agentledger_domain::Actor;
use agentledger_store::testing::TestDatabase;
use agentledger_store::{ExpectedVersion, NewEvent};
use agentledger_tests::TestServer;
use agentledger_tests::live::{Sse, position, tenant_positions};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Events written past what a stalled reader saw: more than a live feed may
/// fall behind.
const WRITES: u64 = agentledger_app::live::MAX_LAG + 20_000;
const READERS: usize = 20;

fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or_default()
        * 1024
}

/// `WRITES` events of about half a kilobyte for the tenant, in batches.
async fn write(server: &TestServer, tenant_id: &str) {
    let tenant = tenant_id.parse().unwrap_or_default();
    let padding = "x".repeat(400);
    for batch in 0..WRITES / 500 {
        let events: Vec<NewEvent> = (0..500)
            .map(|i| {
                NewEvent::new(
                    tenant,
                    Actor::system("test"),
                    "LiveTestTick",
                    json!({ "batch": batch, "i": i, "padding": padding }),
                )
            })
            .collect();
        server
            .state
            .store
            .append(&format!("tick-{tenant_id}"), ExpectedVersion::Any, events)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

/// A feed whose client sends its request and then reads nothing.
async fn stalled_reader(server: &TestServer, key: &str) -> TcpStream {
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut socket = TcpStream::connect(&address)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let request = format!(
        "GET /api/v1/stream HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {key}\r\n\r\n"
    );
    socket
        .write_all(request.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    socket
}

async fn stalled_readers_hold_no_memory_and_are_told_where_to_resume(server: TestServer) {
    let (tenant_id, op) = server.tenant("stalled").await;
    // Once without readers, so the growth measured next is not the store's
    // caches and the allocator's arenas filling up.
    write(&server, &tenant_id).await;
    let mut stalled = Vec::new();
    for _ in 0..READERS {
        stalled.push(stalled_reader(&server, &op).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = resident_bytes();
    write(&server, &tenant_id).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let grown = resident_bytes().saturating_sub(before);
    eprintln!(
        "resident memory grew by {} kB while {READERS} readers stalled through {WRITES} events",
        grown / 1024
    );
    // Held per reader, the events they did not read would be about
    // 20 × 70,000 × 0.5 kB = 700 MB.
    assert!(
        grown < 64 * 1024 * 1024,
        "memory grew by {} MB with {READERS} stalled readers",
        grown / (1024 * 1024)
    );

    // Reading again, a reader gets what its socket held, then where to resume.
    let mut socket = stalled.swap_remove(0);
    let mut seen = Vec::new();
    let mut buffer = vec![0u8; 1 << 16];
    let told = loop {
        let n = tokio::time::timeout(Duration::from_secs(30), socket.read(&mut buffer))
            .await
            .unwrap_or_else(|_| panic!("the stalled stream neither went on nor ended"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(n > 0, "the stream ended without saying where to resume");
        seen.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&seen);
        if let Some(at) = text.find("event: behind") {
            break text[at..].to_owned();
        }
    };
    let data = told
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap_or_default();
    let behind: Value = serde_json::from_str(data).unwrap_or_default();
    let resume_after = behind["resume_after"].as_u64().unwrap_or_default();
    assert!(resume_after > 0, "{told}");
    let mut resumed = Sse::open(&server, &op, "", Some(resume_after)).await;
    let next = resumed.until(|_| true).await;
    let after = tenant_positions(&server, &tenant_id, resume_after).await;
    assert_eq!(
        Some(position(&next[0])),
        after.first().copied(),
        "nothing skipped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_readers_on_each_backend() {
    let sqlite = TestServer::start(TestDatabase::sqlite()).await;
    stalled_readers_hold_no_memory_and_are_told_where_to_resume(sqlite).await;
    if let Some(db) = TestDatabase::postgres("stalled_readers_on_each_backend").await {
        stalled_readers_hold_no_memory_and_are_told_where_to_resume(TestServer::start(db).await)
            .await;
    }
}
