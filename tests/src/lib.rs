//! Black-box test support: the real server, in process, on a free port, over a
//! real database, and a small client that checks every error is a problem
//! document.

pub mod browser;
pub mod console;
pub mod live;
pub mod mcp;
pub mod receiver;

use std::net::SocketAddr;

use agentledger_api::connections::Limits;
use agentledger_api::{AppState, start};
use agentledger_app::deliveries::DeliverySettings;
use agentledger_app::limits::LimitsConfig;
use agentledger_app::{Runtime, Workers};
use agentledger_domain::address::AddressPolicy;
use agentledger_domain::delivery::RetrySchedule;
use agentledger_store::conformance::test_config;
use agentledger_store::testing::TestDatabase;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub const JWT_SECRET: &[u8] = b"test-secret-test-secret-test-secret!";

/// How a test server is set up beyond its database.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub connections: Limits,
    /// Webhook deliveries to loopback receivers, with this retry schedule;
    /// `None`: the default policy (loopback refused) and schedule.
    pub loopback_deliveries: Option<RetrySchedule>,
    /// How long a subscription may fail before it is disabled; the
    /// default when `None`.
    pub disable_after: Option<std::time::Duration>,
    /// Live feeds open at once, in all and per tenant; the defaults when `None`.
    pub live_feeds: Option<(usize, usize)>,
}

/// Requests to one server's API, every error checked as a problem
/// (`read`); a `TestServer` is one, and so is any server a test starts.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
}

pub struct TestServer {
    client: Client,
    /// The bootstrap admin key of the default tenant.
    pub admin_key: String,
    /// The server's own state: its store, database and read models.
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    runtime: Option<Runtime>,
    options: Options,
    // Dropped last: the database outlives the server using it.
    _db: TestDatabase,
}

impl TestServer {
    pub async fn start(db: TestDatabase) -> Self {
        Self::start_with(db, None, Options::default()).await
    }

    /// A server that holds connections as `limits` say.
    pub async fn start_with_limits(db: TestDatabase, limits: Limits) -> Self {
        let options = Options {
            connections: limits,
            ..Options::default()
        };
        Self::start_with(db, None, options).await
    }

    /// A server set up as `options` say.
    pub async fn start_with_options(db: TestDatabase, options: Options) -> Self {
        Self::start_with(db, None, options).await
    }

