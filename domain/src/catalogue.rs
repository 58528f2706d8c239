//! The event catalogue: every event type the domain defines, with the names
//! generated from the event enums themselves (`strum::VariantNames`, and the
//! `…Type` enums of `strum::EnumDiscriminants`), so no list of type names is
//! written by hand.

use serde_json::Value;
use strum::VariantNames;

use crate::codec::{CodecError, decode};

/// The event enums of the domain, each once: `types`, `check` and the
/// `Event` impls are all made from this list.
macro_rules! catalogue {
    ($($ty:ty),+ $(,)?) => {
        $(
            impl crate::event::Event for $ty {
                type Type = <$ty as strum::IntoDiscriminant>::Discriminant;

                fn event_type(&self) -> &'static str {
                    strum::IntoDiscriminant::discriminant(self).into_str()
                }
            }
        )+

        /// Every event type name, each enum's in declaration order.
        pub fn types() -> Vec<&'static str> {
            let mut all = Vec::new();
            $(all.extend_from_slice(<$ty as VariantNames>::VARIANTS);)+
            all
        }

        /// Checks a payload offered under a type of the catalogue at a schema
        /// version: it must decode as that event, or the read models that
        /// apply the type could not. A type outside the catalogue is not the
        /// domain's and passes.
        pub fn check(
            event_type: &str,
            schema_version: i32,
            payload: &Value,
        ) -> Result<(), CodecError> {
            $(
                if <$ty as VariantNames>::VARIANTS.contains(&event_type) {
                    return decode::<$ty>(event_type, schema_version, payload).map(|_| ());
                }
            )+
            Ok(())
        }

        #[cfg(test)]
        #[test]
        fn both_generated_name_lists_agree() {
            use strum::VariantArray;
            $(
                let typed: Vec<&'static str> =
                    <<$ty as crate::event::Event>::Type as VariantArray>::VARIANTS
                        .iter()
                        .map(|t| (*t).into())
                        .collect();
                assert_eq!(typed, <$ty as VariantNames>::VARIANTS, "{}", stringify!($ty));
            )+
        }
    };
}

catalogue!(
    crate::agent::AgentEvent,
    crate::alert::AlertEvent,
    crate::api_key::ApiKeyEvent,
    crate::budget::BudgetEvent,
    crate::budget::BatchEvent,
    crate::cache::CacheEvent,
    crate::dedup::DedupEvent,
    crate::delivery::DeliveryEvent,
    crate::enrollment::EnrollmentTokenEvent,
    crate::execution::ExecutionEvent,
    crate::instruction::InstructionEvent,
    crate::instruction::TemplateEvent,
    crate::reports::ReportEvent,
    crate::task::TaskEvent,
    crate::tenant::TenantEvent,
    crate::tenant::InstallationEvent,
    crate::tool::ToolEvent,
    crate::webhook::WebhookEvent,
    crate::workflow::WorkflowEvent,
);

pub fn is_known(event_type: &str) -> bool {
    types().contains(&event_type)
}

/// Refuses a list naming a type outside the catalogue, naming the first
/// such (without control characters, at most 100 of them): a misspelt
/// type would never match anything, and nobody would know why.
pub fn check_known(what: &str, types: &[String]) -> Result<(), crate::DomainError> {
    match types.iter().find(|t| !is_known(t)) {
        Some(unknown) => Err(crate::DomainError::invalid(format!(
            "{what}: `{}` is not an event type of agentledger",
            unknown
                .chars()
                .filter(|c| !c.is_control())
                .take(100)
                .collect::<String>()
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::encode;
    use crate::ids::AgentId;
    use crate::reports::ReportEvent;
    use serde_json::json;

    #[test]
    fn names_are_the_stored_event_types_and_each_is_one_enums() {
        let (event_type, payload) = encode(&ReportEvent::ActionRecorded {
            agent_id: AgentId::new(),
            action: "a".into(),
            resource_type: "r".into(),
            resource_id: None,
            status: crate::reports::ActionStatus::Success,
            confidence: None,
            reasoning: None,
            request_data: None,
            execution_time_ms: None,
        })
        .expect("encodes");
        assert!(is_known(&event_type));
        assert!(check(&event_type, 1, &payload).is_ok());
        let mut names = types();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "two enums share an event type name");
    }

    #[test]
    fn a_catalogued_type_must_decode_and_others_pass() {
        assert!(check("ActionRecorded", 1, &json!({ "action": 1 })).is_err());
        assert!(check("ActionRecorded", 2, &json!({})).is_err());
        assert!(check("SomethingOfAnotherSystem", 7, &json!({ "x": 1 })).is_ok());
        assert!(!is_known("NoSuchEvent"));
    }
}
