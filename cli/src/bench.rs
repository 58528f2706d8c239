//! `agentledger bench`: the benchmarks' command line over the load
//! generators of `agentledger-bench`.

use agentledger_bench::peers::{self, Peer};
use agentledger_bench::push;
use agentledger_bench::{BATCHES, WRITERS, ingest};
use agentledger_store::{Storage, StoreConfig};
use clap::Subcommand;

use crate::cli::{CliError, DatabaseArgs, open_storage, progress_bar};

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
    /// What flows out: starts `serve` (loopback webhook targets allowed) on a
    /// new database in a child process and measures, one after the other,
    /// event-to-client latency of `--subscribers` SSE feeds under a paced
    /// load of `--rate` events/s; webhook deliveries per second of a backlog
    /// to a receiver on loopback; and command-to-agent latency with
    /// `--waiting` agents in long polls.
    Push {
        /// The server's database; it must hold no ledger yet.
        #[command(flatten)]
        database: DatabaseArgs,
        #[arg(long, default_value_t = 100)]
        subscribers: usize,
        /// Events per second of the load under the feeds.
        #[arg(long, default_value_t = 1000.0)]
        rate: f64,
        /// Seconds of that load.
        #[arg(long, default_value_t = 20.0)]
        seconds: f64,
        /// Agents posting the load (paced) and the backlog (batches of 100).
        #[arg(long, default_value_t = 16)]
        connections: usize,
        /// Seconds of posting the webhook backlog.
        #[arg(long, default_value_t = 2.0)]
        backlog_seconds: f64,
        #[arg(long, default_value_t = 100)]
        waiting: usize,
        /// Commands issued to the waiting agents.
        #[arg(long, default_value_t = 500)]
        commands: usize,
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
    /// Time the web console's overview and operation log as a viewer of the
    /// busiest tenant gets them: `serve` in a child process on the log,
    /// each page fetched `--rounds` times: p50, p99, p99.9.
    Pages {
        #[command(flatten)]
        database: DatabaseArgs,
        #[arg(long, default_value_t = 500)]
        rounds: usize,
    },
    /// Time the dashboard as of 25, 50, 75 and 100% of the log (from the
    /// latest snapshot before each moment and the events after it) against
    /// the live dashboard read model, then as of moments drawn at random.
    PointInTime {
        #[command(flatten)]
        database: DatabaseArgs,
        /// The tenant; the busiest one when absent.
        #[arg(long)]
        tenant_id: Option<uuid::Uuid>,
        /// Moments drawn at random over the whole log, and as many over
        /// the tenant's own history.
        #[arg(long, default_value_t = 200)]
        samples: usize,
    },
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

/// The tenant asked for, or the one with the most events.
async fn tenant_or_busiest(
    storage: &Storage,
    asked: Option<uuid::Uuid>,
) -> Result<uuid::Uuid, CliError> {
    match asked {
        Some(tenant) => Ok(tenant),
        None => agentledger_bench::busiest_tenant(&*storage.events)
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

pub async fn run(command: BenchCommand) -> Result<(), CliError> {
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
                agentledger_bench::seed(&storage, events, tenants, move |p| shown.set_position(p))
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
            let head = agentledger_bench::grow::grow(storage.events.clone(), events, |p| {
                bar.set_position(p)
            })
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
            for batch in BATCHES {
                for writers in WRITERS {
                    let run = agentledger_bench::store_ceiling(
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
                    let run = agentledger_bench::store_ceiling(
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
            let options: &[&str] = if no_group_commit {
                &["--no-group-commit"]
            } else {
                &[]
            };
            let server = ingest::start_server(&database.database_url, options).await?;
            let agents = ingest::enlist(&server, 0..most, ingest::REPORTING).await?;
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
        BenchCommand::Push {
            database,
            subscribers,
            rate,
            seconds,
            connections,
            backlog_seconds,
            waiting,
            commands,
        } => {
            let (connections, waiting) = (connections.max(1), waiting.max(1));
            ingest::check_loopback(connections + waiting)?;
            agentledger_store::open(&database.database_url, bench_config(true))
                .await?
                .events
                .close()
                .await;
            let server =
                ingest::start_server(&database.database_url, &["--allow-loopback-targets"]).await?;
            let reporters = ingest::enlist(&server, 0..connections, ingest::REPORTING).await?;
            let pollers =
                ingest::enlist(&server, connections..connections + waiting, push::POLLING).await?;

            let feeds = push::feed_latency(&server, &reporters, subscribers, rate, seconds).await?;
            println!(
                "live feeds: {} SSE clients, paced load of {:.0} events/s for {seconds} s over {connections} connections \
                 ({} load errors)",
                feeds.subscribers, feeds.rate, feeds.load_errors
            );
            println!(
                "| events recorded | delivered to clients | of expected | p50 ms | p99 ms | p99.9 ms |"
            );
            println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
            let expected = feeds.events * feeds.subscribers as u64;
            println!(
                "| {} | {} | {:.4} | {} |",
                feeds.events,
                feeds.delivered,
                feeds.delivered as f64 / expected.max(1) as f64,
                feeds.latency.cells()
            );

            let hooks = push::webhook_throughput(&server, &reporters, backlog_seconds).await?;
            println!();
            println!(
                "webhooks: a backlog posted for {backlog_seconds} s, delivered to a receiver on loopback"
            );
            println!(
                "| events | delivered | repeated | seconds | deliveries/s | p50 ms | p99 ms | p99.9 ms |"
            );
            println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
            println!(
                "| {} | {} | {} | {:.1} | {:.0} | {} |",
                hooks.events,
                hooks.delivered,
                hooks.repeated,
                hooks.seconds,
                hooks.per_second(),
                hooks.latency.cells()
            );

            let commanded = push::command_latency(&server, &pollers, commands).await?;
            println!();
            println!(
                "commands: issued one at a time to {} agents each waiting in a long poll",
                commanded.waiting
            );
            println!("| issued | received | p50 ms | p99 ms | p99.9 ms |");
            println!("| ---: | ---: | ---: | ---: | ---: |");
            println!(
                "| {} | {} | {} |",
                commanded.issued,
                commanded.received,
                commanded.latency.cells()
            );
            Ok(())
        }
        BenchCommand::Peers { database, seconds } => {
            let url = &database.database_url;
            if !url.starts_with("postgres") {
                return Err(CliError::Refused(
                    "bench peers runs on PostgreSQL: give a postgres:// URL".into(),
                ));
            }
            let storage = agentledger_store::open(url, bench_config(true)).await?;
            let pool = peers::connect(url)
                .await
                .map_err(|e| CliError::Refused(format!("cannot connect: {e}")))?;
            peers::prepare(&pool).await?;
            println!(
                "| writers | events per append | store | events/s | p50 ms | p99 ms | p99.9 ms |"
            );
            println!("| ---: | ---: | --- | ---: | ---: | ---: | ---: |");
            for batch in BATCHES {
                for writers in WRITERS {
                    let ours = agentledger_bench::store_ceiling(
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
            let results = agentledger_bench::queries(&storage, tenant, rounds.max(1)).await?;
            storage.events.close().await;
            println!("log of {head} events, tenant {tenant}, {rounds} rounds");
            println!("| query | p50 ms | p99 ms | p99.9 ms |");
            println!("| --- | ---: | ---: | ---: |");
            for (name, p) in results {
                println!("| {name} | {} |", p.cells());
            }
            Ok(())
        }
        BenchCommand::Pages { database, rounds } => {
            let storage = open_storage(&database.database_url).await?;
            let tenant = tenant_or_busiest(&storage, None).await?;
            let head = storage.events.head_position().await?;
            let key = agentledger_bench::pages::viewer_key(&storage, tenant).await?;
            storage.events.close().await;
            let results =
                agentledger_bench::pages::pages(&database.database_url, &key, rounds.max(1))
                    .await?;
            println!("log of {head} events, tenant {tenant}, {rounds} rounds");
            println!("| page | p50 ms | p99 ms | p99.9 ms |");
            println!("| --- | ---: | ---: | ---: |");
            for (name, p) in results {
                println!("| {name} | {} |", p.cells());
            }
            Ok(())
        }
        BenchCommand::PointInTime {
            database,
            tenant_id,
            samples,
        } => {
            let storage = open_storage(&database.database_url).await?;
            let tenant = tenant_or_busiest(&storage, tenant_id).await?;
            let (rows, moments) =
                agentledger_bench::point_in_time(&storage, tenant, samples).await?;
            storage.events.close().await;
            println!("tenant {tenant}");
            println!(
                "| dashboard | log position | snapshot at | tenant events replayed | ms | events/s |"
            );
            println!("| --- | ---: | ---: | ---: | ---: | ---: |");
            for row in rows {
                let what = if row.share == 0 {
                    "live read model".to_owned()
                } else {
                    format!("as of {}% of the log", row.share)
                };
                println!(
                    "| {what} | {} | {} | {} | {:.1} | {} |",
                    row.position,
                    row.snapshot.map_or("—".to_owned(), |p| p.to_string()),
                    row.events_replayed,
                    row.millis,
                    if row.events_replayed > 0 {
                        format!("{:.0}", row.events_replayed as f64 / (row.millis / 1000.0))
                    } else {
                        "—".to_owned()
                    }
                );
            }
            for (over, timings) in [
                ("the whole log", moments.whole_log),
                ("the tenant's history", moments.tenant_history),
            ] {
                if timings.is_empty() {
                    continue;
                }
                let count = timings.len();
                let p = agentledger_bench::percentiles(timings);
                println!(
                    "as of {count} moments drawn at random over {over}: p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms",
                    p.p50, p.p99, p.p999
                );
            }
            Ok(())
        }
    }
}
