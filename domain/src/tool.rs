//! Tools agents and workflows call: an HTTP endpoint taking JSON, or an MCP
//! server (streamable HTTP). A tool's definition is versioned: registering
//! makes version 1, each update the next, and every version stays in its
//! stream. A test (an MCP server's tool list, or an HTTP call with a sample
//! input) is recorded with the version it tested. Endpoints follow the
//! outbound address policy of [`crate::address`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::address::AddressPolicy;
use crate::aggregate::Aggregate;
use crate::error::DomainError;
use crate::ids::TenantId;

/// The field name in refusals, so a client can tell which URL was refused.
const ENDPOINT_FIELD: &str = "tool endpoint";
/// The largest input schema, as JSON text: a schema is a contract, not data.
pub const MAX_SCHEMA_BYTES: usize = 64 * 1024;
pub const MAX_DESCRIPTION_BYTES: usize = 4000;
/// How much of an answer a test keeps.
pub const MAX_EXCERPT_BYTES: usize = 4096;
/// How many tools of an MCP server a test keeps.
pub const MAX_OFFERED: usize = 500;

/// How a tool is called.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ToolKind {
    /// `POST` of the input as JSON to the endpoint.
    #[default]
    Http,
    /// An MCP server over streamable HTTP at the endpoint.
    Mcp,
}

impl ToolKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ToolKind::Http => "http",
            ToolKind::Mcp => "mcp",
        }
    }
}

/// What a tool is, as its manager describes it: one version. Unknown
/// fields are refused: a misspelt one (or a secret pasted in) would be
/// dropped without a word.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ToolDefinition {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The JSON Schema its input follows.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub input_schema: Value,
    pub kind: ToolKind,
    pub endpoint: String,
    /// The name of the credentials to call it with, kept where the
    /// operator keeps secrets; never the secret itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_ref: Option<String>,
}

/// A tool an MCP server offers, as its list says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OfferedTool {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub input_schema: Value,
}

/// What a test found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ToolTest {
    /// The version tested.
    pub version: u32,
    pub succeeded: bool,
    pub duration_ms: u64,
    /// An HTTP tool: the status it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// An HTTP tool: the sample input sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// The start of its answer (at most 4 KiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excerpt: Option<String>,
    /// An MCP server: the tools it offers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offered: Option<Vec<OfferedTool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tool {
    pub exists: bool,
    pub tenant_id: TenantId,
    pub definition: ToolDefinition,
    pub version: u32,
    /// Why it may not be called, while it may not.
    pub disabled: Option<String>,
    pub last_test: Option<ToolTest>,
}

#[derive(Debug, Clone)]
pub enum ToolCommand {
    Register {
        tenant_id: TenantId,
        definition: ToolDefinition,
        policy: AddressPolicy,
    },
    /// A new version of the definition.
    Update {
        definition: ToolDefinition,
        policy: AddressPolicy,
    },
    Disable {
        reason: String,
    },
    Enable,
    /// Records what a test of the current version found.
    RecordTest {
        test: ToolTest,
    },
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames, strum::EnumDiscriminants,
)]
#[strum_discriminants(
    name(ToolEventType),
    derive(Hash, strum::IntoStaticStr, strum::VariantArray),
    strum(const_into_str)
)]
#[serde(tag = "type", content = "data")]
pub enum ToolEvent {
    ToolRegistered {
        tenant_id: TenantId,
        definition: ToolDefinition,
    },
    /// Version `version` of the definition.
    ToolUpdated {
        version: u32,
        definition: ToolDefinition,
    },
    ToolDisabled {
        reason: String,
    },
    ToolEnabled,
    ToolTested {
        test: ToolTest,
    },
}

/// A definition the server can keep and call: a name, text without control
/// characters, an input schema that is a JSON Schema (and small), an
/// endpoint the address policy allows.
fn check_definition(definition: &ToolDefinition, policy: AddressPolicy) -> Result<(), DomainError> {
    DomainError::check_label("name", &definition.name)?;
    crate::text::check_text(
        "description",
        Some(&definition.description),
        MAX_DESCRIPTION_BYTES,
    )?;
    if let Some(auth_ref) = &definition.auth_ref {
        DomainError::check_label("auth_ref", auth_ref)?;
    }
    policy.check_url(ENDPOINT_FIELD, &definition.endpoint)?;
    check_schema(&definition.input_schema)
}

