//! Tools: operators who may run commands register, update, disable and
//! test them; operators and agents read them. A test calls the tool as it
//! stands (an MCP server is asked for its tools with the MCP client of the
//! official SDK, over streamable HTTP; an HTTP tool is sent a sample input
//! its schema accepts) through the outbound client, which connects only to
//! addresses the policy allows, and records what it found.

use std::time::{Duration, Instant};

use agentledger_commands::CommandError;
use agentledger_domain::DomainError;
use agentledger_domain::tool::{
    MAX_EXCERPT_BYTES, MAX_OFFERED, OfferedTool, Tool, ToolCommand, ToolDefinition, ToolKind,
    ToolTest, check_input,
};
use agentledger_projections::tools::{self as model, ToolRow, Tools};
use agentledger_store::RecordedEvent;
use serde_json::Value;
use uuid::Uuid;

use crate::app::App;
use crate::caller::{Caller, Operator};
use crate::error::AppError;
use crate::queries::{ListParams, Page};

/// How long a tool has to answer a test, the MCP handshake included.
const TEST_TIMEOUT: Duration = Duration::from_secs(15);
const USER_AGENT: &str = concat!("agentledger-tools/", env!("CARGO_PKG_VERSION"));

/// A registered tool: its id and the position of its event.
pub struct Registered {
    pub tool_id: Uuid,
    pub position: u64,
}

pub async fn register(
    app: &App,
    operator: &Operator,
    definition: ToolDefinition,
) -> Result<Registered, AppError> {
    let tool_id = Uuid::now_v7();
    let command = ToolCommand::Register {
        tenant_id: operator.tenant_id,
        definition,
        policy: app.address_policy,
    };
    let position = decide(app, operator, tool_id, command).await?;
    Ok(Registered { tool_id, position })
}

/// Runs `command` on one of the operator's tenant's tools; the position.
async fn decide(
    app: &App,
    operator: &Operator,
    tool_id: Uuid,
    command: ToolCommand,
) -> Result<u64, AppError> {
    operator.require_commands()?;
    Ok(app
        .handler
        .run::<Tool>(&operator.context(), tool_id, command)
        .await?
        .position)
}

/// A new version of the definition (none when it is the same).
pub async fn update(
    app: &App,
    operator: &Operator,
    tool_id: Uuid,
    definition: ToolDefinition,
) -> Result<u64, AppError> {
    let policy = app.address_policy;
    decide(
        app,
        operator,
        tool_id,
        ToolCommand::Update { definition, policy },
    )
    .await
}

pub async fn disable(
    app: &App,
    operator: &Operator,
    tool_id: Uuid,
    reason: String,
) -> Result<u64, AppError> {
    decide(app, operator, tool_id, ToolCommand::Disable { reason }).await
}

pub async fn enable(app: &App, operator: &Operator, tool_id: Uuid) -> Result<u64, AppError> {
    decide(app, operator, tool_id, ToolCommand::Enable).await
}

/// The tool as its latest version stands, with its last test.
pub async fn detail(app: &App, caller: &Caller, tool_id: Uuid) -> Result<Tool, AppError> {
    Ok(app.load_visible::<Tool>(caller, tool_id).await?.state)
}

/// Every version and test of the tool, oldest first: its stream.
pub async fn history(
    app: &App,
    caller: &Caller,
    tool_id: Uuid,
) -> Result<Vec<RecordedEvent>, AppError> {
    app.visible_stream::<Tool>(caller, tool_id).await
}

/// The caller's tenant's tools, newest first; of one kind (`http`, `mcp`)
/// or all.
pub async fn list(
    app: &App,
    caller: &Caller,
    kind: Option<ToolKind>,
    list: ListParams,
) -> Result<Page<ToolRow>, AppError> {
    let tenant = caller.tenant_id();
    let limit = list.page_size()?;
    let progress = app.caught_up(&Tools, list.min_position).await?;
    let items = model::list(
        &app.database,
        tenant,
        kind.map(ToolKind::as_str),
        list.cursor,
        limit,
    )
    .await?;
    Ok(Page::new(items, limit, progress.position(), |t| t.seq))
}

