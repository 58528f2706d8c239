//! Given/when/then for aggregates: given the events a stream holds, when a
//! command is decided, then these events (or this refusal). A test reads as
//! the rule it checks, and checks `decide` and `evolve` together:
//!
//! ```
//! use agentledger_domain::testing::given;
//! use agentledger_domain::budget::{Budget, BudgetCommand, BudgetEvent, BudgetScope, Limits, Rule};
//!
//! let limits = Limits { daily_tokens: Some(1000), ..Limits::default() };
//! given::<Budget>([BudgetEvent::BudgetSet(limits)])
//!     .when(BudgetCommand::Change { scope: BudgetScope::Tenant, changes: Default::default() })
//!     .then_nothing_happens();
//! ```

use std::fmt::Debug;

use crate::aggregate::Aggregate;
use crate::error::DomainError;

/// A stream holding `events`, folded into its state.
pub fn given<A: Aggregate>(events: impl IntoIterator<Item = A::Event>) -> Given<A> {
    let events: Vec<A::Event> = events.into_iter().collect();
    Given {
        state: A::fold(&events),
    }
}

/// A stream that holds nothing yet.
pub fn given_no_events<A: Aggregate>() -> Given<A> {
    Given {
        state: A::default(),
    }
}

pub struct Given<A: Aggregate> {
    state: A,
}

impl<A: Aggregate> Given<A> {
    /// Also holding `event`, in the order written.
    pub fn and(self, event: A::Event) -> Self {
        Self {
            state: A::evolve(self.state, &event),
        }
    }

    pub fn when(self, command: A::Command) -> Then<A> {
        let decided = A::decide(&self.state, command);
        Then {
            state: self.state,
            decided,
        }
    }
}

/// What was decided, to be checked.
#[must_use = "a decision is only checked by one of the `then` methods"]
pub struct Then<A: Aggregate> {
    state: A,
    decided: Result<Vec<A::Event>, DomainError>,
}

impl<A: Aggregate> Then<A>
where
    A::Event: PartialEq + Debug,
{
    /// The command was decided into exactly `expected`; returns the state
    /// after them, for further checks.
    #[track_caller]
    pub fn then(self, expected: impl IntoIterator<Item = A::Event>) -> A {
        let expected: Vec<A::Event> = expected.into_iter().collect();
        let events = self.accepted();
        assert_eq!(events, expected, "the events decided");
        events.iter().fold(self.state, A::evolve)
    }

    /// The command was accepted and changed nothing: a repeat, say.
    #[track_caller]
    pub fn then_nothing_happens(self) {
        let events = self.accepted();
        assert!(events.is_empty(), "expected no events, got {events:?}");
    }

    /// The command was accepted; its events are for `check` to look at, and
    /// the state after them is returned.
    #[track_caller]
    pub fn then_events(self, check: impl FnOnce(&[A::Event])) -> A {
        let events = self.accepted();
        check(&events);
        events.iter().fold(self.state, A::evolve)
    }

    /// The command was refused with an error `refused` accepts.
    #[track_caller]
    pub fn then_refused(self, refused: impl FnOnce(&DomainError) -> bool) -> DomainError {
        match self.decided {
            Err(error) if refused(&error) => error,
            Err(error) => panic!("refused, but not as expected: {error:?}"),
            Ok(events) => panic!("expected a refusal, got {events:?}"),
        }
    }

    #[track_caller]
    fn accepted(&self) -> Vec<A::Event> {
        match &self.decided {
            Ok(events) => events.clone(),
            Err(error) => panic!("the command was refused: {error:?}"),
        }
    }
}
