//! A real browser for the console's tests: Debian's headless Chromium driven
//! through chromedriver (WebDriver) with fantoccini. Each [`Browser`] starts
//! its own chromedriver on a free port and a fresh profile, and reads the
//! browser's console log, so a test can insist a page logged no error.

use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// Where chromedriver is: `CHROMEDRIVER`, or Debian's.
fn chromedriver_path() -> String {
    std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into())
}

/// Whether browser tests must run: in CI (`CI` set) a missing browser is a
/// failure, not a skip.
fn required() -> bool {
    std::env::var_os("CI").is_some() || std::env::var_os("AGENTLEDGER_TEST_BROWSER").is_some()
}

pub struct Browser {
    pub client: Client,
    driver: Child,
    driver_url: String,
    session: String,
    _profile: TempDir,
}

/// A directory removed when dropped.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Browser {
    /// A headless Chromium, or `None` (with a note) when there is none and
    /// none is required.
    pub async fn start() -> Option<Browser> {
        let path = chromedriver_path();
        if !std::path::Path::new(&path).exists() {
            assert!(
                !required(),
                "{path} is missing: install Debian's chromium and chromium-driver (.ci/run does)"
            );
            eprintln!("skipped: no chromedriver at {path} (install chromium and chromium-driver)");
            return None;
        }
        let port = free_port();
        let driver = Command::new(&path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start {path}: {e}"));
        let driver_url = format!("http://127.0.0.1:{port}");
        let profile =
            std::env::temp_dir().join(format!("agentledger-chromium-{}", uuid::Uuid::new_v4()));
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        capabilities.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let client = loop {
            match builder.connect(&driver_url).await {
                Ok(client) => break client,
                Err(e) if tokio::time::Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("chromedriver at {driver_url}: {e}"),
            }
        };
        let session = client
            .session_id()
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("chromedriver gave no session id"));
        Some(Browser {
            client,
            driver,
            driver_url,
            session,
            _profile: TempDir(profile),
        })
    }

    /// What the pages logged to the console since the last call, at
    /// `SEVERE` (errors, refused scripts or styles, failed requests).
    pub async fn console_errors(&self) -> Vec<String> {
        let url = format!("{}/session/{}/se/log", self.driver_url, self.session);
        let answer: Value = reqwest::Client::new()
            .post(url)
            .json(&json!({ "type": "browser" }))
            .send()
            .await
            .unwrap_or_else(|e| panic!("browser log: {e}"))
            .json()
            .await
            .unwrap_or_default();
        answer["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Opens `url` and waits until `css` is on the page.
    pub async fn open(&self, url: &str, css: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
        self.wait_for(css).await;
    }

    pub async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        let wait = self.client.wait().at_most(Duration::from_secs(15));
        wait.for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} never appeared: {e}"))
    }

    /// The text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        self.wait_for(css)
            .await
            .text()
            .await
            .unwrap_or_else(|e| panic!("text of {css}: {e}"))
    }

    pub async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .map(|all| all.len())
            .unwrap_or(0)
    }

    /// Waits (at most 15 s) until `check` of the page's source holds.
    pub async fn wait_until(&self, what: &str, check: impl Fn(&str) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let source = self.client.source().await.unwrap_or_default();
            if check(&source) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what} never happened"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a screenshot of the page as `<dir>/<name>.png` when
    /// `AGENTLEDGER_SCREENSHOTS` names a folder (how docs/console is made).
    pub async fn screenshot(&self, name: &str) {
        let Some(dir) = std::env::var_os("AGENTLEDGER_SCREENSHOTS") else {
            return;
        };
        let png = self
            .client
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("screenshot: {e}"));
        let path = std::path::Path::new(&dir).join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill().await;
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("free port: {e}"))
}