/// Tests the tool as it stands and records what was found (`ToolTested`):
/// an HTTP tool is sent `input`, which its schema must accept; an MCP
/// server is asked for its tools. A tool that fails the test is recorded
/// as failing, and the answer is the test either way.
pub async fn test(
    app: &App,
    operator: &Operator,
    tool_id: Uuid,
    input: Option<Value>,
) -> Result<ToolTest, AppError> {
    operator.require_commands()?;
    let tool = app.load_visible::<Tool>(operator, tool_id).await?.state;
    if let Some(reason) = &tool.disabled {
        return Err(CommandError::Domain(DomainError::InvalidTransition {
            entity: "tool",
            action: "test",
            state: format!("disabled ({reason})"),
        })
        .into());
    }
    let definition = &tool.definition;
    let started = Instant::now();
    let mut test = ToolTest {
        version: tool.version,
        succeeded: false,
        duration_ms: 0,
        status_code: None,
        input: None,
        excerpt: None,
        offered: None,
        error: None,
        at: agentledger_store::now(),
    };
    // The endpoint was checked when it was stored; an IP literal needs no
    // lookup, so it is checked again here under the policy as it is now.
    app.address_policy
        .check_url("tool endpoint", &definition.endpoint)
        .map_err(CommandError::Domain)?;
    let client = crate::outbound::client(app.address_policy, TEST_TIMEOUT, USER_AGENT)
        .map_err(|e| AppError::Unavailable(format!("the outbound client: {e}")))?;
    match definition.kind {
        ToolKind::Http => {
            let input = input.ok_or_else(|| {
                AppError::BadRequest("a test of an HTTP tool needs an `input`".into())
            })?;
            check_input(&definition.input_schema, &input).map_err(CommandError::Domain)?;
            agentledger_domain::text::check_strings(&input).map_err(CommandError::Domain)?;
            let answer = client.post(&definition.endpoint).json(&input).send().await;
            test.input = Some(input);
            match answer {
                Ok(mut response) => {
                    let status = response.status();
                    test.status_code = Some(status.as_u16());
                    // Only the start of the body is kept, so only that much
                    // is read: a tool cannot make the server hold more.
                    let mut body = Vec::new();
                    let read = loop {
                        if body.len() >= MAX_EXCERPT_BYTES {
                            break Ok(());
                        }
                        match response.chunk().await {
                            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                            Ok(None) => break Ok(()),
                            Err(e) => break Err(e),
                        }
                    };
                    test.excerpt = Some(excerpt(&body));
                    match read {
                        Ok(()) => test.succeeded = status.is_success(),
                        Err(e) => test.error = Some(clean(&crate::outbound::describe(&e))),
                    }
                }
                Err(e) => test.error = Some(clean(&crate::outbound::describe(&e))),
            }
        }
        ToolKind::Mcp => {
            if input.is_some() {
                return Err(AppError::BadRequest(
                    "a test of an MCP server lists its tools and takes no `input`".into(),
                ));
            }
            match tokio::time::timeout(TEST_TIMEOUT, offered(client, &definition.endpoint)).await {
                Ok(Ok(tools)) => {
                    test.succeeded = true;
                    test.offered = Some(tools);
                }
                Ok(Err(e)) => test.error = Some(clean(&e)),
                Err(_) => {
                    test.error = Some(format!("no answer within {} s", TEST_TIMEOUT.as_secs()))
                }
            }
        }
    }
    test.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    app.handler
        .run::<Tool>(
            &operator.context(),
            tool_id,
            ToolCommand::RecordTest { test: test.clone() },
        )
        .await?;
    Ok(test)
}

/// A session with the MCP server at `endpoint`, over streamable HTTP
/// through `client`, the handshake done; no answer of the server larger
/// than `max_answer` bytes is read.
pub(crate) async fn mcp_session(
    client: reqwest::Client,
    endpoint: &str,
    max_answer: usize,
) -> Result<rmcp::service::RunningService<rmcp::RoleClient, rmcp::model::ClientConfig>, String> {
    use rmcp::ServiceExt;
    use rmcp::model::{ClientCapabilities, ClientConfig, Implementation};
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

    let transport = StreamableHttpClientTransport::with_client(
        client,
        StreamableHttpClientTransportConfig::with_uri(endpoint.to_owned())
            .max_json_response_size(max_answer)
            .max_sse_event_size(max_answer)
            .max_error_response_size(MAX_EXCERPT_BYTES),
    );
    let info = ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("agentledger", env!("CARGO_PKG_VERSION")),
    );
    info.serve(transport)
        .await
        .map_err(|e| format!("the MCP handshake failed: {e}"))
}

/// The tools the MCP server at `endpoint` offers, asked over streamable
/// HTTP through `client`.
async fn offered(client: reqwest::Client, endpoint: &str) -> Result<Vec<OfferedTool>, String> {
    // 500 tools with their schemas fit easily.
    let session = mcp_session(client, endpoint, 4 * 1024 * 1024).await?;
    let listed = session.list_all_tools().await;
    let _ = session.cancel().await;
    let tools = listed.map_err(|e| format!("listing the server's tools failed: {e}"))?;
    Ok(tools
        .into_iter()
        .take(MAX_OFFERED)
        .map(|tool| {
            let schema = Value::Object((*tool.input_schema).clone());
            let kept = agentledger_domain::tool::check_offered_schema(&schema);
            // What cannot be kept is said, not dropped without a word.
            let schema = match kept {
                Ok(()) => schema,
                Err(e) => serde_json::json!({ "not_kept": clean(&e.to_string()) }),
            };
            OfferedTool {
                name: clean(&tool.name),
                description: tool.description.as_deref().map(clean),
                input_schema: schema,
            }
        })
        .collect())
}

/// What another server sent, fit to be kept (at most [`MAX_EXCERPT_BYTES`]).
fn clean(text: &str) -> String {
    agentledger_domain::text::clean(text, MAX_EXCERPT_BYTES)
}

/// The start of an answer's body, as text.
fn excerpt(body: &[u8]) -> String {
    let end = body.len().min(MAX_EXCERPT_BYTES);
    clean(&String::from_utf8_lossy(&body[..end]))
}