/// An input schema: a JSON object that is a valid JSON Schema, at most
/// [`MAX_SCHEMA_BYTES`], its strings following the text rule.
pub fn check_schema(schema: &Value) -> Result<(), DomainError> {
    if !schema.is_object() {
        return Err(DomainError::invalid(
            "input_schema must be a JSON Schema object",
        ));
    }
    if serde_json::to_vec(schema).map_or(usize::MAX, |b| b.len()) > MAX_SCHEMA_BYTES {
        return Err(DomainError::invalid(format!(
            "input_schema exceeds {MAX_SCHEMA_BYTES} bytes"
        )));
    }
    crate::text::check_strings(schema)?;
    jsonschema::meta::validate(schema)
        .map_err(|e| DomainError::invalid(format!("input_schema is not a JSON Schema: {e}")))?;
    // References are resolved within the schema only, never fetched: one
    // that points elsewhere makes the schema unusable, and it is refused.
    jsonschema::validator_for(schema)
        .map(drop)
        .map_err(|e| DomainError::invalid(format!("input_schema cannot be used: {e}")))
}

/// A schema an MCP server offers, fit to be kept in a test: small, its
/// strings following the text rule.
pub fn check_offered_schema(schema: &Value) -> Result<(), DomainError> {
    if serde_json::to_vec(schema).map_or(usize::MAX, |b| b.len()) > MAX_SCHEMA_BYTES {
        return Err(DomainError::invalid(format!(
            "the schema exceeds {MAX_SCHEMA_BYTES} bytes"
        )));
    }
    crate::text::check_strings(schema)
}

/// Refuses `input` that does not follow `schema`, naming where.
pub fn check_input(schema: &Value, input: &Value) -> Result<(), DomainError> {
    let validator = jsonschema::validator_for(schema)
        .map_err(|e| DomainError::invalid(format!("input_schema is not usable: {e}")))?;
    match validator.iter_errors(input).next() {
        None => Ok(()),
        Some(e) => Err(DomainError::invalid(format!(
            "the input does not follow the tool's schema at `{}`: {e}",
            e.instance_path()
        ))),
    }
}

impl Aggregate for Tool {
    type Command = ToolCommand;
    type Event = ToolEvent;
    type Id = uuid::Uuid;
    const STREAM_PREFIX: &'static str = "tool";
    const ENTITY: &'static str = "tool";

    fn owner(&self) -> Option<TenantId> {
        self.exists.then_some(self.tenant_id)
    }

    fn decide(state: &Self, command: ToolCommand) -> Result<Vec<ToolEvent>, DomainError> {
        if !state.exists && !matches!(command, ToolCommand::Register { .. }) {
            return Err(DomainError::NotFound("tool"));
        }
        match command {
            ToolCommand::Register {
                tenant_id,
                definition,
                policy,
            } => {
                if state.exists {
                    return Err(DomainError::AlreadyExists("tool"));
                }
                check_definition(&definition, policy)?;
                Ok(vec![ToolEvent::ToolRegistered {
                    tenant_id,
                    definition,
                }])
            }
            ToolCommand::Update { definition, policy } => {
                check_definition(&definition, policy)?;
                if definition == state.definition {
                    return Ok(vec![]);
                }
                Ok(vec![ToolEvent::ToolUpdated {
                    version: state.version + 1,
                    definition,
                }])
            }
            ToolCommand::Disable { reason } => {
                crate::text::check_name("reason", &reason, 1000)?;
                if state.disabled.is_some() {
                    return Ok(vec![]);
                }
                Ok(vec![ToolEvent::ToolDisabled { reason }])
            }
            ToolCommand::Enable => Ok(if state.disabled.is_some() {
                vec![ToolEvent::ToolEnabled]
            } else {
                vec![]
            }),
            ToolCommand::RecordTest { test } => {
                // A test of a version updated since says nothing of this one.
                if test.version != state.version {
                    return Err(DomainError::InvalidTransition {
                        entity: "tool",
                        action: "record a test of",
                        state: format!("at version {}", state.version),
                    });
                }
                for text in [&test.excerpt, &test.error].into_iter().flatten() {
                    crate::text::check_text("test", Some(text), 2 * MAX_EXCERPT_BYTES)?;
                }
                if let Some(input) = &test.input {
                    crate::text::check_strings(input)?;
                }
                let offered = test.offered.as_deref().unwrap_or_default();
                if offered.len() > MAX_OFFERED {
                    return Err(DomainError::invalid(format!(
                        "a test keeps at most {MAX_OFFERED} offered tools"
                    )));
                }
                for tool in offered {
                    crate::text::check_text("offered tool", Some(&tool.name), MAX_EXCERPT_BYTES)?;
                    crate::text::check_text(
                        "offered tool",
                        tool.description.as_deref(),
                        MAX_EXCERPT_BYTES,
                    )?;
                    check_offered_schema(&tool.input_schema)?;
                }
                Ok(vec![ToolEvent::ToolTested { test }])
            }
        }
    }

