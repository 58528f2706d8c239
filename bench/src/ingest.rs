//! HTTP ingest from another process: `agentledger serve` runs as a child on
//! a new database, and agents (one per connection, each logged in from a
//! loopback address of its own, as agents on separate hosts would be) post
//! actions and LLM runs in the demo's proportion, two actions to one run.
//!
//! Two kinds of load. Closed: each connection sends its next request when the
//! answer to the last one arrives, which finds the peak. Paced: requests leave
//! on a fixed schedule at a chosen rate, and latency counts from the moment a
//! request was due (so a slow server cannot hide its queue); meanwhile the
//! models' positions are sampled from `/metrics` to measure projection lag.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::time::{Duration, Instant};

use agentledger_domain::reports::{ActionReport, ActionStatus, RunReport, RunStatus};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::{BenchError, Percentiles, percentiles};

/// Logins one source address may make per minute is limited by the server;
/// this many agents share an address.
const AGENTS_PER_ADDRESS: usize = 20;
/// How often the models' positions are sampled during a paced run.
pub const LAG_SAMPLE_EVERY: Duration = Duration::from_millis(5);

/// A server in a child process, stopped when dropped.
pub struct Server {
    _child: tokio::process::Child,
    pub base: String,
    pub admin_key: String,
}

/// Starts `agentledger serve` on `database_url`, which must hold no ledger
/// yet, with `options` besides: the admin key the server prints for a new
/// ledger is the bench's way in.
pub async fn start_server(database_url: &str, options: &[&str]) -> Result<Server, BenchError> {
    spawn_server(database_url, options, true).await
}

/// Starts `agentledger serve` on a database that may already hold a ledger
/// (its `admin_key` is then empty: the caller brings its own key).
pub async fn start_server_on(database_url: &str, options: &[&str]) -> Result<Server, BenchError> {
    spawn_server(database_url, options, false).await
}

