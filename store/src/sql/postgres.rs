//! PostgreSQL: the production backend. Positions are assigned under a row lock
//! on `log_head` that is held until commit, so transactions commit in position
//! order and a reader never sees position n+1 before n (see DESIGN.md).

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, QueryBuilder, Transaction};
use uuid::Uuid;

use crate::error::StoreError;
use crate::event::{EventFilter, Position, now};
use crate::sql::backend::Backend;
use crate::sql::engine::BeforeCommit;
use crate::sql::filter::push_filter;
use crate::sql::plan::{Head, Pending, Plan, plan, read_head};
use crate::sql::row::{EventRow, Placement, StreamHead, event_columns};

pub(crate) struct PostgresBackend {
    pub(crate) pool: PgPool,
}

impl PostgresBackend {
    /// Connects to `url` and applies the migrations. A `search_path` given in
    /// the URL (`?options[search_path]=name`) places the ledger in that schema.
    pub async fn connect(
        url: &str,
        max_connections: u32,
        create_missing_schema: bool,
    ) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .connect_with(options)
            .await?;
        if create_missing_schema {
            create_schema(&pool).await?;
        }
        super::migrations::postgres().run(&pool).await?;
        Ok(Self { pool })
    }
}

/// A `search_path` naming a schema that does not exist yet leaves nowhere to
/// create the tables: create its first schema, as SQLite creates its file.
async fn create_schema(pool: &PgPool) -> Result<(), StoreError> {
    if current_schema(pool).await?.is_some() {
        return Ok(());
    }
    let path: String = sqlx::query_scalar("SELECT current_setting('search_path')")
        .fetch_one(pool)
        .await?;
    let first = path
        .split(',')
        .next()
        .unwrap_or_default()
        .trim()
        .trim_matches('"');
    if first.is_empty() || first.starts_with('$') {
        return Ok(());
    }
    let quoted = format!("\"{}\"", first.replace('"', "\"\""));
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE SCHEMA IF NOT EXISTS {quoted}"
    )))
    .execute(pool)
    .await?;
    Ok(())
}

type Tx = Transaction<'static, Postgres>;

/// The steps of one group commit, each a statement on the transaction.
impl PostgresBackend {
    async fn begin(&self) -> Result<(Tx, Head), StoreError> {
        let mut tx = self.pool.begin().await?;
        let head: (i64, Vec<u8>, Option<chrono::DateTime<chrono::Utc>>) =
            sqlx::query_as(concat!(read_head!(), " FOR UPDATE"))
                .fetch_one(&mut *tx)
                .await?;
        Ok((tx, head.into()))
    }

    async fn placements(tx: &mut Tx, ids: &[Uuid]) -> Result<Vec<Placement>, StoreError> {
        // One index probe per id. With `event_id = ANY($1)` the planner
        // turns to a scan of the whole table once the list is long (a group
        // commit of thousands of events), which grows with the log.
        Ok(sqlx::query_as(
            "SELECT found.* FROM UNNEST($1::uuid[]) AS ids(id) CROSS JOIN LATERAL \
             (SELECT event_id, stream_id, stream_version, position FROM events \
             WHERE event_id = ids.id LIMIT 1) AS found",
        )
        .bind(ids.to_vec())
        .fetch_all(&mut **tx)
        .await?)
    }

    async fn stream_heads(tx: &mut Tx, streams: &[&str]) -> Result<Vec<StreamHead>, StoreError> {
        let streams: Vec<String> = streams.iter().map(|s| s.to_string()).collect();
        // The last version of each stream from the end of its index; a
        // `GROUP BY` over the list would read every event of every stream.
        Ok(sqlx::query_as(
            "SELECT named.stream_id, last.version FROM UNNEST($1::text[]) AS named(stream_id) \
             CROSS JOIN LATERAL (SELECT stream_version AS version FROM events \
             WHERE events.stream_id = named.stream_id ORDER BY stream_version DESC LIMIT 1) AS last",
        )
        .bind(streams)
        .fetch_all(&mut **tx)
        .await?)
    }

