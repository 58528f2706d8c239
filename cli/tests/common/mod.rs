//! Running the real `agentledger` binary as a child process.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct Server {
    #[allow(dead_code)] // not every test binary kills it
    pub child: Child,
    pub base: String,
    /// Printed on the first start only.
    pub admin_key: Option<String>,
}

#[allow(dead_code)] // not every test binary starts it without options
pub async fn start_server(url: &str) -> Server {
    start_server_with(url, &[]).await
}

/// Starts `agentledger serve` on a free port of loopback with `options` too.
pub async fn start_server_with(url: &str, options: &[&str]) -> Server {
    let mut child = match Command::new(env!("CARGO_BIN_EXE_agentledger"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(options)
        .env("AGENTLEDGER_DATABASE_URL", url)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(child) => child,
        Err(e) => panic!("cannot start agentledger: {e}"),
    };
    let Some(stdout) = child.stdout.take() else {
        panic!("no stdout")
    };
    let mut lines = BufReader::new(stdout).lines();
    let mut admin_key = None;
    let addr = loop {
        match tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await {
            Ok(Ok(Some(line))) => {
                if let Some(key) = line.strip_prefix("admin API key: ") {
                    admin_key = Some(key.trim().to_owned());
                }
                if let Some(rest) = line.split("listening on ").nth(1) {
                    break rest.trim().to_owned();
                }
            }
            other => panic!("server did not start: {other:?}"),
        }
    };
    // Keep draining the log so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Server {
        child,
        base: format!("http://{addr}"),
        admin_key,
    }
}