    fn evolve(mut state: Self, event: &ToolEvent) -> Self {
        match event {
            ToolEvent::ToolRegistered {
                tenant_id,
                definition,
            } => {
                state.exists = true;
                state.tenant_id = *tenant_id;
                state.definition = definition.clone();
                state.version = 1;
            }
            ToolEvent::ToolUpdated {
                version,
                definition,
            } => {
                state.definition = definition.clone();
                state.version = *version;
            }
            ToolEvent::ToolDisabled { reason } => state.disabled = Some(reason.clone()),
            ToolEvent::ToolEnabled => state.disabled = None,
            ToolEvent::ToolTested { test } => state.last_test = Some(test.clone()),
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{given, given_no_events};
    use serde_json::json;

    fn definition(endpoint: &str) -> ToolDefinition {
        ToolDefinition {
            name: "weather".into(),
            description: "Today's weather for a city".into(),
            input_schema: json!({
                "type": "object",
                "properties": { "city": { "type": "string" } },
                "required": ["city"]
            }),
            kind: ToolKind::Http,
            endpoint: endpoint.into(),
            auth_ref: Some("weather-api-key".into()),
        }
    }

    fn registered() -> ToolEvent {
        ToolEvent::ToolRegistered {
            tenant_id: TenantId(uuid::Uuid::nil()),
            definition: definition("https://tools.example.com/weather"),
        }
    }

    #[test]
    fn a_tool_is_registered_at_version_one_and_each_update_is_the_next() {
        let tool = given_no_events::<Tool>()
            .when(ToolCommand::Register {
                tenant_id: TenantId(uuid::Uuid::nil()),
                definition: definition("https://tools.example.com/weather"),
                policy: AddressPolicy::default(),
            })
            .then([registered()]);
        assert_eq!(tool.version, 1);
        let changed = definition("https://tools.example.com/weather/v2");
        let tool = given::<Tool>([registered()])
            .when(ToolCommand::Update {
                definition: changed.clone(),
                policy: AddressPolicy::default(),
            })
            .then([ToolEvent::ToolUpdated {
                version: 2,
                definition: changed,
            }]);
        assert_eq!(tool.version, 2);
        given::<Tool>([registered()])
            .when(ToolCommand::Update {
                definition: definition("https://tools.example.com/weather"),
                policy: AddressPolicy::default(),
            })
            .then_nothing_happens();
    }

    #[test]
    fn a_definition_needs_a_real_schema_a_clean_name_and_an_allowed_endpoint() {
        let refused = |definition: ToolDefinition| {
            given_no_events::<Tool>()
                .when(ToolCommand::Register {
                    tenant_id: TenantId(uuid::Uuid::nil()),
                    definition,
                    policy: AddressPolicy::default(),
                })
                .then_refused(|e| matches!(e, DomainError::Invalid(_)));
        };
        refused(definition("http://169.254.169.254/latest"));
        refused(definition("http://127.0.0.1:8080/"));
        refused(ToolDefinition {
            name: "bad\u{0}name".into(),
            ..definition("https://tools.example.com/x")
        });
        refused(ToolDefinition {
            input_schema: json!({ "type": "no-such-type" }),
            ..definition("https://tools.example.com/x")
        });
        refused(ToolDefinition {
            input_schema: json!({ "$ref": "http://169.254.169.254/latest/schema.json" }),
            ..definition("https://tools.example.com/x")
        });
        refused(ToolDefinition {
            input_schema: json!(["not", "an", "object"]),
            ..definition("https://tools.example.com/x")
        });
        refused(ToolDefinition {
            input_schema: json!({ "description": "x".repeat(MAX_SCHEMA_BYTES) }),
            ..definition("https://tools.example.com/x")
        });
    }

    #[test]
    fn a_test_is_recorded_against_the_version_it_tested() {
        let test = |version| ToolTest {
            version,
            succeeded: true,
            duration_ms: 12,
            status_code: Some(200),
            input: Some(json!({ "city": "Lisbon" })),
            excerpt: Some("{\"sunny\":true}".into()),
            offered: None,
            error: None,
            at: DateTime::<Utc>::UNIX_EPOCH,
        };
        given::<Tool>([registered()])
            .when(ToolCommand::RecordTest { test: test(1) })
            .then([ToolEvent::ToolTested { test: test(1) }]);
        given::<Tool>([registered()])
            .when(ToolCommand::RecordTest { test: test(2) })
            .then_refused(|e| matches!(e, DomainError::InvalidTransition { .. }));
    }

    #[test]
    fn inputs_are_checked_against_the_schema() {
        let schema = definition("https://tools.example.com/x").input_schema;
        assert!(check_input(&schema, &json!({ "city": "Porto" })).is_ok());
        let refused = check_input(&schema, &json!({ "city": 7 }));
        assert!(
            matches!(&refused, Err(DomainError::Invalid(why)) if why.contains("/city")),
            "{refused:?}"
        );
        assert!(check_input(&schema, &json!({})).is_err());
    }
}
