//! Appending events by hand, for admins: a migration from another system, a
//! correction recorded as a new event. Each event is checked as the command
//! handlers check what they append, so a hand-written event can neither stop
//! a read model nor make an aggregate's stream unreadable.

use agentledger_domain::{DomainError, catalogue, history, text};
use agentledger_store::{AppendOutcome, ExpectedVersion, NewEvent};

use crate::app::App;
use crate::caller::Operator;
use crate::error::AppError;

/// Appends `events` to `stream_id` as one all-or-nothing append.
pub async fn append(
    app: &App,
    operator: &Operator,
    stream_id: &str,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
) -> Result<AppendOutcome, AppError> {
    operator.require_admin()?;
    check(stream_id, &events).map_err(agentledger_commands::CommandError::from)?;
    Ok(app.store.append(stream_id, expected, events).await?)
}

/// Text the read models can store, a payload that decodes when its type is
/// one of the domain's (else every model applying that type would stop at
/// it), and on an aggregate's stream only that aggregate's events (its state
/// is folded from them, by `/state` and by commands, and one it cannot decode
/// would make the stream unreadable for good); each at the schema version it
/// will be stored at.
fn check(stream_id: &str, events: &[NewEvent]) -> Result<(), DomainError> {
    text::check_name("stream id", stream_id, 200)?;
    let mut folder = history::folder(stream_id).ok();
    for (index, event) in events.iter().enumerate() {
        let at = |e: String| DomainError::invalid(format!("event {index}: {e}"));
        text::check_name("event_type", &event.event_type, 100).map_err(|e| at(e.to_string()))?;
        text::check_name("actor id", &event.actor.id, 200).map_err(|e| at(e.to_string()))?;
        text::check_strings(&event.payload).map_err(|e| at(e.to_string()))?;
        catalogue::check(&event.event_type, event.schema_version, &event.payload)
            .map_err(|e| at(e.to_string()))?;
        if let Some(folder) = folder.as_mut() {
            folder
                .apply_at(&event.event_type, event.schema_version, &event.payload)
                .map_err(|e| at(e.to_string()))?;
        }
    }
    Ok(())
}
