//! The `agentledger` command line.

use std::net::SocketAddr;

use agentledger_store::{DEFAULT_DATABASE_URL, Storage, StoreConfig, StoreError};
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
    #[error("rebuild failed: {0}")]
    Projection(#[from] agentledger_projections::engine::ProjectionError),
    #[error("AGENTLEDGER_JWT_SECRET must be at least 32 characters")]
    WeakJwtSecret,
    #[error("the log was altered: event at position {position} is {reason}")]
    ChainBroken { position: u64, reason: String },
    #[error("first-start setup failed: {0}")]
    Bootstrap(#[from] agentledger_commands::CommandError),
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

async fn open_storage(url: &str) -> Result<Storage, CliError> {
    Ok(agentledger_store::open(url, StoreConfig::default()).await?)
}

async fn rebuild(args: RebuildArgs) -> Result<(), CliError> {
    use agentledger_projections::engine::{ProjectionError, all, catch_up, reset};
    let storage = open_storage(&args.database.database_url).await?;
    let selected: Vec<_> = all()
        .into_iter()
        .filter(|p| {
            args.projection
                .as_deref()
                .is_none_or(|name| name == p.name())
        })
        .collect();
    if selected.is_empty() {
        let name = args.projection.unwrap_or_default();
        return Err(CliError::Projection(ProjectionError::Unknown(name)));
    }
    let head = storage.events.head_position().await?;
    for projection in selected {
        let started = std::time::Instant::now();
        let bar = indicatif::ProgressBar::new(head);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg:16} [{bar:40}] {pos}/{len} events, {per_sec}, ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_message(projection.name());
        reset(&storage.database, &*projection).await?;
        let applied = catch_up(&*storage.events, &storage.database, &*projection, |p| {
            bar.set_position(p)
        })
        .await?;
        bar.finish();
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{}: {applied} events in {seconds:.2} s ({:.0} events/s)",
            projection.name(),
            applied as f64 / seconds.max(1e-9)
        );
    }
    storage.events.close().await;
    Ok(())
}

async fn verify(args: DatabaseArgs) -> Result<(), CliError> {
    let storage = open_storage(&args.database_url).await?;
    let head = storage.events.head_position().await?;
    let bar = indicatif::ProgressBar::new(head);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "verify [{bar:40}] {pos}/{len} events, {per_sec}, ETA {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
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
    let storage = open_storage(&args.database.database_url).await?;
    let store = storage.events.clone();
    tracing::info!(database = %redact(&args.database.database_url), "event store open");
    let jwt_secret = match &args.jwt_secret {
        Some(secret) if secret.len() >= 32 => secret.clone().into_bytes(),
        Some(_) => return Err(CliError::WeakJwtSecret),
        None => agentledger_commands::secrets::random_secret().into_bytes(),
    };
    let state = AppState::new(storage, &jwt_secret);
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
        })?;
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
