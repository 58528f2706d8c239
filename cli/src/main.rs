//! The `agentledger` binary: the server and the operator's commands.

use std::process::ExitCode;

use clap::Parser;

mod bench;
mod cli;

// The profiles of rebuild and ingest spend a fifth of their time in glibc's
// malloc and free (JSON payloads are maps of small strings); mimalloc's
// per-thread free lists make those calls cheap.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    cli::init_tracing();
    match cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("agentledger: {e}");
            ExitCode::FAILURE
        }
    }
}
