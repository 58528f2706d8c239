//! The `agentledger` command line.

use std::net::SocketAddr;

use agentledger_store::{AsOf, DEFAULT_DATABASE_URL, Storage, StoreConfig, StoreError};
use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::server::start;
use crate::state::AppState;

#[derive(Debug, Parser)]
#[command(
    name = "agentledger",
    version,
    about = "Event-sourced control plane and audit ledger for fleets of AI agents"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the HTTP server (applies migrations first).
    Serve(ServeArgs),
    /// Apply the database migrations and exit.
    Migrate(DatabaseArgs),
    /// Seed a new tenant with the five preset agents and a week of activity.
    Demo(DemoArgs),
    /// Empty read models and replay the log into them. Servers may keep
    /// serving: the model being rebuilt shows partial data until it is done.
    Rebuild(RebuildArgs),
    /// Walk the hash chain and report the first event whose content, order or
    /// presence does not match; exits non-zero if there is one.
    Verify(DatabaseArgs),
    /// Build read models as they were at a past point into another database
    /// (an SQLite file or a PostgreSQL schema), leaving the live ones untouched.
    Replay(ReplayArgs),
    /// Export events, the run log, the operation log or usage as CSV, JSON
    /// Lines or Parquet, into a file written atomically.
    Export(ExportArgs),
    /// Benchmarks: build a large log, measure what only a large log shows.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Append about `--events` events with the demo's mix (actions, LLM runs,
    /// tasks, commands, failures), as `--tenants` demo tenants seeded at once.
    Seed {
        #[command(flatten)]
        database: DatabaseArgs,
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        #[arg(long, default_value_t = 8)]
        tenants: u32,
    },
    /// Grows a seeded log to `--events` by appending its events again, copy
    /// after copy, each copy under ids of its own (new tenants with the same
    /// history): for logs the handlers would take too long to seed.
    Grow {
        #[command(flatten)]
        database: DatabaseArgs,
        /// The log's size to reach.
        #[arg(long)]
        events: u64,
    },
    /// Appends straight to the store, no HTTP: 1, 16 and 64 writers, single
    /// events and batches of 100, each append durable before the next.
    Store {
        #[command(flatten)]
        database: DatabaseArgs,
        /// Seconds per combination.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// One transaction per append instead of group commit.
        #[arg(long)]
        no_group_commit: bool,
    },
    /// HTTP ingest: starts `serve` on a new database in a child process and
    /// posts actions and LLM runs with each number of connections, then a
    /// paced load (half the peak unless `--rate`) measuring latency and each
    /// model's lag behind the log.
    Ingest {
        /// The server's database; it must hold no ledger yet.
        #[command(flatten)]
        database: DatabaseArgs,
        /// A second new database, for the store ceiling measured first in the
        /// same run (as many writers as connections, appending `--batch`
        /// events at a time).
        #[arg(long)]
        ceiling_database_url: Option<String>,
        #[arg(long, value_delimiter = ',', default_value = "1,16,64,256")]
        connections: Vec<usize>,
        /// Seconds per number of connections.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Seconds of the paced load; 0 skips it.
        #[arg(long, default_value_t = 20.0)]
        lag_seconds: f64,
        /// Events per second of the paced load.
        #[arg(long)]
        rate: Option<f64>,
        /// Connections of the paced load.
        #[arg(long, default_value_t = 64)]
        lag_connections: usize,
        /// Actions per request (through the batch route when above 1); runs
        /// are always single.
        #[arg(long, default_value_t = 1)]
        batch: usize,
        /// The server (and the ceiling) commit each append on its own.
        #[arg(long)]
        no_group_commit: bool,
    },
    /// On PostgreSQL: agentledger's store against plain INSERTs of the same
    /// rows (the floor) and the Message DB design (a `write_message` function
    /// with its advisory lock), 1, 16 and 64 writers, single events and
    /// batches of 100, in the same run and the same schema.
    Peers {
        /// A PostgreSQL URL; its schema is created if missing.
        #[command(flatten)]
        database: DatabaseArgs,
        /// Seconds per combination.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
    },
    /// Time the dashboard, the operation log's first page and agent stats of
    /// the busiest tenant (models caught up first): p50, p99, p99.9.
    Queries {
        #[command(flatten)]
        database: DatabaseArgs,
        #[arg(long, default_value_t = 500)]
        rounds: usize,
    },
    /// Time the dashboard as of 25, 50, 75 and 100% of the log (rebuilt from
    /// the log each time) against the live dashboard read model.
    PointInTime {
        #[command(flatten)]
        database: DatabaseArgs,
        /// The tenant; the busiest one when absent.
        #[arg(long)]
        tenant_id: Option<uuid::Uuid>,
    },
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// `events`, `runs`, `operations` or `usage`.
    pub dataset: agentledger_export::Dataset,
    #[command(flatten)]
    pub query: crate::exports::ExportQuery,
    /// The file to write; it appears only once complete.
    #[arg(long)]
    pub out: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The point: a log position, or an RFC 3339 time (the events recorded
    /// at or before it).
    #[arg(long)]
    pub to: AsOf,
    /// Where the read models go: `sqlite://investigation.db` or
    /// `postgres://…?options[search_path]=investigation` (created if
    /// missing). Its models are emptied first; it must hold no log.
    #[arg(long)]
    pub into: String,
    /// One projection (`dashboard`); all when absent.
    #[arg(long)]
    pub projection: Option<String>,
}

