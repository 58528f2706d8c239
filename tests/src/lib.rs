//! Black-box test support: the real server, in process, on a free port, over a
//! real database.

use std::net::SocketAddr;

use agentledger_api::{AppState, start};
use agentledger_store::conformance::test_config;
use agentledger_store::testing::TestDatabase;
use tokio::sync::oneshot;

pub struct TestServer {
    pub base: String,
    pub http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    // Dropped last: the database outlives the server using it.
    _db: TestDatabase,
}

impl TestServer {
    pub async fn start(db: TestDatabase) -> Self {
        let store = match db.open(test_config()).await {
            Ok(store) => store,
            Err(e) => panic!("open store: {e}"),
        };
        let server = match start(AppState::new(store), SocketAddr::from(([127, 0, 0, 1], 0))).await
        {
            Ok(server) => server,
            Err(e) => panic!("bind: {e}"),
        };
        let base = format!("http://{}", server.local_addr());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(server.run_until(async {
            let _ = rx.await;
        }));
        Self {
            base,
            http: reqwest::Client::new(),
            shutdown: Some(tx),
            _db: db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Runs `$body` (an async fn taking a `TestServer`) once per backend.
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