    /// Stops this server and starts a new one on the same database, as after
    /// a restart.
    pub async fn restart(mut self) -> Self {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.stop().await;
        }
        let admin_key = std::mem::take(&mut self.admin_key);
        let db = std::mem::replace(&mut self._db, TestDatabase::sqlite());
        let options = self.options.clone();
        Self::start_with(db, Some(admin_key), options).await
    }

    async fn start_with(db: TestDatabase, admin_key: Option<String>, options: Options) -> Self {
        let storage = match db.open(test_config()).await {
            Ok(storage) => storage,
            Err(e) => panic!("open store: {e}"),
        };
        let defaults = LimitsConfig::default();
        let (live_feeds, live_feeds_per_tenant) = options
            .live_feeds
            .unwrap_or((defaults.live_feeds, defaults.live_feeds_per_tenant));
        let settings = LimitsConfig {
            address_policy: AddressPolicy {
                allow_loopback: options.loopback_deliveries.is_some(),
            },
            live_feeds,
            live_feeds_per_tenant,
            ..defaults
        };
        let mut runtime = Runtime::start(storage, JWT_SECRET, settings);
        let admin_key = match (
            agentledger_commands::operators::bootstrap(&runtime.app().handler).await,
            admin_key,
        ) {
            (Ok(Some((_, key))), None) => key.key,
            (Ok(None), Some(key)) => key,
            (other, _) => panic!("bootstrap: {other:?}", other = other.map(|o| o.is_some())),
        };
        // Short timeouts, so tests see agents go offline and commands time out.
        let workers = Workers {
            offline_after: std::time::Duration::from_secs(1),
            deadline_check: std::time::Duration::from_millis(200),
            deliveries: DeliverySettings {
                retry: options.loopback_deliveries.clone().unwrap_or_default(),
                timeout: std::time::Duration::from_secs(2),
                disable_after: options
                    .disable_after
                    .unwrap_or(DeliverySettings::default().disable_after),
            },
        };
        runtime.start_workers(workers);
        let state = AppState::from(runtime.app().clone());
        let app = agentledger_console::router(state.clone());
        let server = match start(app, SocketAddr::from(([127, 0, 0, 1], 0))).await {
            Ok(server) => server.with_limits(options.connections),
            Err(e) => panic!("bind: {e}"),
        };
        let base = format!("http://{}", server.local_addr());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(server.run_until(async {
            let _ = rx.await;
        }));
        Self {
            client: Client::new(base),
            admin_key,
            state,
            shutdown: Some(tx),
            runtime: Some(runtime),
            options,
            _db: db,
        }
    }

    /// Waits until every model has applied the log up to `position` (the
    /// head when `None`), and fails the test if one stops or does not get
    /// there within 20 s.
    pub async fn models_reach(&self, position: Option<u64>) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let (status, ready) = self.get("/ready", &self.admin_key).await;
            assert_ne!(
                status,
                StatusCode::SERVICE_UNAVAILABLE,
                "a read model stopped: {ready}"
            );
            let target =
                position.unwrap_or_else(|| ready["store"]["head_position"].as_u64().unwrap_or(0));
            let models = ready["projections"].as_array().cloned().unwrap_or_default();
            let behind: Vec<&Value> = models
                .iter()
                .filter(|m| m["position"].as_u64().unwrap_or(0) < target)
                .collect();
            if !models.is_empty() && behind.is_empty() {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "models did not reach {target}: {behind:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// The payloads of every alert raised so far, oldest first.
    pub async fn raised_alerts(&self) -> Vec<Value> {
        let (_, log) = self
            .get(
                "/api/v1/events?types=AlertRaised&limit=1000",
                &self.admin_key,
            )
            .await;
        log["events"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| e["payload"].clone())
            .collect()
    }

    /// A new tenant and an operator key for it: (tenant id, key).
    pub async fn tenant(&self, name: &str) -> (String, String) {
        let (status, tenant) = self
            .post("/api/v1/tenants", &self.admin_key, &json!({ "name": name }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{tenant}");
        let tenant_id = tenant["tenant_id"].as_str().unwrap_or_default().to_owned();
        let key = self.key(&tenant_id, "operator").await;
        (tenant_id, key)
    }

    pub async fn key(&self, tenant_id: &str, role: &str) -> String {
        let body = json!({ "role": role, "tenant_id": tenant_id });
        let (status, key) = self.post("/api/v1/api-keys", &self.admin_key, &body).await;
        assert_eq!(status, StatusCode::CREATED, "{key}");
        key["key"].as_str().unwrap_or_default().to_owned()
    }
}

impl Client {
    pub fn new(base: String) -> Self {
        Self {
            base,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request and returns status and JSON body (Null when empty).
    /// Every error must be `application/problem+json` with a `/problems/` type.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        read(request.send().await).await
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        let response = self
            .http
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.unwrap_or_default()
    }

    /// Registers an agent with `permissions` and logs it in: (agent id, access
    /// token, refresh token).
    pub async fn agent(
        &self,
        operator_key: &str,
        permissions: &[&str],
        rate_limit: u32,
    ) -> TestAgent {
        self.agent_of_kind(operator_key, "worker", permissions, rate_limit)
            .await
    }

    /// [`TestServer::agent`], of the kind `kind`.
    pub async fn agent_of_kind(
        &self,
        operator_key: &str,
        kind: &str,
        permissions: &[&str],
        rate_limit: u32,
    ) -> TestAgent {
        let body = json!({ "name": "test-agent", "kind": kind, "permissions": permissions, "rate_limit_per_minute": rate_limit });
        let (status, registered) = self.post("/api/v1/agents", operator_key, &body).await;
        assert_eq!(status, StatusCode::CREATED, "{registered}");
        let agent_id = registered["agent_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let secret = registered["secret"].as_str().unwrap_or_default().to_owned();
        let (status, tokens) = self
            .call(
                Method::POST,
                "/api/v1/agents/auth",
                None,
                Some(&json!({ "agent_id": agent_id, "secret": secret })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        TestAgent {
            agent_id,
            secret,
            token: tokens["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            refresh_token: tokens["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        }
    }
}

impl std::ops::Deref for TestServer {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

pub struct TestAgent {
    pub agent_id: String,
    pub secret: String,
    pub token: String,
    pub refresh_token: String,
}

/// A response header's value as text; empty when absent.
pub fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

pub async fn read(response: reqwest::Result<reqwest::Response>) -> (StatusCode, Value) {
    let response = response.unwrap_or_else(|e| panic!("request failed: {e}"));
    let status = response.status();
    let content_type = header(&response, "content-type");
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        assert_eq!(
            content_type, "application/problem+json",
            "errors are problem documents: {status} {body}"
        );
        assert_eq!(body["status"], json!(status.as_u16()));
        assert!(
            body["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("/problems/")),
            "{body}"
        );
    }
    (status, body)
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Runs each named `async fn(TestDatabase)` once on SQLite and once on
/// PostgreSQL (when `AGENTLEDGER_TEST_POSTGRES_URL` is set), for tests that
/// start their server themselves (with options, or more than once).
#[macro_export]
macro_rules! on_every_database {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(agentledger_store::testing::TestDatabase::sqlite()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = agentledger_store::testing::TestDatabase::postgres(stringify!($name)).await {
                        super::$name(db).await;
                    }
                }
            )*
        }
    };
}

/// Runs each named async fn (taking a `TestServer`) once per backend.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let server = $crate::TestServer::start(agentledger_store::testing::TestDatabase::sqlite()).await;
                    super::$name(server).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = agentledger_store::testing::TestDatabase::postgres(stringify!($name)).await else {
                        return;
                    };
                    super::$name($crate::TestServer::start(db).await).await;
                }
            )*
        }
    };
}
