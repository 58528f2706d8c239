//! Lifecycle commands: an operator starts, stops, restarts or upgrades an
//! agent, or replaces its certificate; the agent is handed the command with
//! its others when it polls, and reports how far it got before its result.

use agentledger_app::caller::{AgentCaller, Operator};
use agentledger_app::instructions;
use agentledger_domain::ids::AgentId;
use agentledger_domain::lifecycle::LifecycleAction;
use axum::Json as Reply;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::extract::{Json, Path};
use crate::problem::Problem;
use crate::routes::instructions::CommandIssued;
use crate::routes::operators::Done;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(issue_lifecycle))
        .routes(routes!(progress))
}

/// The action, named by `action` with its fields beside it, and how long
/// the agent has to carry it out: `timeout_seconds`, 1 to 86400, 1800 (30
/// minutes) when absent. Its schema is written out (`document` below).
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum IssueLifecycle {
    Start {
        timeout_seconds: Option<u32>,
    },
    Stop {
        timeout_seconds: Option<u32>,
    },
    Restart {
        timeout_seconds: Option<u32>,
    },
    Upgrade {
        version: String,
        package_url: String,
        checksum: String,
        timeout_seconds: Option<u32>,
    },
    UpdateCertificate {
        certificate_pem: String,
        timeout_seconds: Option<u32>,
    },
}

impl IssueLifecycle {
    /// The action and the timeout asked for.
    fn into_parts(self) -> (LifecycleAction, Option<u32>) {
        match self {
            Self::Start { timeout_seconds } => (LifecycleAction::Start, timeout_seconds),
            Self::Stop { timeout_seconds } => (LifecycleAction::Stop, timeout_seconds),
            Self::Restart { timeout_seconds } => (LifecycleAction::Restart, timeout_seconds),
            Self::Upgrade {
                version,
                package_url,
                checksum,
                timeout_seconds,
            } => (
                LifecycleAction::Upgrade {
                    version,
                    package_url,
                    checksum,
                },
                timeout_seconds,
            ),
            Self::UpdateCertificate {
                certificate_pem,
                timeout_seconds,
            } => (
                LifecycleAction::UpdateCertificate { certificate_pem },
                timeout_seconds,
            ),
        }
    }
}

/// The request's schema, written out: one object per action, each saying
/// that no other field is taken (`additionalProperties: false`), as the
/// server refuses one. A derived schema cannot say so of an enum's variants,
/// and variants wrapping structs come out as `allOf`s generated clients and
/// fuzzers cannot read.
mod document {
    use std::borrow::Cow;

    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{
        AdditionalProperties, Object, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
    };
    use utoipa::{PartialSchema, ToSchema};

    use super::IssueLifecycle;

    fn text(description: &str) -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(description))
    }

    fn action(name: &str, description: &str, fields: Vec<(&str, ObjectBuilder)>) -> Object {
        let timeout = ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
            .minimum(Some(1))
            .maximum(Some(86_400))
            .description(Some("Seconds the agent has, 1800 when absent"));
        let mut object = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(description))
            .property(
                "action",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some([name])),
            )
            .required("action")
            .property("timeout_seconds", timeout)
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        for (field, schema) in fields {
            object = object.property(field, schema).required(field);
        }
        object.build()
    }

    impl PartialSchema for IssueLifecycle {
        fn schema() -> RefOr<Schema> {
            let upgrade = vec![
                ("version", text("1 to 64 characters, no control character")),
                (
                    "package_url",
                    text(
                        "An absolute `https` or `http` URL of at most 2048 bytes, without credentials; only the agent fetches it",
                    ),
                ),
                ("checksum", text("`sha256:` and 64 hexadecimal digits")),
            ];
            let certificate = vec![(
                "certificate_pem",
                text("PEM `CERTIFICATE` blocks only, at most 64 KiB; a private key is refused"),
            )];
            OneOfBuilder::new()
                .item(action("start", "Start the agent", vec![]))
                .item(action("stop", "Stop the agent", vec![]))
                .item(action("restart", "Restart the agent", vec![]))
                .item(action(
                    "upgrade",
                    "Install `version`: the agent downloads `package_url` and installs it only if its SHA-256 is `checksum`",
                    upgrade,
                ))
                .item(action(
                    "update_certificate",
                    "Replace the agent's certificate (and chain)",
                    certificate,
                ))
                .into()
        }
    }

    impl ToSchema for IssueLifecycle {
        fn name() -> Cow<'static, str> {
            Cow::Borrowed("IssueLifecycle")
        }
    }
}

/// Issued as a command named after the action (`upgrade`…) with the
/// action's fields as `args` (a certificate's with its count and SHA-256
/// fingerprint), so it shows in the agent's command history; the poll hands
/// it over with the typed `action` too.
#[utoipa::path(
    post,
    path = "/api/v1/agents/{agent_id}/lifecycle",
    operation_id = "issue_lifecycle_command",
    tag = "commands",
    summary = "Start, stop, restart or upgrade an agent, or replace its certificate",
    params(("agent_id" = uuid::Uuid, Path)),
    request_body = IssueLifecycle,
    responses((status = 201, description = "Issued; the agent is handed it when it polls", body = CommandIssued), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn issue_lifecycle(
    State(state): State<AppState>,
    operator: Operator,
    Path(agent_id): Path<AgentId>,
    Json(body): Json<IssueLifecycle>,
) -> Result<(StatusCode, Reply<CommandIssued>), Problem> {
    let (action, timeout_seconds) = body.into_parts();
    let (command_id, position) =
        instructions::issue_lifecycle(&state, &operator, agent_id, action, timeout_seconds).await?;
    Ok((
        StatusCode::CREATED,
        Reply(CommandIssued {
            command_id,
            position,
        }),
    ))
}

#[derive(Debug, utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandProgress {
    /// What the agent is doing (`download`, `install`…): 1 to 100 bytes, no
    /// control character.
    pub stage: String,
    /// How far along that stage is.
    #[schema(maximum = 100)]
    pub percent: u8,
}

/// Only on a lifecycle command issued to the calling agent, once it is
/// delivered and until it is finished or timed out; every report stays in
/// the command's detail, the latest shows in the history.
#[utoipa::path(
    post,
    path = "/api/v1/agents/me/commands/{command_id}/progress",
    operation_id = "command_progress",
    tag = "commands",
    summary = "Report progress on a lifecycle command",
    params(("command_id" = uuid::Uuid, Path)),
    request_body = CommandProgress,
    responses((status = 200, description = "Recorded", body = Done), crate::openapi::Problems),
    security(("agent_token" = [])),
)]
async fn progress(
    State(state): State<AppState>,
    caller: AgentCaller,
    Path(command_id): Path<Uuid>,
    Json(body): Json<CommandProgress>,
) -> Result<Reply<Done>, Problem> {
    let position =
        instructions::progress(&state, &caller, command_id, body.stage, body.percent).await?;
    Ok(Reply(Done { position }))
}
