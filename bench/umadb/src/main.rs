//! Appends to a running UmaDB server the way `agentledger bench store`
//! appends to agentledger's store: 1, 16 and 64 writers, single events and
//! batches of 100, each writer waiting until its append is acknowledged
//! before sending the next, for the same number of seconds per row. Each
//! event is the same agent action payload, tagged with the writer's stream.
//!
//! Usage: agentledger-bench-umadb <url> [seconds]
//! Prints one Markdown row per combination, in the columns of `bench store`.

use std::time::{Duration, Instant};

use umadb_client::{AsyncUmaDbClient, UmaDbClient};
use umadb_dcb::{DcbEvent, DcbEventStoreAsync};
use uuid::Uuid;

const WRITERS: [usize; 3] = [1, 16, 64];
const BATCHES: [usize; 2] = [1, 100];

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or("usage: agentledger-bench-umadb <url> [seconds]")?;
    let seconds: f64 = match args.next() {
        Some(s) => s.parse()?,
        None => 5.0,
    };
    println!("| writers | events per append | events | events/s | p50 ms | p99 ms | p99.9 ms |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for batch in BATCHES {
        for writers in WRITERS {
            // A client (and so a connection) per writer, as separate
            // processes appending would have.
            let mut clients = Vec::with_capacity(writers);
            for _ in 0..writers {
                clients.push(UmaDbClient::new(url.clone()).connect_async().await?);
            }
            let (events, elapsed, mut timings) = run(clients, batch, seconds).await?;
            timings.sort_unstable();
            let at = |q: f64| {
                let i = ((timings.len() as f64 - 1.0) * q).round() as usize;
                timings.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
            };
            println!(
                "| {writers} | {batch} | {events} | {:.0} | {:.2} | {:.2} | {:.2} |",
                events as f64 / elapsed.max(1e-9),
                at(0.50),
                at(0.99),
                at(0.999)
            );
        }
    }
    Ok(())
}

/// Every writer appends `batch` events at a time until the deadline; returns
/// the events appended, the seconds taken and each append's latency.
async fn run(
    clients: Vec<AsyncUmaDbClient>,
    batch: usize,
    seconds: f64,
) -> Result<(u64, f64, Vec<Duration>), Error> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|client| {
            tokio::spawn(async move {
                let stream = format!("stream:bench-{}", Uuid::now_v7());
                let agent = Uuid::now_v7();
                let mut timings = Vec::new();
                while Instant::now() < deadline {
                    let events = (0..batch)
                        .map(|i| DcbEvent {
                            event_type: "ActionRecorded".into(),
                            tags: vec![stream.clone()],
                            data: payload(agent, i),
                            uuid: Some(Uuid::now_v7()),
                            metadata: Vec::new(),
                        })
                        .collect();
                    let sent = Instant::now();
                    client.append(events, None, None).await?;
                    timings.push(sent.elapsed());
                }
                Ok::<_, Error>(timings)
            })
        })
        .collect();
    let mut timings = Vec::new();
    for task in tasks {
        timings.extend(task.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok(((timings.len() * batch) as u64, elapsed, timings))
}

/// The payload `agentledger bench store` appends: an agent's action.
fn payload(agent: Uuid, i: usize) -> Vec<u8> {
    serde_json::json!({
        "agent_id": agent, "action": "approve_post", "resource_type": "post",
        "resource_id": format!("r-{i}"), "status": "success", "confidence": 0.9,
        "execution_time_ms": 120, "reasoning": "matched policy rules",
        "request_data": { "batch": i }
    })
    .to_string()
    .into_bytes()
}
