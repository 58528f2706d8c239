/// Why a command was refused. Each variant maps to one HTTP status and
/// problem type, so callers can tell them apart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
    /// The command is not allowed in the aggregate's current state.
    #[error("cannot {action} a {entity} that is {state}")]
    InvalidTransition {
        entity: &'static str,
        action: &'static str,
        state: String,
    },
    #[error("{0}")]
    Forbidden(String),
    /// The object's time to act on it has passed.
    #[error("the {0} has expired")]
    Expired(&'static str),
    #[error("{0}")]
    Invalid(String),
}

impl DomainError {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(message.into())
    }

    /// A short name given by a client (an agent's name, an action, a model):
    /// not blank, at most 100 bytes, no control character (`crate::text`).
    pub fn check_label(what: &str, value: &str) -> Result<(), Self> {
        crate::text::check_name(what, value, 100)
    }
}
