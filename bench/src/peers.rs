//! Other ways to append the same events to the same PostgreSQL, measured in
//! the same run as agentledger's store, in a schema of their own:
//!
//! - the floor: plain `INSERT`s of the same rows into a copy of the events
//!   table with all its indexes, and nothing else (no position lock, no hash
//!   chain, no version check);
//! - the Message DB design: every message is written by a `write_message`
//!   function that takes a transaction-scoped advisory lock on the stream's
//!   category, reads the stream's version, checks the expected one and
//!   inserts into a table whose global position is a sequence. The function
//!   here is written from that published design, not taken from the project.

use agentledger_domain::reports::ReportEventType;
use sqlx::PgPool;
use sqlx::pool::PoolConnection;
use uuid::Uuid;

use super::{BenchError, StoreRun, Writer, action_payload, timed};

/// The type of the events every peer writes.
const ACTION: &str = ReportEventType::ActionRecorded.into_str();

/// Which peer a run measures.
#[derive(Debug, Clone, Copy)]
pub enum Peer {
    RawInsert,
    MessageDb,
}

impl Peer {
    pub fn name(self) -> &'static str {
        match self {
            Peer::RawInsert => "raw INSERT (floor)",
            Peer::MessageDb => "Message DB design",
        }
    }
}

const SCHEMA: &[&str] = &[
    "DROP TABLE IF EXISTS raw_events",
    "DROP SEQUENCE IF EXISTS raw_positions",
    // The events table as agentledger's migrations made it in this schema:
    // same columns, same indexes and constraints.
    "CREATE TABLE raw_events (LIKE events INCLUDING ALL)",
    "CREATE SEQUENCE raw_positions",
    "ALTER TABLE raw_events ALTER COLUMN position SET DEFAULT nextval('raw_positions')",
    "DROP FUNCTION IF EXISTS mdb_write_message",
    "DROP TABLE IF EXISTS mdb_messages",
    "CREATE TABLE mdb_messages (
        global_position BIGSERIAL   PRIMARY KEY,
        position        BIGINT      NOT NULL,
        time            TIMESTAMP   NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
        stream_name     TEXT        NOT NULL,
        type            TEXT        NOT NULL,
        data            JSONB,
        metadata        JSONB,
        id              UUID        NOT NULL UNIQUE
    )",
    "CREATE UNIQUE INDEX mdb_messages_stream ON mdb_messages (stream_name, position)",
    "CREATE INDEX mdb_messages_category ON mdb_messages (split_part(stream_name, '-', 1), global_position)",
    "CREATE FUNCTION mdb_write_message(
        message_id UUID, stream TEXT, message_type TEXT, message_data JSONB,
        message_metadata JSONB, expected_version BIGINT
    ) RETURNS BIGINT LANGUAGE plpgsql AS $$
    DECLARE
        current BIGINT;
    BEGIN
        -- One writer per category at a time, so a category reads in order.
        PERFORM pg_advisory_xact_lock(hashtextextended(split_part(stream, '-', 1), 0));
        SELECT max(position) INTO current FROM mdb_messages WHERE stream_name = stream;
        current := coalesce(current, -1);
        IF expected_version IS NOT NULL AND expected_version <> current THEN
            RAISE EXCEPTION 'wrong expected version % (stream %, version %)',
                expected_version, stream, current;
        END IF;
        INSERT INTO mdb_messages (id, stream_name, position, type, data, metadata)
        VALUES (message_id, stream, current + 1, message_type, message_data, message_metadata);
        RETURN current + 1;
    END;
    $$",
];

/// Creates (again) the peers' tables and function beside agentledger's
/// events table, which must exist: open the store on the same URL first.
/// A pool of as many connections as the most writers a run uses.
pub async fn connect(url: &str) -> Result<PgPool, sqlx::Error> {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(64)
        .connect(url)
        .await
}

pub async fn prepare(pool: &PgPool) -> Result<(), BenchError> {
    for statement in SCHEMA {
        sqlx::raw_sql(sqlx::AssertSqlSafe(*statement))
            .execute(pool)
            .await
            .map_err(peer_error)?;
    }
    Ok(())
}

fn peer_error(e: sqlx::Error) -> BenchError {
    BenchError::Load(format!("peer: {e}"))
}

/// A writer with a connection of its own, appending to a stream of its own.
struct PeerWriter {
    peer: Peer,
    conn: PoolConnection<sqlx::Postgres>,
    tenant: Uuid,
    stream: String,
    version: i64,
}

#[async_trait::async_trait]
impl Writer for PeerWriter {
    async fn write(&mut self, batch: usize) -> Result<(), BenchError> {
        match self.peer {
            Peer::RawInsert => self.insert(batch).await,
            Peer::MessageDb => self.write_messages(batch).await,
        }
        .map_err(peer_error)
    }
}

impl PeerWriter {
    /// One multi-row `INSERT`, committed on its own.
    async fn insert(&mut self, batch: usize) -> Result<(), sqlx::Error> {
        let now = chrono::Utc::now();
        let rows: Vec<_> = (0..batch)
            .map(|i| {
                self.version += 1;
                (self.version, action_payload(self.tenant, i).to_string())
            })
            .collect();
        let mut insert = sqlx::QueryBuilder::<sqlx::Postgres>::new(
            "INSERT INTO raw_events (event_id, stream_id, stream_version, event_type, schema_version, \
             tenant_id, occurred_at, recorded_at, actor_kind, actor_id, payload, hash) ",
        );
        insert.push_values(&rows, |mut row, (version, payload)| {
            row.push_bind(Uuid::now_v7())
                .push_bind(self.stream.as_str())
                .push_bind(*version)
                .push_bind(ACTION)
                .push_bind(1i32)
                .push_bind(self.tenant)
                .push_bind(now)
                .push_bind(now)
                .push_bind("system")
                .push_bind("bench")
                .push_bind(payload.as_str())
                .push_bind(vec![0u8; 32]);
        });
        insert.build().execute(&mut *self.conn).await?;
        Ok(())
    }

    /// `batch` calls of the write function in one transaction, each with the
    /// version it expects (as a writer that knows its stream would).
    async fn write_messages(&mut self, batch: usize) -> Result<(), sqlx::Error> {
        let mut tx = sqlx::Connection::begin(&mut *self.conn).await?;
        for i in 0..batch {
            sqlx::query("SELECT mdb_write_message($1, $2, $3, $4::jsonb, NULL, $5)")
                .bind(Uuid::now_v7())
                .bind(self.stream.as_str())
                .bind(ACTION)
                .bind(action_payload(self.tenant, i).to_string())
                .bind(self.version)
                .execute(&mut *tx)
                .await?;
            self.version += 1;
        }
        tx.commit().await
    }
}

/// `writers` writers of `peer`, each with a connection of its own.
pub async fn run(
    pool: &PgPool,
    peer: Peer,
    writers: usize,
    batch: usize,
    seconds: f64,
) -> Result<StoreRun, BenchError> {
    let tenant = Uuid::now_v7();
    let mut all = Vec::with_capacity(writers);
    for _ in 0..writers {
        all.push(PeerWriter {
            peer,
            conn: pool.acquire().await.map_err(peer_error)?,
            tenant,
            // All in one category, as one kind of agent reporting would be.
            stream: format!("bench-{}", Uuid::now_v7().simple()),
            version: match peer {
                Peer::RawInsert => 0,
                Peer::MessageDb => -1,
            },
        });
    }
    timed(all, batch, seconds).await
}
