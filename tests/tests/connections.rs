//! Connections the server holds: silent ones are closed after the header
//! read timeout, idle keep-alive ones after the idle timeout, and past the
//! maximum a client is answered 503 rather than left unanswered.

use std::time::Duration;

use agentledger_api::connections::Limits;
use agentledger_store::testing::TestDatabase;
use agentledger_tests::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LIMITS: Limits = Limits {
    max_connections: 4,
    header_read_timeout: Duration::from_millis(500),
    idle_timeout: Duration::from_millis(700),
};

async fn connect(server: &TestServer) -> TcpStream {
    let address = server.base.trim_start_matches("http://");
    match TcpStream::connect(address).await {
        Ok(stream) => stream,
        Err(e) => panic!("connect: {e}"),
    }
}

/// Reads until the server closes the connection (or `within` passes) and
/// returns what it sent.
async fn read_to_close(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut answer = Vec::new();
    match tokio::time::timeout(within, stream.read_to_end(&mut answer)).await {
        Ok(_) => Some(String::from_utf8_lossy(&answer).into_owned()),
        Err(_) => None,
    }
}

async fn get_health(stream: &mut TcpStream) {
    let request = b"GET /health HTTP/1.1\r\nhost: test\r\n\r\n";
    if let Err(e) = stream.write_all(request).await {
        panic!("write: {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_idle_connections_are_closed_and_the_rest_answered_503() {
    let server = TestServer::start_with_limits(TestDatabase::sqlite(), LIMITS).await;

    // Four silent connections take every place.
    let mut silent = Vec::new();
    for _ in 0..LIMITS.max_connections {
        silent.push(connect(&server).await);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The fifth is told why it is not served, as a problem.
    let mut fifth = connect(&server).await;
    get_health(&mut fifth).await;
    let answer = read_to_close(&mut fifth, Duration::from_secs(5))
        .await
        .unwrap_or_default();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
    assert!(
        answer.contains("/problems/too-many-connections"),
        "{answer}"
    );

    // The silent ones are closed once the header read timeout passes...
    for stream in &mut silent {
        let closed = read_to_close(stream, Duration::from_secs(5)).await;
        assert!(closed.is_some(), "a silent connection stayed open");
    }
    // ...and their places serve again.
    let (status, body) = server.get("/health", "unused").await;
    assert!(status.is_success(), "{body}");

    // A keep-alive connection that was answered and then goes quiet is
    // closed after the idle timeout.
    let mut idle = connect(&server).await;
    get_health(&mut idle).await;
    let mut head = [0u8; 12];
    if let Err(e) = idle.read_exact(&mut head).await {
        panic!("read: {e}");
    }
    assert_eq!(&head, b"HTTP/1.1 200");
    let started = tokio::time::Instant::now();
    let closed = read_to_close(&mut idle, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "an idle connection stayed open");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "closed before it was idle"
    );
}

#[test]
fn the_file_limit_must_hold_the_connections_asked_for() {
    let hard = match rlimit::getrlimit(rlimit::Resource::NOFILE) {
        Ok((_, hard)) => hard,
        Err(e) => panic!("getrlimit: {e}"),
    };
    let too_many = usize::try_from(hard)
        .unwrap_or(usize::MAX / 2)
        .saturating_add(1);
    let refused = agentledger_api::connections::fit_file_limit(Some(too_many));
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().contains("--max-connections")),
        "{refused:?}"
    );
    assert_eq!(
        agentledger_api::connections::fit_file_limit(Some(16)).ok(),
        Some(16)
    );
}
