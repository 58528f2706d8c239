//! Checkpoints of reactors: consumers that act on the log (append events
//! through commands) instead of folding it into tables. A reactor saves its
//! position with the state it needs after acting; its actions carry ids
//! derived from their causes, so the events between the saved position and a
//! crash are acted on again without effect.

use agentledger_store::{Database, Position, on_database};

use crate::engine::ProjectionError;

/// The saved position and state of the reactor `name`, if it ever saved.
pub async fn load(
    db: &Database,
    name: &str,
) -> Result<Option<(Position, String)>, ProjectionError> {
    let row: Option<(i64, String)> = on_database!(db, p => sqlx::query_as(
        "SELECT position, state FROM reactor_checkpoints WHERE name = $1"
    )
    .bind(name)
    .fetch_optional(p)
    .await?);
    Ok(row.map(|(position, state)| (position.max(0) as Position, state)))
}

pub async fn save(
    db: &Database,
    name: &str,
    position: Position,
    state: &str,
) -> Result<(), ProjectionError> {
    let _turn = db.write_turn().await;
    on_database!(db, p => sqlx::query(
        "INSERT INTO reactor_checkpoints (name, position, state) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET position = excluded.position, state = excluded.state"
    )
    .bind(name)
    .bind(position as i64)
    .bind(state)
    .execute(p)
    .await
    .map(|_| ())?);
    Ok(())
}