    async fn insert(tx: &mut Tx, rows: &[EventRow]) -> Result<(), StoreError> {
        // One statement whatever the batch size: every column travels as an array.
        sqlx::query(
            concat!("INSERT INTO events (", event_columns!(), ") \
             SELECT * FROM UNNEST($1::bigint[], $2::uuid[], $3::text[], $4::bigint[], $5::text[], \
             $6::int[], $7::uuid[], $8::timestamptz[], $9::timestamptz[], $10::text[], $11::text[], \
             $12::uuid[], $13::uuid[], $14::text[], $15::bytea[])"),
        )
        .bind(rows.iter().map(|r| r.position).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.event_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.stream_id.clone()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.stream_version).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.event_type.clone()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.schema_version).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.tenant_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.occurred_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.recorded_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.actor_kind.clone()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.actor_id.clone()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.correlation_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.causation_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.payload.clone()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.hash.clone()).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn commit(mut tx: Tx, head: &Head) -> Result<(), StoreError> {
        // The notice goes out with the commit, to the other servers on this
        // log (`notify`), in the statement that moves the head.
        sqlx::query(
            "WITH moved AS (UPDATE log_head SET position = $1, hash = $2 WHERE id = 1 \
             RETURNING position) \
             SELECT pg_notify($3, current_schema() || ' ' || position) FROM moved",
        )
        .bind(head.position)
        .bind(head.hash.clone())
        .bind(crate::sql::notify::CHANNEL)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The schema the tables are in: the first of the `search_path` (the URL's
/// `options[search_path]`) that exists, `None` when none does.
pub(crate) async fn current_schema(pool: &PgPool) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar("SELECT current_schema()")
        .fetch_one(pool)
        .await?)
}

#[async_trait]
impl Backend for PostgresBackend {
    async fn write(
        &self,
        group: Arc<[Pending]>,
        before_commit: Option<BeforeCommit>,
    ) -> Result<Plan, StoreError> {
        let (mut tx, head) = self.begin().await?;
        let ids: Vec<Uuid> = group
            .iter()
            .flat_map(|append| append.events.iter().map(|e| e.event_id))
            .collect();
        let streams: BTreeSet<&str> = group.iter().map(|a| a.stream_id.as_str()).collect();
        let streams: Vec<&str> = streams.into_iter().collect();
        let placements = Self::placements(&mut tx, &ids).await?;
        let stream_heads = Self::stream_heads(&mut tx, &streams).await?;
        let appends: Vec<_> = group.iter().map(Pending::as_append).collect();
        let plan = plan(head, placements, stream_heads, &appends, now());
        if !plan.rows.is_empty() {
            Self::insert(&mut tx, &plan.rows).await?;
            if let Some(hook) = before_commit {
                hook().await;
            }
            Self::commit(tx, &plan.head).await?;
        }
        Ok(plan)
    }

    async fn read_stream(
        &self,
        stream_id: &str,
        from_version: i64,
        limit: i64,
    ) -> Result<Vec<EventRow>, StoreError> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            event_columns!(),
            " FROM events WHERE stream_id = $1 AND stream_version >= $2 \
             ORDER BY stream_version LIMIT $3"
        ))
        .bind(stream_id)
        .bind(from_version)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn read_all(
        &self,
        from_position: i64,
        limit: i64,
        filter: &EventFilter,
    ) -> Result<Vec<EventRow>, StoreError> {
        let mut q = QueryBuilder::<Postgres>::new(concat!(
            "SELECT ",
            event_columns!(),
            " FROM events WHERE position >= "
        ));
        q.push_bind(from_position);
        push_filter(&mut q, filter);
        q.push(" ORDER BY position LIMIT ").push_bind(limit);
        Ok(q.build_query_as().fetch_all(&self.pool).await?)
    }

    async fn head_position(&self) -> Result<Position, StoreError> {
        let position: i64 = sqlx::query_scalar("SELECT position FROM log_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(position as Position)
    }
}
