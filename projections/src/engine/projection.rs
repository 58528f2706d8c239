//! What a projection is: the `Projection` and `Apply` traits, the error they
//! report, `sql_projection!` to implement `Apply` for both backends, and the
//! events they are given (`Decoded`, read with `decode_event`).

use std::any::Any;
use std::ops::Deref;
use std::sync::OnceLock;

use agentledger_domain::Event;
use agentledger_domain::codec::{CodecError, decode_if};
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
        events: &[Decoded<'_>],
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
                $events: &[$crate::engine::Decoded<'_>],
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
                $events: &[$crate::engine::Decoded<'_>],
            ) -> Result<(), $crate::engine::ProjectionError> {
                let $this = self;
                $body
            }
        }
    };
}

/// An event of a batch as the models are given it: the recorded event, and
/// its typed form once a model has decoded it. Every model of a batch is
/// given the same `Decoded`s, so a report, which four or five models read, is
/// decoded from its payload once rather than by each of them.
pub struct Decoded<'a> {
    recorded: &'a RecordedEvent,
    typed: OnceLock<Box<dyn Any + Send + Sync>>,
}

impl<'a> Decoded<'a> {
    pub fn new(recorded: &'a RecordedEvent) -> Self {
        Self {
            recorded,
            typed: OnceLock::new(),
        }
    }

    pub fn all(events: &'a [RecordedEvent]) -> Vec<Self> {
        events.iter().map(Self::new).collect()
    }
}

impl Deref for Decoded<'_> {
    type Target = RecordedEvent;

    fn deref(&self) -> &RecordedEvent {
        self.recorded
    }
}

/// The event as `E` when its type is one of `E`'s, `None` when it is another
/// enum's; an error naming its position when it is `E`'s but does not decode.
/// A payload stored at an older schema version is upcast first. The typed
/// event is kept with the `Decoded` for the other models of the batch: a
/// type name belongs to one enum only (the catalogue's tests hold it), so
/// one slot is enough.
pub fn decode_event<'e, E: Event>(
    event: &'e Decoded<'_>,
) -> Result<Option<&'e E>, ProjectionError> {
    let typed = match event.typed.get() {
        Some(typed) => typed,
        None => match decode_recorded::<E>(event)? {
            Some(decoded) => event.typed.get_or_init(|| Box::new(decoded)),
            None => return Ok(None),
        },
    };
    match typed.downcast_ref::<E>() {
        Some(typed) => Ok(Some(typed)),
        // The slot holds another enum's reading of a type `E` names too.
        None if E::VARIANTS.contains(&event.event_type.as_str()) => Err(ProjectionError::Event {
            position: event.position,
            source: CodecError::Decode {
                event_type: event.event_type.clone(),
                reason: "the type is named by two event enums".into(),
            },
        }),
        None => Ok(None),
    }
}

/// `decode_event` for an event read on its own, outside a batch of models.
pub fn decode_recorded<E: Event>(event: &RecordedEvent) -> Result<Option<E>, ProjectionError> {
    decode_if(&event.event_type, event.schema_version, &event.payload).map_err(|source| {
        ProjectionError::Event {
            position: event.position,
            source,
        }
    })
}
