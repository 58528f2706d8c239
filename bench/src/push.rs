//! What flows out, measured from another process against `agentledger
//! serve` in a child: how soon a committed event reaches live-feed clients,
//! how many webhook deliveries a second reach a receiver, and how soon a
//! command issued reaches an agent waiting in a long poll.
//!
//! Event latencies count from the event's `recorded_at` (stamped by the
//! store as it appends, on this machine's clock) to the moment the client
//! has the event parsed; command latency from just before the operator's
//! request leaves to the agent's answer arriving.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::watch;
use uuid::Uuid;

use crate::ingest::{self, Agent, Server, answer};
use crate::{BenchError, Percentiles, percentiles};

/// The events the ingest load records.
const REPORTED: &str = "ActionRecorded,LlmRunRecorded";

/// The part of an event the measurements read.
#[derive(Deserialize)]
struct Stamp {
    recorded_at: DateTime<Utc>,
}

/// How long ago, by the wall clock, `recorded_at` was.
fn since(recorded_at: DateTime<Utc>) -> Duration {
    (Utc::now() - recorded_at).to_std().unwrap_or_default()
}

/// Live feeds under a paced load.
pub struct FeedRun {
    pub subscribers: usize,
    pub rate: f64,
    /// Events the load recorded.
    pub events: u64,
    /// Events the feeds delivered, over all subscribers.
    pub delivered: u64,
    /// From `recorded_at` to the client.
    pub latency: Percentiles,
    pub load_errors: u64,
}

/// `subscribers` SSE clients of the operator's tenant, filtered to the
/// load's events, while `agents` post at `rate` events per second for
/// `seconds`.
pub async fn feed_latency(
    server: &Server,
    agents: &[Agent],
    subscribers: usize,
    rate: f64,
    seconds: f64,
) -> Result<FeedRun, BenchError> {
    let (stop, stopped) = watch::channel(false);
    let (ready, mut readied) = tokio::sync::mpsc::channel(subscribers.max(1));
    let url = format!("{}/api/v1/stream?types={REPORTED}", server.base);
    let clients: Vec<_> = (0..subscribers)
        .map(|_| {
            let (url, key, ready) = (url.clone(), server.admin_key.clone(), ready.clone());
            tokio::spawn(subscribe(url, key, ready, stopped.clone()))
        })
        .collect();
    drop(ready);
    for _ in 0..subscribers {
        match readied.recv().await {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(e),
            None => return Err(BenchError::Load("a feed client stopped".into())),
        }
    }
    let run = ingest::load(server, agents, agents.len(), seconds, Some(rate), 1).await?;
    // The tail of the load is still on its way.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = stop.send(true);
    let mut timings = Vec::new();
    for client in clients {
        timings.extend(
            client
                .await
                .map_err(|e| BenchError::Load(format!("a feed client: {e}")))?,
        );
    }
    Ok(FeedRun {
        subscribers,
        rate,
        events: run.events,
        delivered: timings.len() as u64,
        latency: percentiles(timings),
        load_errors: run.errors,
    })
}

/// One SSE client: says when its feed is open, then times every event until
/// told to stop.
async fn subscribe(
    url: String,
    key: String,
    ready: tokio::sync::mpsc::Sender<Result<(), BenchError>>,
    mut stopped: watch::Receiver<bool>,
) -> Vec<Duration> {
    let opened = reqwest::Client::new()
        .get(&url)
        .bearer_auth(&key)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status);
    let response = match opened {
        Ok(response) => response,
        Err(e) => {
            let _ = ready
                .send(Err(BenchError::Load(format!("opening a feed: {e}"))))
                .await;
            return Vec::new();
        }
    };
    let _ = ready.send(Ok(())).await;
    let mut events = response.bytes_stream().eventsource();
    let mut timings = Vec::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => return timings,
            next = events.next() => match next {
                Some(Ok(event)) if event.event == "message" => {
                    if let Ok(stamp) = serde_json::from_str::<Stamp>(&event.data) {
                        timings.push(since(stamp.recorded_at));
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return timings,
            },
        }
    }
}

/// Webhook deliveries of a backlog.
pub struct WebhookRun {
    /// Events the load recorded, each one delivery.
    pub events: u64,
    /// Deliveries the receiver got (each answered 204).
    pub delivered: u64,
    /// Deliveries under an id already received.
    pub repeated: u64,
    /// From the first delivery received to the last.
    pub seconds: f64,
    /// From `recorded_at` to the receiver.
    pub latency: Percentiles,
}

impl WebhookRun {
    pub fn per_second(&self) -> f64 {
        self.delivered as f64 / self.seconds.max(1e-9)
    }
}

/// What the receiver got: when, how late, under which id.
#[derive(Default)]
struct Received {
    arrivals: Vec<(Instant, Duration)>,
    ids: HashMap<String, u32>,
}