async fn spawn_server(
    database_url: &str,
    options: &[&str],
    new_ledger: bool,
) -> Result<Server, BenchError> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| BenchError::Load(format!("no free port: {e}")))?
        .port();
    let exe = std::env::current_exe()
        .map_err(|e| BenchError::Load(format!("cannot find this program: {e}")))?;
    let mut command = tokio::process::Command::new(exe);
    command
        .args(["serve", "--database-url", database_url, "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .args(options)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(|e| BenchError::Load(format!("cannot start the server: {e}")))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| BenchError::Load("the server's output is not readable".into()))?;
    let mut lines = BufReader::new(stdout).lines();
    let admin_key = if !new_ledger {
        String::new()
    } else {
        loop {
            match lines.next_line().await {
                Ok(Some(line)) => {
                    if let Some(key) = line.strip_prefix("admin API key: ") {
                        break key.trim().to_owned();
                    }
                }
                _ => {
                    return Err(BenchError::Load(
                        "the server printed no admin key: it stopped, or the database already \
                     holds a ledger (bench ingest needs a new one)"
                            .into(),
                    ));
                }
            }
        }
    };
    // Keep draining its output so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client.get(format!("{base}/health")).send().await.is_ok() {
            return Ok(Server {
                _child: child,
                base,
                admin_key,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(BenchError::Load("the server did not answer /health".into()))
}

/// A logged-in agent with a connection of its own.
pub struct Agent {
    pub client: reqwest::Client,
    pub token: String,
    pub agent_id: uuid::Uuid,
}

#[derive(Deserialize)]
struct Registered {
    agent_id: uuid::Uuid,
    secret: String,
}

#[derive(Deserialize)]
struct Issued {
    access_token: String,
}

#[derive(Deserialize)]
struct Recorded {
    position: u64,
}

pub(crate) fn load_error(what: &str) -> impl Fn(reqwest::Error) -> BenchError + '_ {
    move |e| BenchError::Load(format!("{what}: {e}"))
}

/// Sends a setup request and reads its JSON answer; any failure, or an
/// answer that is not a success, stops the bench saying `what` failed.
pub(crate) async fn answer<T: serde::de::DeserializeOwned>(
    request: reqwest::RequestBuilder,
    what: &str,
) -> Result<T, BenchError> {
    request
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(load_error(what))?
        .json()
        .await
        .map_err(load_error(what))
}

/// What the ingest load's agents may do: report actions and runs.
pub const REPORTING: &[&str] = &["actions:write", "runs:write", "batch"];

/// Registers the agents numbered `numbers` with `permissions`, allowed the
/// most calls per minute the API accepts, and logs each in (from the
/// loopback address its number gives it: a second group numbered after the
/// first logs in from addresses of its own).
pub async fn enlist(
    server: &Server,
    numbers: std::ops::Range<usize>,
    permissions: &[&str],
) -> Result<Vec<Agent>, BenchError> {
    let admin = reqwest::Client::new();
    let agents = futures::stream::iter(numbers)
        .map(|i| {
            let admin = admin.clone();
            async move {
                let registered: Registered = answer(
                    admin
                        .post(format!("{}/api/v1/agents", server.base))
                        .bearer_auth(&server.admin_key)
                        .json(&json!({
                            "name": format!("load-{i}"), "kind": "load",
                            "permissions": permissions,
                            "rate_limit_per_minute": 100_000,
                        })),
                    "registering an agent",
                )
                .await?;
                let last = u8::try_from(2 + i / AGENTS_PER_ADDRESS).unwrap_or(u8::MAX);
                let client = reqwest::Client::builder()
                    .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
                    .pool_max_idle_per_host(1)
                    .build()
                    .map_err(load_error("building a client"))?;
                let issued: Issued = answer(
                    client
                        .post(format!("{}/api/v1/agents/auth", server.base))
                        .json(&json!({ "agent_id": registered.agent_id, "secret": registered.secret })),
                    "logging an agent in",
                )
                .await?;
                Ok::<_, BenchError>(Agent {
                    client,
                    token: issued.access_token,
                    agent_id: registered.agent_id,
                })
            }
        })
        .buffer_unordered(4)
        .collect::<Vec<_>>()
        .await;
    agents.into_iter().collect()
}

/// The `n`th report of a connection: two actions, then a run.
/// The `n`th report of a connection: two of actions, then a run. With
/// `batch` above 1 the actions go as batches of that many. Returns the path,
/// the body and the events it records.
fn report(n: u64, batch: usize) -> (&'static str, serde_json::Value, u64) {
    if n % 3 == 2 {
        let run = RunReport {
            app_type: "moderation".into(),
            trigger_type: "schedule".into(),
            member_id: None,
            model: "model-medium".into(),
            prompt_tokens: 900 + n % 200,
            completion_tokens: 150 + n % 50,
            cost_usd: 0.0021,
            latency_ms: 700 + n % 300,
            status: if n % 50 == 2 {
                RunStatus::Failed
            } else {
                RunStatus::Success
            },
            error_message: None,
            session_id: None,
            prompt: None,
            response: None,
            task_id: None,
        };
        ("runs", json!(run), 1)
    } else if batch > 1 {
        let actions: Vec<_> = (0..batch as u64).map(|i| action(n, i)).collect();
        ("actions/batch", json!({ "actions": actions }), batch as u64)
    } else {
        ("actions", json!(action(n, 0)), 1)
    }
}

fn action(n: u64, i: u64) -> ActionReport {
    ActionReport {
        action: "approve_post".into(),
        resource_type: "post".into(),
        resource_id: Some(format!("post-{n}-{i}")),
        status: ActionStatus::Success,
        confidence: Some(0.92),
        reasoning: Some("matched policy rules".into()),
        request_data: Some(json!({ "n": n })),
        execution_time_ms: Some(120),
    }
}

/// One request's fate: when it was due, when its answer came, where its
/// last event landed in the log, and how many it recorded.
struct Sent {
    latency: Duration,
    answered: Instant,
    position: u64,
    events: u64,
}

/// The `n`th report of `agent`, counted as due at `from`.
async fn send(
    base: &str,
    agent: &Agent,
    n: u64,
    batch: usize,
    from: Instant,
) -> Result<Sent, String> {
    let (path, body, events) = report(n, batch);
    let response = agent
        .client
        .post(format!("{base}/api/v1/agents/me/{path}"))
        .bearer_auth(&agent.token)
        .json(&body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        return Err(format!("{status}: {text}"));
    }
    let recorded: Recorded = response.json().await.map_err(|e| e.to_string())?;
    let answered = Instant::now();
    Ok(Sent {
        latency: answered - from,
        answered,
        position: recorded.position,
        events,
    })
}

/// What one load did.
pub struct LoadRun {
    pub connections: usize,
    pub events: u64,
    pub seconds: f64,
    pub latency: Percentiles,
    pub errors: u64,
    pub first_error: Option<String>,
    /// Per model: p50 and p99 of the time from an event's commit to the
    /// model's position passing it, in ms.
    pub lag: BTreeMap<String, Percentiles>,
}

impl LoadRun {
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.seconds.max(1e-9)
    }
}

/// The first `connections` agents post for `seconds`, actions in batches of
/// `batch` (single when 1); `rate` (events per second over all connections)
/// paces them, `None` lets each go as fast as its answers come back.
pub async fn load(
    server: &Server,
    agents: &[Agent],
    connections: usize,
    seconds: f64,
    rate: Option<f64>,
    batch: usize,
) -> Result<LoadRun, BenchError> {
    let agents = &agents[..connections.min(agents.len())];
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let (stop_sampling, stopped) = tokio::sync::watch::channel(false);
    let sampler = rate.map(|_| tokio::spawn(sample_positions(server.base.clone(), stopped)));
    // Two requests in three carry `batch` events, the third one.
    let per_request = (2.0 * batch.max(1) as f64 + 1.0) / 3.0;
    let interval =
        rate.map(|r| Duration::from_secs_f64(agents.len() as f64 * per_request / r.max(1e-9)));
    let outcomes = futures::future::join_all(agents.iter().enumerate().map(|(c, agent)| {
        let base = server.base.as_str();
        async move {
            let mut sent = Vec::new();
            let mut errors = Vec::new();
            // Paced connections start spread over one interval, not together.
            let mut due = started
                + interval.map_or(Duration::ZERO, |i| {
                    i.mul_f64(c as f64 / agents.len() as f64)
                });
            let mut n = 0u64;
            while due < deadline {
                tokio::time::sleep_until(due.into()).await;
                let from = if interval.is_some() {
                    due
                } else {
                    Instant::now()
                };
                match send(base, agent, n, batch, from).await {
                    Ok(done) => sent.push(done),
                    Err(e) => errors.push(e),
                }
                n += 1;
                due = match interval {
                    Some(i) => due + i,
                    None => Instant::now(),
                };
            }
            (sent, errors)
        }
    }))
    .await;
    let seconds = started.elapsed().as_secs_f64();
    let _ = stop_sampling.send(true);
    let samples = match sampler {
        Some(task) => task.await.map_err(|e| BenchError::Load(e.to_string()))??,
        None => Vec::new(),
    };
    let mut sent = Vec::new();
    let mut errors = Vec::new();
    for (s, e) in outcomes {
        sent.extend(s);
        errors.extend(e);
    }
    let lag = projection_lag(&sent, &samples);
    Ok(LoadRun {
        connections: agents.len(),
        events: sent.iter().map(|s| s.events).sum(),
        seconds,
        latency: percentiles(sent.iter().map(|s| s.latency).collect()),
        errors: errors.len() as u64,
        first_error: errors.into_iter().next(),
        lag,
    })
}

/// Waits until every model has reached the head, at most `limit`, and says
/// how long that took: the closed loads leave a backlog, which a paced load
/// must not start with.
pub async fn caught_up(server: &Server, limit: Duration) -> Result<Duration, BenchError> {
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        let positions = model_positions(&client, &server.base).await?;
        let head = positions.get("head").copied().unwrap_or(0);
        if positions.values().all(|p| *p >= head) {
            return Ok(started.elapsed());
        }
        if started.elapsed() > limit {
            return Err(BenchError::Load(format!(
                "the models did not reach the head ({head}) within {} s",
                limit.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every model's position at one moment (when the answer arrived).
struct Sample {
    at: Instant,
    positions: BTreeMap<String, u64>,
}

/// Samples until told to stop, then on until every model has reached the
/// head (they finish the tail of the load after it stops), for at most 10 s.
async fn sample_positions(
    base: String,
    stopped: tokio::sync::watch::Receiver<bool>,
) -> Result<Vec<Sample>, BenchError> {
    let client = reqwest::Client::new();
    let mut samples = Vec::new();
    let mut every = tokio::time::interval(LAG_SAMPLE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut settle_by = None;
    loop {
        every.tick().await;
        let positions = model_positions(&client, &base).await?;
        let head = positions.get("head").copied().unwrap_or(0);
        let caught_up = positions.values().all(|p| *p >= head);
        samples.push(Sample {
            at: Instant::now(),
            positions,
        });
        if *stopped.borrow() {
            let by = *settle_by.get_or_insert_with(|| Instant::now() + Duration::from_secs(10));
            if caught_up || Instant::now() > by {
                return Ok(samples);
            }
        }
    }
}

/// The `agentledger_position{of="dashboard"} 123` lines of `/metrics`, by
/// model (and `head`).
async fn model_positions(
    client: &reqwest::Client,
    base: &str,
) -> Result<BTreeMap<String, u64>, BenchError> {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .map_err(load_error("reading /metrics"))?
        .text()
        .await
        .map_err(load_error("reading /metrics"))?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("agentledger_position{of=\"")?;
            let (name, value) = rest.split_once("\"} ")?;
            Some((name.to_owned(), value.trim().parse().ok()?))
        })
        .collect())
}

/// For each model, how long after its commit each event was first seen
/// applied: the first sample answered after the commit whose position has
/// passed the event's. An upper bound, by at most one sampling period.
fn projection_lag(sent: &[Sent], samples: &[Sample]) -> BTreeMap<String, Percentiles> {
    let models: Vec<String> = samples
        .iter()
        .flat_map(|s| s.positions.keys())
        .filter(|name| name.as_str() != "head")
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    models
        .into_iter()
        .map(|model| {
            let lags = sent
                .iter()
                .filter_map(|s| {
                    let first = samples.partition_point(|sample| sample.at < s.answered);
                    samples[first..]
                        .iter()
                        .find(|sample| {
                            sample.positions.get(&model).copied().unwrap_or(0) >= s.position
                        })
                        .map(|sample| sample.at - s.answered)
                })
                .collect();
            (model, percentiles(lags))
        })
        .collect()
}

/// Loopback source addresses the agents log in from must exist; on Linux the
/// whole 127/8 does. Checked once so a machine without them fails clearly.
pub fn check_loopback(agents: usize) -> Result<(), BenchError> {
    let last = u8::try_from(2 + agents.saturating_sub(1) / AGENTS_PER_ADDRESS).unwrap_or(u8::MAX);
    let address = SocketAddr::from((Ipv4Addr::new(127, 0, 0, last), 0));
    std::net::TcpListener::bind(address)
        .map(drop)
        .map_err(|e| BenchError::Load(format!("cannot use the loopback address {address}: {e}")))
}
