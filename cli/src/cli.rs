//! The `agentledger` command line.

use std::net::SocketAddr;

use agentledger_store::{AsOf, DEFAULT_DATABASE_URL, Storage, StoreConfig, StoreError};
use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use agentledger_api::{AppState, start};
use agentledger_app::deliveries::DeliverySettings;
use agentledger_app::{Runtime, Workers};
use agentledger_domain::address::AddressPolicy;
use agentledger_domain::delivery::RetrySchedule;

use crate::bench::BenchCommand;

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

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// `events`, `runs`, `operations` or `usage`.
    pub dataset: agentledger_export::Dataset,
    #[command(flatten)]
    pub query: agentledger_app::exports::ExportQuery,
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
    /// Live feeds (`/api/v1/stream` and `/api/v1/ws`) open at once; past it
    /// a new one is answered 503.
    #[arg(
        long,
        env = "AGENTLEDGER_MAX_LIVE_FEEDS",
        default_value_t = 512,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub max_live_feeds: u32,
    /// Of those, how many one tenant may hold; past it that tenant's new
    /// feed is answered 503.
    #[arg(
        long,
        env = "AGENTLEDGER_MAX_LIVE_FEEDS_PER_TENANT",
        default_value_t = 128,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub max_live_feeds_per_tenant: u32,
    /// Lets webhooks (and other URLs the server calls) reach loopback
    /// addresses, for a receiver on this machine in tests and local setups.
    /// Private ranges and the metadata service stay refused. Off by default.
    #[arg(long, env = "AGENTLEDGER_ALLOW_LOOPBACK_TARGETS")]
    pub allow_loopback_targets: bool,
    /// Seconds to wait before each attempt of a webhook delivery, comma-separated:
    /// a delivery has as many attempts as there are waits, the first made at once
    /// whatever its wait; each later wait varies by up to a tenth.
    #[arg(
        long,
        env = "AGENTLEDGER_WEBHOOK_RETRY_SECONDS",
        default_value = "0,5,300,1800,7200,18000,36000,36000",
        value_parser = retry_schedule
    )]
    pub webhook_retry_seconds: RetrySchedule,
    /// Seconds a webhook receiver has to answer.
    /// At most 45, so an attempt's outcome is recorded within its 60 s lease.
    #[arg(long, env = "AGENTLEDGER_WEBHOOK_TIMEOUT_SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=45))]
    pub webhook_timeout_seconds: u64,
    /// Hours after which a subscription whose every delivery has failed
    /// (none succeeding since) is disabled, with an alert.
    #[arg(long, env = "AGENTLEDGER_WEBHOOK_DISABLE_AFTER_HOURS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=8760))]
    pub webhook_disable_after_hours: u64,
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
    Connections(#[from] agentledger_api::connections::LimitError),
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
    Bench(#[from] agentledger_bench::BenchError),
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
        Command::Bench(command) => crate::bench::run(command).await,
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

pub(crate) async fn open_storage(url: &str) -> Result<Storage, CliError> {
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
pub(crate) fn progress_bar(len: u64, label: &str) -> indicatif::ProgressBar {
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
    use agentledger_app::AppError;
    use agentledger_app::exports::open_source;
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
        AppError::Export(e) => CliError::Export(e),
        refused => CliError::Refused(refused.to_string()),
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
    let seeded = agentledger_app::demo::seed(
        &handler,
        &storage.database,
        args.days.clamp(1, 90),
        args.seed,
    )
    .await?;
    store.close().await;
    if let Some(key) = seeded.admin_key {
        println!("admin API key: {key}");
    }
    println!(
        "demo tenant {} seeded: {} agents, {} actions, {} LLM runs, {} tasks, {} commands, {} executions; log head at {}",
        seeded.tenant_id,
        seeded.agents,
        seeded.actions,
        seeded.runs,
        seeded.tasks,
        seeded.commands,
        seeded.executions,
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
    let connections = agentledger_api::connections::Limits {
        max_connections: agentledger_api::connections::fit_file_limit(
            args.max_connections.map(|n| n as usize),
        )?,
        header_read_timeout: std::time::Duration::from_secs(args.header_read_timeout_seconds),
        idle_timeout: std::time::Duration::from_secs(args.idle_timeout_seconds),
    };
    let limits = agentledger_app::limits::LimitsConfig {
        login_failures_per_agent_and_address: args.login_failures_per_minute,
        failures_per_address: args.login_failures_per_address_per_minute,
        refreshes_per_agent: args.refresh_per_minute,
        live_feeds: args.max_live_feeds as usize,
        live_feeds_per_tenant: args.max_live_feeds_per_tenant as usize,
        address_policy: AddressPolicy {
            allow_loopback: args.allow_loopback_targets,
        },
    };
    let mut runtime = Runtime::start(storage, &jwt_secret, limits);
    if let Some((tenant_id, key)) =
        agentledger_commands::operators::bootstrap(&runtime.app().handler).await?
    {
        // The only time this key is ever shown: only its hash is stored.
        println!(
            "created the default tenant {tenant_id} and an admin API key (shown once, keep it):"
        );
        println!("admin API key: {}", key.key);
    }
    runtime.start_workers(Workers {
        offline_after: std::time::Duration::from_secs(args.offline_after_seconds.max(1)),
        deliveries: DeliverySettings {
            retry: args.webhook_retry_seconds.clone(),
            timeout: std::time::Duration::from_secs(args.webhook_timeout_seconds),
            disable_after: std::time::Duration::from_secs(args.webhook_disable_after_hours * 3600),
        },
        ..Default::default()
    });
    let server = start(
        agentledger_console::router(AppState::from(runtime.app().clone())),
        args.listen,
    )
    .await
    .map_err(|source| CliError::Listen {
        addr: args.listen,
        source,
    })?
    .with_limits(connections);
    tracing::info!("listening on {}", server.local_addr());
    let result = server.run_until(shutdown_signal()).await;
    runtime.stop().await;
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

/// `0,5,300`: the waits of a retry schedule, in seconds.
fn retry_schedule(text: &str) -> Result<RetrySchedule, String> {
    let waits: Result<Vec<u64>, _> = text.split(',').map(|w| w.trim().parse::<u64>()).collect();
    match waits {
        Ok(waits)
            if !waits.is_empty() && waits.len() <= 20 && waits.iter().all(|w| *w <= 7 * 86_400) =>
        {
            Ok(RetrySchedule(waits))
        }
        _ => {
            Err("1 to 20 whole numbers of seconds, each at most a week, separated by commas".into())
        }
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