#[derive(Debug, Args)]
pub struct RebuildArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// One projection (`operation_log`); all when absent.
    #[arg(long)]
    pub projection: Option<String>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Days of history to generate, ending now.
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Seed of the random activity, for a repeatable data set.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// Where events live: `sqlite://path` (created if missing) or `postgres://…`.
    #[arg(long, env = "AGENTLEDGER_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "AGENTLEDGER_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Signs agent access tokens. Without it a random key is made at start:
    /// access tokens then end with the process (agents refresh), and several
    /// servers of one deployment must be given the same value.
    #[arg(long, env = "AGENTLEDGER_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Seconds without a poll after which an online agent is marked offline.
    #[arg(long, env = "AGENTLEDGER_OFFLINE_AFTER_SECONDS", default_value_t = 120)]
    pub offline_after_seconds: u64,
    /// Failed logins a minute for one agent id from one address; past it
    /// that address gets 429 for that agent (successful logins do not count).
    #[arg(
        long,
        env = "AGENTLEDGER_LOGIN_FAILURES_PER_MINUTE",
        default_value_t = 10,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub login_failures_per_minute: u32,
    /// Failed logins and refreshes a minute from one address, whatever the
    /// agent; past it the address gets 429 for logins and refreshes.
    #[arg(
        long,
        env = "AGENTLEDGER_LOGIN_FAILURES_PER_ADDRESS_PER_MINUTE",
        default_value_t = 30,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub login_failures_per_address_per_minute: u32,
    /// Token refreshes a minute for one agent (each appends an event).
    #[arg(
        long,
        env = "AGENTLEDGER_REFRESH_PER_MINUTE",
        default_value_t = 10,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub refresh_per_minute: u32,
    /// Most connections served at once; past it a client is answered 503.
    /// The process's file limit must hold them (raised to the hard limit if
    /// needed; start-up fails if it cannot). Default: 1024, or what the file
    /// limit holds if less.
    #[arg(long, env = "AGENTLEDGER_MAX_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,
    /// Seconds a client has to send a request's head, from connecting or
    /// from its previous answer.
    #[arg(long, env = "AGENTLEDGER_HEADER_READ_TIMEOUT_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_read_timeout_seconds: u64,
    /// Seconds a connection may stay open with no request in flight and no
    /// byte moving.
    #[arg(long, env = "AGENTLEDGER_IDLE_TIMEOUT_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub idle_timeout_seconds: u64,
    /// Commit every append in a transaction of its own instead of grouping
    /// concurrent appends into one commit; for measuring what grouping gives.
    #[arg(long)]
    pub no_group_commit: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("cannot open the event store: {0}")]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Connections(#[from] crate::connections::LimitError),
    #[error("rebuild failed: {0}")]
    Projection(#[from] agentledger_projections::engine::ProjectionError),
    #[error("AGENTLEDGER_JWT_SECRET must be at least 32 characters")]
    WeakJwtSecret,
    #[error("the log was altered: event at position {position} is {reason}")]
    ChainBroken { position: u64, reason: String },
    #[error("first-start setup failed: {0}")]
    Bootstrap(#[from] agentledger_commands::CommandError),
    #[error("{0}")]
    Refused(String),
    #[error("export failed: {0}")]
    Export(#[from] agentledger_export::ExportError),
    #[error("benchmark failed: {0}")]
    Bench(#[from] crate::bench::BenchError),
}

/// Logs to stdout; `RUST_LOG` sets the level (default `info`).
pub fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .try_init();
}

pub async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Demo(args) => demo(args).await,
        Command::Rebuild(args) => rebuild(args).await,
        Command::Verify(args) => verify(args).await,
        Command::Replay(args) => replay(args).await,
        Command::Export(args) => export(args).await,
        Command::Bench(command) => bench(command).await,
        Command::Migrate(args) => {
            let store = open_storage(&args.database_url).await?.events;
            let head = store.head_position().await?;
            store.close().await;
            println!(
                "migrations applied to {}; head position {head}",
                redact(&args.database_url)
            );
            Ok(())
        }
    }
}

/// The store's settings for a benchmark, with group commit on or off. A
/// benchmark's new database is a throwaway: a PostgreSQL schema that does not
/// exist yet is created.
fn bench_config(group_commit: bool) -> StoreConfig {
    StoreConfig {
        group_commit,
        create_missing_schema: true,
        ..StoreConfig::default()
    }
}

async fn open_storage(url: &str) -> Result<Storage, CliError> {
    Ok(agentledger_store::open(url, StoreConfig::default()).await?)
}

/// The persistent projections `name` selects: the one so named, or all.
fn projections(
    name: Option<&str>,
) -> Result<Vec<std::sync::Arc<dyn agentledger_projections::engine::Projection>>, CliError> {
    use agentledger_projections::engine::{ProjectionError, all};
    let selected: Vec<_> = all()
        .into_iter()
        .filter(|p| name.is_none_or(|name| name == p.name()))
        .collect();
    if selected.is_empty() {
        let name = name.unwrap_or_default().to_owned();
        return Err(CliError::Projection(ProjectionError::Unknown(name)));
    }
    Ok(selected)
}

/// A progress bar over `len` events: done, rate and time left.
fn progress_bar(len: u64, label: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg:16} [{bar:40}] {pos}/{len} events, {per_sec}, ETA {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(label.to_owned());
    bar
}

/// Empties each model in `db` and applies the log of `store` into it up to
/// `until`, with a progress bar per model.
async fn build_models(
    store: &dyn agentledger_store::EventStore,
    db: &agentledger_store::Database,
    selected: &[std::sync::Arc<dyn agentledger_projections::engine::Projection>],
    until: u64,
) -> Result<(), CliError> {
    use agentledger_projections::engine::{build_all, reset};
    for projection in selected {
        reset(db, &**projection).await?;
    }
    let started = std::time::Instant::now();
    let bar = progress_bar(until, "read models");
    let built = build_all(store, db, selected, until, |p| bar.set_position(p)).await?;
    bar.finish();
    let seconds = started.elapsed().as_secs_f64();
    for model in &built {
        println!(
            "{}: {} events applied in {:.2} s",
            model.name,
            model.events,
            model.applying.as_secs_f64()
        );
    }
    println!(
        "{} read models from {until} events in {seconds:.2} s ({:.0} events/s)",
        built.len(),
        until as f64 / seconds.max(1e-9)
    );
    Ok(())
}

async fn rebuild(args: RebuildArgs) -> Result<(), CliError> {
    let selected = projections(args.projection.as_deref())?;
    let storage = open_storage(&args.database.database_url).await?;
    let head = storage.events.head_position().await?;
    build_models(&*storage.events, &storage.database, &selected, head).await?;
    storage.events.close().await;
    Ok(())
}

async fn replay(args: ReplayArgs) -> Result<(), CliError> {
    let selected = projections(args.projection.as_deref())?;
    if args.into.trim() == args.database.database_url.trim() {
        return Err(CliError::Refused(
            "--into names the live database; replay writes somewhere else".into(),
        ));
    }
    let source = open_storage(&args.database.database_url).await?;
    let Some(until) = args.to.resolve(&*source.events).await? else {
        let head = source.events.head_position().await?;
        return Err(CliError::Refused(format!(
            "--to {} is past the end of the log (head {head})",
            args.to
        )));
    };
    let config = StoreConfig {
        create_missing_schema: true,
        ..StoreConfig::default()
    };
    let target = agentledger_store::open(&args.into, config).await?;
    if target.events.head_position().await? > 0 {
        return Err(CliError::Refused(format!(
            "{} holds a log of its own; replay writes into an empty database",
            redact(&args.into)
        )));
    }
    build_models(&*source.events, &target.database, &selected, until).await?;
    target.events.close().await;
    source.events.close().await;
    println!(
        "read models as of {} (position {until}) are in {}",
        args.to,
        redact(&args.into)
    );
    Ok(())
}

/// The tenant asked for, or the one with the most events.
async fn tenant_or_busiest(
    storage: &Storage,
    asked: Option<uuid::Uuid>,
) -> Result<uuid::Uuid, CliError> {
    match asked {
        Some(tenant) => Ok(tenant),
        None => crate::bench::busiest_tenant(&*storage.events)
            .await?
            .ok_or_else(|| CliError::Refused("the log is empty".into())),
    }
}

/// What a seeding command appended, and how fast.
fn print_appended(start: u64, head: u64, started: std::time::Instant) {
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{} events appended in {seconds:.1} s ({:.0} events/s); log head at {head}",
        head - start,
        (head - start) as f64 / seconds.max(1e-9)
    );
}