/// Subscribes a receiver on loopback to the load's events, records a
/// backlog with `agents` posting batches as fast as they are answered for
/// `seconds`, and times the deliveries until every event has come (or
/// none has for 30 s).
pub async fn webhook_throughput(
    server: &Server,
    agents: &[Agent],
    seconds: f64,
) -> Result<WebhookRun, BenchError> {
    let received = Arc::new(Mutex::new(Received::default()));
    let receiver = {
        let received = received.clone();
        axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
            let received = received.clone();
            async move {
                #[derive(Deserialize)]
                struct Delivered {
                    data: Stamp,
                }
                let late = serde_json::from_slice::<Delivered>(&body)
                    .map(|d| since(d.data.recorded_at))
                    .unwrap_or_default();
                let id = headers
                    .get("webhook-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let mut received = received.lock().unwrap_or_else(PoisonError::into_inner);
                received.arrivals.push((Instant::now(), late));
                *received.ids.entry(id).or_default() += 1;
                StatusCode::NO_CONTENT
            }
        })
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| BenchError::Load(format!("a receiver on loopback: {e}")))?;
    let address = listener
        .local_addr()
        .map_err(|e| BenchError::Load(format!("a receiver on loopback: {e}")))?;
    let serving = tokio::spawn(async move { axum::serve(listener, receiver).await });

    let _: serde_json::Value = answer(
        reqwest::Client::new()
            .post(format!("{}/api/v1/webhooks", server.base))
            .bearer_auth(&server.admin_key)
            .json(&json!({
                "url": format!("http://{address}/in"),
                "event_types": REPORTED.split(',').collect::<Vec<_>>(),
            })),
        "subscribing the receiver",
    )
    .await?;
    let run = ingest::load(server, agents, agents.len(), seconds, None, 100).await?;
    let count = |received: &Mutex<Received>| {
        received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .arrivals
            .len() as u64
    };
    let mut last = (count(&received), Instant::now());
    while last.0 < run.events && last.1.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = count(&received);
        if now != last.0 {
            last = (now, Instant::now());
        }
    }
    serving.abort();
    let received = std::mem::take(&mut *received.lock().unwrap_or_else(PoisonError::into_inner));
    let first = received.arrivals.first().map(|a| a.0);
    let seconds = match (first, received.arrivals.last()) {
        (Some(first), Some(last)) => (last.0 - first).as_secs_f64(),
        _ => 0.0,
    };
    Ok(WebhookRun {
        events: run.events,
        delivered: received.arrivals.len() as u64,
        repeated: received.ids.values().map(|n| u64::from(n - 1)).sum(),
        seconds,
        latency: percentiles(received.arrivals.iter().map(|a| a.1).collect()),
    })
}

/// Commands to waiting agents.
pub struct CommandRun {
    pub waiting: usize,
    pub issued: usize,
    pub received: usize,
    /// From the operator's request leaving to the agent's poll answering.
    pub latency: Percentiles,
}

/// What the agents may do here: poll for commands.
pub const POLLING: &[&str] = &["commands:poll"];

/// `agents` each hold a long poll open (`wait=30`, polling again at once
/// after each answer) while the operator issues `rounds` commands to them
/// in turn, a few milliseconds apart.
pub async fn command_latency(
    server: &Server,
    agents: &[Agent],
    rounds: usize,
) -> Result<CommandRun, BenchError> {
    let arrived: Arc<Mutex<HashMap<Uuid, Instant>>> = Arc::default();
    let pollers: Vec<_> = agents
        .iter()
        .map(|agent| {
            let (client, token, arrived) =
                (agent.client.clone(), agent.token.clone(), arrived.clone());
            let url = format!("{}/api/v1/agents/me/commands?wait=30", server.base);
            tokio::spawn(async move {
                #[derive(Deserialize)]
                struct Polled {
                    commands: Vec<Command>,
                }
                #[derive(Deserialize)]
                struct Command {
                    command_id: Uuid,
                }
                loop {
                    let polled = client.get(&url).bearer_auth(&token).send().await;
                    let Ok(polled) = polled.and_then(reqwest::Response::error_for_status) else {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    };
                    let Ok(polled) = polled.json::<Polled>().await else {
                        continue;
                    };
                    let now = Instant::now();
                    let mut arrived = arrived.lock().unwrap_or_else(PoisonError::into_inner);
                    for command in polled.commands {
                        arrived.insert(command.command_id, now);
                    }
                }
            })
        })
        .collect();
    // Every agent's first poll is waiting before the first command.
    tokio::time::sleep(Duration::from_secs(1)).await;

    #[derive(Deserialize)]
    struct Issued {
        command_id: Uuid,
    }
    let operator = reqwest::Client::new();
    let mut issued = Vec::with_capacity(rounds);
    for (round, agent) in agents.iter().cycle().take(rounds).enumerate() {
        let started = Instant::now();
        let command: Issued = answer(
            operator
                .post(format!(
                    "{}/api/v1/agents/{}/commands",
                    server.base, agent.agent_id
                ))
                .bearer_auth(&server.admin_key)
                .json(&json!({ "command": "noop", "args": { "round": round } })),
            "issuing a command",
        )
        .await?;
        issued.push((command.command_id, started));
        // Its agent polls again before its next command.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let received = loop {
        let arrived = arrived
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if arrived.len() >= issued.len() || Instant::now() > deadline {
            break arrived;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for poller in pollers {
        poller.abort();
    }
    let timings: Vec<Duration> = issued
        .iter()
        .filter_map(|(id, started)| {
            received
                .get(id)
                .map(|at| at.saturating_duration_since(*started))
        })
        .collect();
    Ok(CommandRun {
        waiting: agents.len(),
        issued: issued.len(),
        received: timings.len(),
        latency: percentiles(timings),
    })
}
