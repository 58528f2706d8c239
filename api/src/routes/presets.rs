//! Agent presets: ready-made profiles operators read, and register agents
//! from.

use agentledger_app::caller::Operator;
use agentledger_app::presets;
use agentledger_domain::preset::Preset;
use axum::Json as Reply;
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::extract::{Json, Path};
use crate::problem::Problem;
use crate::routes::agents::{AgentSecret, secret_shown_once};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(agent_presets))
        .routes(routes!(register_from_preset))
}

/// A ready-made agent profile.
#[derive(Debug, utoipa::ToSchema, Serialize, Deserialize)]
pub struct AgentPreset {
    /// Names it in `POST /api/v1/agent-presets/{name}/agents` and on an
    /// enrollment token; also the name an agent registered from it gets
    /// when none is given.
    pub name: String,
    pub kind: String,
    /// The `app_type` of the LLM runs such an agent reports.
    pub app_type: String,
    /// Actions such an agent typically records.
    pub actions: Vec<String>,
    /// What an agent registered from it may do.
    pub permissions: Vec<String>,
    pub description: String,
}

impl From<&Preset> for AgentPreset {
    fn from(preset: &Preset) -> Self {
        Self {
            name: preset.name.to_owned(),
            kind: preset.kind.to_owned(),
            app_type: preset.app_type.to_owned(),
            actions: preset.actions.iter().map(|a| (*a).to_owned()).collect(),
            permissions: preset.permissions(),
            description: preset.description.to_owned(),
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/agent-presets",
    operation_id = "agent_presets",
    tag = "agents",
    summary = "Agent presets",
    responses((status = 200, description = "Every preset", body = Vec<AgentPreset>), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn agent_presets(operator: Operator) -> Reply<Vec<AgentPreset>> {
    Reply(
        presets::list(&operator)
            .iter()
            .map(AgentPreset::from)
            .collect(),
    )
}

#[derive(Debug, utoipa::ToSchema, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FromPreset {
    /// The agent's name; the preset's name when absent.
    pub name: Option<String>,
}

/// Registers an agent of the caller's tenant with the preset's kind and
/// permissions (and the default rate limit), answered as
/// `POST /api/v1/agents` is: its id and its secret, shown once.
#[utoipa::path(
    post,
    path = "/api/v1/agent-presets/{name}/agents",
    operation_id = "register_from_preset",
    tag = "agents",
    summary = "Register an agent from a preset",
    params(("name" = String, Path, description = "The preset's name")),
    request_body(content = Option<FromPreset>, description = "Optional"),
    responses((status = 201, description = "The secret is shown once", body = AgentSecret), crate::openapi::Problems),
    security(("operator_key" = [])),
)]
async fn register_from_preset(
    State(state): State<AppState>,
    operator: Operator,
    Path(name): Path<String>,
    body: Option<Json<FromPreset>>,
) -> Result<Response, Problem> {
    let agent_name = body.and_then(|Json(b)| b.name);
    let registered = presets::register(&state, &operator, &name, agent_name).await?;
    Ok(secret_shown_once(registered))
}