async fn bench(command: BenchCommand) -> Result<(), CliError> {
    match command {
        BenchCommand::Seed {
            database,
            events,
            tenants,
        } => {
            let storage =
                agentledger_store::open(&database.database_url, bench_config(true)).await?;
            let start = storage.events.head_position().await?;
            let bar = progress_bar(start + events, "seed");
            bar.set_position(start);
            let started = std::time::Instant::now();
            let shown = bar.clone();
            let seeded =
                crate::bench::seed(&storage, events, tenants, move |p| shown.set_position(p))
                    .await?;
            bar.finish();
            storage.events.close().await;
            let head = seeded.head;
            if let Some(key) = seeded.admin_key {
                println!("admin API key: {key}");
            }
            print_appended(start, head, started);
            Ok(())
        }
        BenchCommand::Grow { database, events } => {
            let storage = open_storage(&database.database_url).await?;
            let start = storage.events.head_position().await?;
            let bar = progress_bar(events.max(start), "grow");
            bar.set_position(start);
            let started = std::time::Instant::now();
            let head =
                crate::bench::grow::grow(storage.events.clone(), events, |p| bar.set_position(p))
                    .await?;
            bar.finish();
            storage.events.close().await;
            print_appended(start, head, started);
            Ok(())
        }
        BenchCommand::Store {
            database,
            seconds,
            no_group_commit,
        } => {
            let storage =
                agentledger_store::open(&database.database_url, bench_config(!no_group_commit))
                    .await?;
            println!(
                "group commit {}",
                if no_group_commit { "off" } else { "on" }
            );
            println!(
                "| writers | events per append | events | events/s | p50 ms | p99 ms | p99.9 ms |"
            );
            println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
            for batch in crate::bench::BATCHES {
                for writers in crate::bench::WRITERS {
                    let run = crate::bench::store_ceiling(
                        storage.events.clone(),
                        writers,
                        batch,
                        seconds,
                    )
                    .await?;
                    println!(
                        "| {} | {} | {} | {:.0} | {} |",
                        run.writers,
                        run.batch,
                        run.events,
                        run.events_per_second(),
                        run.latency.cells()
                    );
                }
            }
            storage.events.close().await;
            Ok(())
        }
        BenchCommand::Ingest {
            database,
            ceiling_database_url,
            connections,
            seconds,
            lag_seconds,
            rate,
            lag_connections,
            batch,
            no_group_commit,
        } => {
            use crate::bench::ingest;
            let most = connections
                .iter()
                .copied()
                .chain([lag_connections])
                .max()
                .unwrap_or(1)
                .max(1);
            ingest::check_loopback(most)?;
            let mut ceiling = std::collections::BTreeMap::new();
            if let Some(url) = ceiling_database_url {
                let storage = agentledger_store::open(&url, bench_config(!no_group_commit)).await?;
                for &writers in &connections {
                    let run = crate::bench::store_ceiling(
                        storage.events.clone(),
                        writers.max(1),
                        batch.max(1),
                        seconds,
                    )
                    .await?;
                    ceiling.insert(writers, run.events_per_second());
                }
                storage.events.close().await;
            }
            // `serve` refuses a missing schema: the bench makes its database first.
            agentledger_store::open(&database.database_url, bench_config(!no_group_commit))
                .await?
                .events
                .close()
                .await;
            let server = ingest::start_server(&database.database_url, !no_group_commit).await?;
            let agents = ingest::enlist(&server, most).await?;
            println!(
                "group commit {}",
                if no_group_commit { "off" } else { "on" }
            );
            println!(
                "| connections | events | events/s | store ceiling, events/s | ratio | p50 ms | p99 ms | p99.9 ms | errors |"
            );
            println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
            let mut peak: f64 = 0.0;
            for &c in &connections {
                let run = ingest::load(&server, &agents, c.max(1), seconds, None, batch).await?;
                let rate = run.events_per_second();
                peak = peak.max(rate);
                let (store, ratio) = match ceiling.get(&c) {
                    Some(store) => (format!("{store:.0}"), format!("{:.2}", rate / store)),
                    None => ("—".into(), "—".into()),
                };
                println!(
                    "| {} | {} | {rate:.0} | {store} | {ratio} | {} | {} |",
                    run.connections,
                    run.events,
                    run.latency.cells(),
                    run.errors
                );
                if let Some(e) = run.first_error {
                    println!("first error: {e}");
                }
            }
            if lag_seconds > 0.0 {
                let rate = rate.unwrap_or(peak / 2.0).max(1.0);
                let waited =
                    ingest::caught_up(&server, std::time::Duration::from_secs(900)).await?;
                println!();
                println!(
                    "every model reached the head {:.1} s after the closed loads",
                    waited.as_secs_f64()
                );
                let run = ingest::load(
                    &server,
                    &agents,
                    lag_connections.max(1),
                    lag_seconds,
                    Some(rate),
                    batch,
                )
                .await?;
                println!();
                println!(
                    "paced at {rate:.0} events/s over {} connections for {lag_seconds} s: {:.0} events/s sent, \
                     latency from when each was due p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, {} errors",
                    run.connections,
                    run.events_per_second(),
                    run.latency.p50,
                    run.latency.p99,
                    run.latency.p999,
                    run.errors
                );
                if let Some(e) = &run.first_error {
                    println!("first error: {e}");
                }
                println!(
                    "| model | lag p50 ms | lag p99 ms | lag p99.9 ms | (positions sampled every {} ms) |",
                    ingest::LAG_SAMPLE_EVERY.as_millis()
                );
                println!("| --- | ---: | ---: | ---: | |");
                for (model, lag) in &run.lag {
                    println!(
                        "| {model} | {:.1} | {:.1} | {:.1} | |",
                        lag.p50, lag.p99, lag.p999
                    );
                }
            }
            Ok(())
        }
        BenchCommand::Peers { database, seconds } => {
            use crate::bench::peers::{self, Peer};
            let url = &database.database_url;
            if !url.starts_with("postgres") {
                return Err(CliError::Refused(
                    "bench peers runs on PostgreSQL: give a postgres:// URL".into(),
                ));
            }
            let storage = agentledger_store::open(url, bench_config(true)).await?;
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(64)
                .connect(url)
                .await
                .map_err(|e| CliError::Refused(format!("cannot connect: {e}")))?;
            peers::prepare(&pool).await?;
            println!(
                "| writers | events per append | store | events/s | p50 ms | p99 ms | p99.9 ms |"
            );
            println!("| ---: | ---: | --- | ---: | ---: | ---: | ---: |");
            for batch in crate::bench::BATCHES {
                for writers in crate::bench::WRITERS {
                    let ours = crate::bench::store_ceiling(
                        storage.events.clone(),
                        writers,
                        batch,
                        seconds,
                    )
                    .await?;
                    let raw = peers::run(&pool, Peer::RawInsert, writers, batch, seconds).await?;
                    let mdb = peers::run(&pool, Peer::MessageDb, writers, batch, seconds).await?;
                    for (name, run) in [
                        ("agentledger", ours),
                        (Peer::RawInsert.name(), raw),
                        (Peer::MessageDb.name(), mdb),
                    ] {
                        println!(
                            "| {writers} | {batch} | {name} | {:.0} | {} |",
                            run.events_per_second(),
                            run.latency.cells()
                        );
                    }
                }
            }
            pool.close().await;
            storage.events.close().await;
            Ok(())
        }
        BenchCommand::Queries { database, rounds } => {
            let storage = open_storage(&database.database_url).await?;
            let tenant = tenant_or_busiest(&storage, None).await?;
            let head = storage.events.head_position().await?;
            let results = crate::bench::queries(&storage, tenant, rounds.max(1)).await?;
            storage.events.close().await;
            println!("log of {head} events, tenant {tenant}, {rounds} rounds");
            println!("| query | p50 ms | p99 ms | p99.9 ms |");
            println!("| --- | ---: | ---: | ---: |");
            for (name, p) in results {
                println!("| {name} | {} |", p.cells());
            }
            Ok(())
        }
        BenchCommand::PointInTime {
            database,
            tenant_id,
        } => {
            let storage = open_storage(&database.database_url).await?;
            let tenant = tenant_or_busiest(&storage, tenant_id).await?;
            let rows = crate::bench::point_in_time(&storage, tenant).await?;
            storage.events.close().await;
            println!("tenant {tenant}");
            println!("| dashboard | log position | tenant events replayed | ms | events/s |");
            println!("| --- | ---: | ---: | ---: | ---: |");
            for row in rows {
                let what = if row.share == 0 {
                    "live read model".to_owned()
                } else {
                    format!("as of {}% of the log", row.share)
                };
                println!(
                    "| {what} | {} | {} | {:.1} | {} |",
                    row.position,
                    row.events_replayed,
                    row.millis,
                    if row.events_replayed > 0 {
                        format!("{:.0}", row.events_replayed as f64 / (row.millis / 1000.0))
                    } else {
                        "—".to_owned()
                    }
                );
            }
            Ok(())
        }
    }
}

