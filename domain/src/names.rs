//! The text of unit enums stored in read models and shown in messages: the
//! same snake_case words serde writes, from one table per enum.

/// `as_str` and `Display` for a unit enum, from its variants' names.
macro_rules! snake_case_names {
    ($ty:ty { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// The variant's name, as serde writes it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name),+
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use snake_case_names;

#[cfg(test)]
mod tests {
    use crate::alert::{AlertSource, AlertStatus, Severity};
    use crate::execution::{ExecutionStatus, StepStatus};
    use crate::instruction::InstructionStatus;
    use crate::reports::{ActionStatus, RunStatus};
    use crate::task::TaskStatus;

    fn same<T: serde::Serialize + std::fmt::Display>(values: &[T]) {
        for v in values {
            assert_eq!(
                serde_json::to_value(v).ok(),
                Some(serde_json::json!(v.to_string()))
            );
        }
    }

    #[test]
    fn names_are_the_words_serde_writes() {
        same(&[ActionStatus::Success, ActionStatus::Failed]);
        same(&[
            RunStatus::Success,
            RunStatus::Failed,
            RunStatus::Timeout,
            RunStatus::CircuitOpen,
        ]);
        same(&[Severity::Info, Severity::Warning, Severity::Critical]);
        same(&[
            AlertSource::LlmRun,
            AlertSource::Task,
            AlertSource::Agent,
            AlertSource::Budget,
            AlertSource::ReadModel,
            AlertSource::Webhook,
        ]);
        same(&[
            AlertStatus::Pending,
            AlertStatus::Acknowledged,
            AlertStatus::Ignored,
        ]);
        same(&[
            TaskStatus::Pending,
            TaskStatus::Claimed,
            TaskStatus::Processing,
            TaskStatus::Completed,
            TaskStatus::Failed,
            TaskStatus::Cancelled,
        ]);
        same(&[
            InstructionStatus::Issued,
            InstructionStatus::Delivered,
            InstructionStatus::Succeeded,
            InstructionStatus::Failed,
            InstructionStatus::TimedOut,
        ]);
        same(&[
            ExecutionStatus::Running,
            ExecutionStatus::Paused,
            ExecutionStatus::Completed,
            ExecutionStatus::Failed,
            ExecutionStatus::Cancelled,
        ]);
        same(&[
            StepStatus::Waiting,
            StepStatus::Running,
            StepStatus::Succeeded,
            StepStatus::Failed,
        ]);
    }
}
