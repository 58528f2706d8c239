//! Throwaway databases for tests: an SQLite file in a fresh directory, or a
//! fresh schema in the PostgreSQL named by `AGENTLEDGER_TEST_POSTGRES_URL`.

use std::io::Write;
use std::path::PathBuf;

use sqlx::Connection;
use uuid::Uuid;

use crate::error::StoreError;
use crate::open::{Storage, open};
use crate::sql::engine::StoreConfig;

pub const POSTGRES_URL_VAR: &str = "AGENTLEDGER_TEST_POSTGRES_URL";

/// A database that exists for one test and is removed when dropped.
pub struct TestDatabase {
    url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Directory(PathBuf),
    Schema { server_url: String, schema: String },
}

impl TestDatabase {
    /// An SQLite database file in a new temporary directory.
    pub fn sqlite() -> Self {
        let dir = std::env::temp_dir().join(format!("agentledger-test-{}", Uuid::now_v7()));
        let url = format!("sqlite://{}", dir.join("agentledger.db").display());
        if let Err(e) = std::fs::create_dir_all(&dir) {
            panic!("cannot create test directory {}: {e}", dir.display());
        }
        Self {
            url,
            cleanup: Cleanup::Directory(dir),
        }
    }

    /// A new schema in the test PostgreSQL server, or `None` (with the reason
    /// printed) when `AGENTLEDGER_TEST_POSTGRES_URL` is not set.
    pub async fn postgres(test: &str) -> Option<Self> {
        let Ok(server_url) = std::env::var(POSTGRES_URL_VAR) else {
            // Written past the test harness's output capture, so the skip is
            // visible in a normal `cargo test` run.
            let _ = writeln!(
                std::io::stderr(),
                "skipping PostgreSQL test `{test}`: {POSTGRES_URL_VAR} is not set"
            );
            return None;
        };
        let schema = format!("agentledger_test_{}", Uuid::now_v7().simple());
        let mut conn = match sqlx::PgConnection::connect(&server_url).await {
            Ok(conn) => conn,
            Err(e) => panic!("{POSTGRES_URL_VAR} is set but {server_url} is unreachable: {e}"),
        };
        let create = format!("CREATE SCHEMA {schema}");
        if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(create))
            .execute(&mut conn)
            .await
        {
            panic!("cannot create schema {schema}: {e}");
        }
        let separator = if server_url.contains('?') { '&' } else { '?' };
        Some(Self {
            url: format!("{server_url}{separator}options[search_path]={schema}"),
            cleanup: Cleanup::Schema { server_url, schema },
        })
    }

    /// The URL `open` takes, also usable by a child process.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub async fn open(&self, config: StoreConfig) -> Result<Storage, StoreError> {
        open(&self.url, config).await
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Directory(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Schema { server_url, schema } => {
                // Drop runs outside any runtime guarantee, so use a thread with
                // its own small runtime; a leftover schema is harmless anyway.
                let (url, schema) = (server_url.clone(), schema.clone());
                let _ = std::thread::spawn(move || {
                    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    else {
                        return;
                    };
                    rt.block_on(async move {
                        if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
                            let drop = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
                            let _ = sqlx::query(sqlx::AssertSqlSafe(drop))
                                .execute(&mut conn)
                                .await;
                        }
                    });
                })
                .join();
            }
        }
    }
}