/// Appends to a file through the export; `export` renames it into place.
struct FileSink(std::io::BufWriter<std::fs::File>);

#[async_trait::async_trait]
impl agentledger_export::Sink for FileSink {
    async fn write(&mut self, bytes: Vec<u8>) -> Result<(), agentledger_export::ExportError> {
        use std::io::Write;
        Ok(self.0.write_all(&bytes)?)
    }
}

async fn export(args: ExportArgs) -> Result<(), CliError> {
    use crate::exports::{ExportRequestError, open_source};
    let storage = open_storage(&args.database.database_url).await?;
    let mut source = open_source(
        storage.events.clone(),
        storage.database.clone(),
        args.dataset,
        &args.query,
        None,
    )
    .await
    .map_err(|e| match e {
        ExportRequestError::Export(e) => CliError::Export(e),
        ExportRequestError::Refused(problem) => CliError::Refused(problem.to_string()),
    })?;
    let partial = args.out.with_file_name(format!(
        ".{}.partial-{}",
        args.out
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    let file = std::fs::File::create(&partial).map_err(agentledger_export::ExportError::from)?;
    let mut sink = FileSink(std::io::BufWriter::new(file));
    // A bar over the log when every event is exported, a running count otherwise.
    let bar = if args.dataset == agentledger_export::Dataset::Events && args.query.is_whole_log() {
        progress_bar(storage.events.head_position().await?, "export")
    } else {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg:16} {spinner} {pos} rows, {per_sec}, {elapsed}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.set_message("export");
        bar
    };
    let started = std::time::Instant::now();
    let written = agentledger_export::export(&mut *source, args.query.format, &mut sink, |rows| {
        bar.set_position(rows)
    })
    .await;
    bar.finish();
    storage.events.close().await;
    let finished = written.and_then(|rows| {
        let file = sink.0.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&partial, &args.out)?;
        Ok(rows)
    });
    let rows = match finished {
        Ok(rows) => rows,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e.into());
        }
    };
    println!(
        "{rows} rows of {} written to {} in {:.2} s",
        args.dataset.name(),
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn verify(args: DatabaseArgs) -> Result<(), CliError> {
    let storage = open_storage(&args.database_url).await?;
    let head = storage.events.head_position().await?;
    let bar = progress_bar(head, "verify");
    let report =
        agentledger_store::integrity::verify(&*storage.events, |p| bar.set_position(p)).await?;
    bar.finish();
    storage.events.close().await;
    println!(
        "{} of {} events verified; last verified hash {}",
        report.verified, report.head_position, report.last_hash
    );
    match report.first_break {
        None => {
            println!("the hash chain is intact");
            Ok(())
        }
        Some(broken) => Err(CliError::ChainBroken {
            position: broken.position,
            reason: broken.reason,
        }),
    }
}

async fn demo(args: DemoArgs) -> Result<(), CliError> {
    let storage = open_storage(&args.database.database_url).await?;
    let store = storage.events.clone();
    let handler = agentledger_commands::Handler::new(store.clone());
    let seeded = crate::demo::seed(&handler, args.days.clamp(1, 90), args.seed).await?;
    store.close().await;
    if let Some(key) = seeded.admin_key {
        println!("admin API key: {key}");
    }
    println!(
        "demo tenant {} seeded: {} agents, {} actions, {} LLM runs, {} tasks, {} commands; log head at {}",
        seeded.tenant_id,
        seeded.agents,
        seeded.actions,
        seeded.runs,
        seeded.tasks,
        seeded.commands,
        seeded.head
    );
    println!(
        "operator API key for the demo tenant: {}",
        seeded.operator_key
    );
    Ok(())
}

async fn serve(args: ServeArgs) -> Result<(), CliError> {
    let config = StoreConfig {
        group_commit: !args.no_group_commit,
        ..StoreConfig::default()
    };
    let storage = agentledger_store::open(&args.database.database_url, config).await?;
    let store = storage.events.clone();
    tracing::info!(database = %redact(&args.database.database_url), "event store open");
    let jwt_secret = match &args.jwt_secret {
        Some(secret) if secret.len() >= 32 => secret.clone().into_bytes(),
        Some(_) => return Err(CliError::WeakJwtSecret),
        None => agentledger_commands::secrets::random_secret().into_bytes(),
    };
    let connections = crate::connections::Limits {
        max_connections: crate::connections::fit_file_limit(
            args.max_connections.map(|n| n as usize),
        )?,
        header_read_timeout: std::time::Duration::from_secs(args.header_read_timeout_seconds),
        idle_timeout: std::time::Duration::from_secs(args.idle_timeout_seconds),
    };
    let limits = crate::limits::LimitsConfig {
        login_failures_per_agent_and_address: args.login_failures_per_minute,
        failures_per_address: args.login_failures_per_address_per_minute,
        refreshes_per_agent: args.refresh_per_minute,
    };
    let state = AppState::with_limits(storage, &jwt_secret, limits);
    if let Some((tenant_id, key)) =
        agentledger_commands::operators::bootstrap(&state.handler).await?
    {
        // The only time this key is ever shown: only its hash is stored.
        println!(
            "created the default tenant {tenant_id} and an admin API key (shown once, keep it):"
        );
        println!("admin API key: {}", key.key);
    }
    let workers = crate::workers::Workers {
        offline_after: std::time::Duration::from_secs(args.offline_after_seconds.max(1)),
        ..Default::default()
    };
    workers.spawn(&state);
    let server = start(state, args.listen)
        .await
        .map_err(|source| CliError::Listen {
            addr: args.listen,
            source,
        })?
        .with_limits(connections);
    tracing::info!("listening on {}", server.local_addr());
    let result = server.run_until(shutdown_signal()).await;
    // Every request that was accepted has been answered; let the writer
    // finish what it holds before the process exits.
    store.close().await;
    tracing::info!("shut down");
    result.map_err(CliError::Serve)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

/// The URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_from_logged_urls() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://agentledger.db"), "sqlite://agentledger.db");
    }
}
