use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Who caused an event. Every stored event names one, so an audit can always
/// answer "who did this".
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: String,
}

impl Actor {
    pub fn new(kind: ActorKind, id: impl Into<String>) -> Self {
        Self {
            kind,
            id: id.into(),
        }
    }

    /// The platform itself: reactors, monitors, migrations.
    pub fn system(id: impl Into<String>) -> Self {
        Self::new(ActorKind::System, id)
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    Agent,
    Operator,
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Agent => "agent",
            ActorKind::Operator => "operator",
            ActorKind::System => "system",
        }
    }
}

impl fmt::Display for ActorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown actor kind `{0}` (expected agent, operator or system)")]
pub struct ParseActorKindError(pub String);

impl FromStr for ActorKind {
    type Err = ParseActorKindError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "agent" => Ok(ActorKind::Agent),
            "operator" => Ok(ActorKind::Operator),
            "system" => Ok(ActorKind::System),
            other => Err(ParseActorKindError(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actor_kind_round_trips_through_its_text_form() {
        for kind in [ActorKind::Agent, ActorKind::Operator, ActorKind::System] {
            assert_eq!(kind.as_str().parse::<ActorKind>().ok(), Some(kind));
        }
        assert!("robot".parse::<ActorKind>().is_err());
    }
}
