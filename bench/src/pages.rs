//! The web console's pages as a reader gets them: `serve` in a child process
//! on an existing log, a viewer of the busiest tenant signed in, and the
//! overview and the operation log fetched one after the other, each timed
//! from request to the last byte of the page on loopback.

use std::time::{Duration, Instant};

use agentledger_commands::operators::create_api_key;
use agentledger_commands::{Context, Handler};
use agentledger_domain::api_key::Role;
use agentledger_domain::ids::{ApiKeyId, TenantId};
use agentledger_store::Storage;
use uuid::Uuid;

use crate::ingest::{Server, caught_up, load_error, start_server_on};
use crate::{BenchError, Percentiles, percentiles};

/// The pages measured, and what each shows.
pub const PAGES: [(&str, &str); 2] = [
    ("/console/overview", "overview"),
    ("/console/operations", "operation log, first page of 50"),
];

/// A viewer key of `tenant`, made for the measurement.
pub async fn viewer_key(storage: &Storage, tenant: Uuid) -> Result<String, BenchError> {
    let handler = Handler::new(storage.events.clone());
    let tenant = TenantId(tenant);
    let issued = create_api_key(
        &handler,
        &Context::system(tenant, "bench"),
        ApiKeyId::new(),
        tenant,
        Role::Viewer,
        "bench pages".into(),
    )
    .await?;
    Ok(issued.key)
}

/// Starts the server on `database_url` and times each page `rounds` times
/// (after 20 unmeasured rounds), signed in with `key`.
pub async fn pages(
    database_url: &str,
    key: &str,
    rounds: usize,
) -> Result<Vec<(&'static str, Percentiles)>, BenchError> {
    let server = start_server_on(database_url, &[]).await?;
    caught_up(&server, Duration::from_secs(600)).await?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(load_error("client"))?;
    let cookie = sign_in(&client, &server, key).await?;
    let mut results = Vec::new();
    for (path, name) in PAGES {
        let mut timings = Vec::with_capacity(rounds);
        for round in 0..rounds + 20 {
            let started = Instant::now();
            let response = client
                .get(format!("{}{path}", server.base))
                .header("Cookie", &cookie)
                .send()
                .await
                .map_err(load_error(path))?;
            let status = response.status();
            let body = response.bytes().await.map_err(load_error(path))?;
            if !status.is_success() {
                return Err(BenchError::Load(format!(
                    "{path} answered {status}: {}",
                    String::from_utf8_lossy(&body)
                )));
            }
            if round >= 20 {
                timings.push(started.elapsed());
            }
        }
        results.push((name, percentiles(timings)));
    }
    Ok(results)
}

async fn sign_in(
    client: &reqwest::Client,
    server: &Server,
    key: &str,
) -> Result<String, BenchError> {
    let response = client
        .post(format!("{}/console/sign-in", server.base))
        .header("Origin", &server.base)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("api_key={key}"))
        .send()
        .await
        .map_err(load_error("sign in"))?;
    response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
        .ok_or_else(|| BenchError::Load(format!("signing in answered {}", response.status())))
}
