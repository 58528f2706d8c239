use std::process::ExitCode;

use clap::Parser;

// The profiles of rebuild and ingest spend a fifth of their time in glibc's
// malloc and free (JSON payloads are maps of small strings); mimalloc's
// per-thread free lists make those calls cheap.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = agentledger_api::cli::Cli::parse();
    agentledger_api::cli::init_tracing();
    match agentledger_api::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("agentledger: {e}");
            ExitCode::FAILURE
        }
    }
}
