//! The event catalogue: every event type the domain defines, with the names
//! generated from the event enums themselves (`strum::VariantNames`), so no
//! list of type names is written by hand.

use serde_json::Value;
use strum::VariantNames;

use crate::codec::{CodecError, decode};

/// The event enums of the domain, each once: `types` and `check` are both
/// made from this list.
macro_rules! catalogue {
    ($($ty:ty),+ $(,)?) => {
        /// Every event type name, each enum's in declaration order.
        pub fn types() -> Vec<&'static str> {
            let mut all = Vec::new();
            $(all.extend_from_slice(<$ty as VariantNames>::VARIANTS);)+
            all
        }

        /// Checks a payload offered under a type of the catalogue: it must
        /// decode as that event, or the read models that apply the type could
        /// not. A type outside the catalogue is not the domain's and passes.
        pub fn check(event_type: &str, payload: &Value) -> Result<(), CodecError> {
            $(
                if <$ty as VariantNames>::VARIANTS.contains(&event_type) {
                    return decode::<$ty>(event_type, payload).map(|_| ());
                }
            )+
            Ok(())
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
    crate::dispatch::DispatchEvent,
    crate::dispatch::TemplateEvent,
    crate::reports::ReportEvent,
    crate::task::TaskEvent,
    crate::tenant::TenantEvent,
    crate::tenant::InstallationEvent,
    crate::webhook::WebhookEvent,
);

pub fn is_known(event_type: &str) -> bool {
    types().contains(&event_type)
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
        assert!(check(&event_type, &payload).is_ok());
        let mut names = types();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "two enums share an event type name");
    }

    #[test]
    fn a_catalogued_type_must_decode_and_others_pass() {
        assert!(check("ActionRecorded", &json!({ "action": 1 })).is_err());
        assert!(check("SomethingOfAnotherSystem", &json!({ "x": 1 })).is_ok());
        assert!(!is_known("NoSuchEvent"));
    }
}
