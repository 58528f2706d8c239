//! What a projection is: the `Projection` and `Apply` traits, the error they
//! report, `sql_projection!` to implement `Apply` for both backends, and `decode_event`.

use agentledger_domain::Event;
use agentledger_domain::codec::decode_if;
use agentledger_store::{Position, RecordedEvent, StoreError};
use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("read model database: {0}")]
    Database(#[from] sqlx::Error),
    /// An event of a type the model applies whose payload does not decode:
    /// the model stops there rather than pass over it.
    #[error("cannot apply the event at position {position}: {source}")]
    Event {
        position: Position,
        source: agentledger_domain::codec::CodecError,
    },
    /// A row the model holds that does not read back as what it stood for.
    #[error("read model row: {0}")]
    Row(String),
    #[error("no projection named `{0}`")]
    Unknown(String),
    #[error("the read model was reset to position {checkpoint}; reading again from there")]
    Behind { checkpoint: Position },
}

/// Applies events to a read model on one backend's connection, inside the
/// runner's transaction. Implement it for both backends with `sql_projection!`.
#[async_trait]
pub trait Apply<Connection: Send>: Send + Sync {
    async fn apply(
        &self,
        conn: &mut Connection,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError>;
}

pub trait Projection:
    Apply<sqlx::SqliteConnection> + Apply<sqlx::PgConnection> + Send + Sync + 'static
{
    fn name(&self) -> &'static str;
    /// The tables it owns: emptied by a rebuild.
    fn tables(&self) -> &'static [&'static str];
    /// The event types it applies; empty when it looks at every event. The
    /// runner still reads the whole log (the checkpoint passes every event);
    /// a scratch model built for one request reads only these.
    fn event_types(&self) -> &'static [&'static str] {
        &[]
    }
}

/// Implements `Apply` for both backends from one body, written with SQL that
/// both accept (`$n` placeholders in order of first use).
#[macro_export]
macro_rules! sql_projection {
    ($ty:ty, |$this:ident, $conn:ident, $events:ident| $body:block) => {
        #[async_trait::async_trait]
        impl $crate::engine::Apply<sqlx::SqliteConnection> for $ty {
            async fn apply(
                &self,
                $conn: &mut sqlx::SqliteConnection,
                $events: &[agentledger_store::RecordedEvent],
            ) -> Result<(), $crate::engine::ProjectionError> {
                let $this = self;
                $body
            }
        }
        #[async_trait::async_trait]
        impl $crate::engine::Apply<sqlx::PgConnection> for $ty {
            async fn apply(
                &self,
                $conn: &mut sqlx::PgConnection,
                $events: &[agentledger_store::RecordedEvent],
            ) -> Result<(), $crate::engine::ProjectionError> {
                let $this = self;
                $body
            }
        }
    };
}

/// The event as `E` when its type is one of `E`'s, `None` when it is another
/// enum's; an error naming its position when it is `E`'s but does not decode.
/// A payload stored at an older schema version is upcast first.
pub fn decode_event<E: Event>(event: &RecordedEvent) -> Result<Option<E>, ProjectionError> {
    decode_if(&event.event_type, event.schema_version, &event.payload).map_err(|source| {
        ProjectionError::Event {
            position: event.position,
            source,
        }
    })
}
