use std::process::ExitCode;

use clap::Parser;

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
