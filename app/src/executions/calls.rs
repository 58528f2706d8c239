//! Calls of a tool for an execution's step, through the outbound client (so
//! only to addresses the policy allows): an HTTP tool is sent the input as
//! JSON and its answer is the output; an MCP server is asked, with the
//! official SDK's client, to call one of its tools with the input as
//! arguments. Whatever fails is said in the error the step records.

use std::time::Duration;

use agentledger_domain::execution::MAX_VALUE_BYTES;
use agentledger_domain::tool::{ToolDefinition, ToolKind, check_input};
use serde_json::Value;
use uuid::Uuid;

/// Calls `tool` (an MCP server's `mcp_tool`) with `input`, giving up after
/// `timeout`; the output, or why there is none. `attempt` names the
/// attempt to an HTTP tool (`Idempotency-Key`), the same on every call of it.
pub(crate) async fn call(
    client: &reqwest::Client,
    tool: &ToolDefinition,
    mcp_tool: Option<&str>,
    input: Value,
    timeout: Duration,
    attempt: Uuid,
) -> Result<Value, String> {
    let called = async {
        match tool.kind {
            ToolKind::Http => {
                check_input(&tool.input_schema, &input)
                    .map_err(|e| format!("the tool's schema refuses the input: {e}"))?;
                post(client, &tool.endpoint, &input, timeout, attempt).await
            }
            ToolKind::Mcp => {
                let name = mcp_tool.ok_or("the step names no tool of the MCP server")?;
                call_mcp(client, &tool.endpoint, name, input).await
            }
        }
    };
    tokio::time::timeout(timeout, called)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} s", timeout.as_secs())))
}

/// `POST`s `input` to `endpoint`: the answer's JSON (or its text, when it is
/// not JSON) on a 2xx, else the status and the start of the answer.
async fn post(
    client: &reqwest::Client,
    endpoint: &str,
    input: &Value,
    timeout: Duration,
    attempt: Uuid,
) -> Result<Value, String> {
    let mut response = client
        .post(endpoint)
        .timeout(timeout)
        .header("idempotency-key", attempt.to_string())
        .json(input)
        .send()
        .await
        .map_err(|e| crate::outbound::describe(&e))?;
    let status = response.status();
    // At most what an output may hold, and a byte more to tell it was more.
    let mut body = Vec::new();
    while body.len() <= MAX_VALUE_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => return Err(crate::outbound::describe(&e)),
        }
    }
    let text = String::from_utf8_lossy(&body);
    if !status.is_success() {
        let start: String = text.chars().take(500).collect();
        return Err(format!("the tool answered {status}: {start}"));
    }
    if body.len() > MAX_VALUE_BYTES {
        return Err(format!("the tool's answer exceeds {MAX_VALUE_BYTES} bytes"));
    }
    Ok(serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(text.into_owned())))
}

/// Asks the MCP server at `endpoint` to call its tool `name` with `input`
/// (an object) as arguments. Its output is the structured content when the
/// tool gives one, else its one text (as JSON when it is JSON), else the
/// content blocks.
async fn call_mcp(
    client: &reqwest::Client,
    endpoint: &str,
    name: &str,
    input: Value,
) -> Result<Value, String> {
    use rmcp::model::CallToolRequestParams;

    let Value::Object(arguments) = input else {
        return Err("an MCP tool's arguments are an object".into());
    };
    // An output is at most MAX_VALUE_BYTES; the answer around it (JSON-RPC,
    // content blocks beside structured content) is allowed four times that.
    let session = crate::tools::mcp_session(client.clone(), endpoint, 4 * MAX_VALUE_BYTES).await?;
    let params = CallToolRequestParams::new(name.to_owned()).with_arguments(arguments);
    let called = session.call_tool(params).await;
    let _ = session.cancel().await;
    let result = called.map_err(|e| format!("calling `{name}` failed: {e}"))?;
    let texts: Vec<&str> = result
        .content
        .iter()
        .filter_map(|block| block.as_text().map(|t| t.text.as_str()))
        .collect();
    if result.is_error == Some(true) {
        return Err(format!("`{name}` failed: {}", texts.join(" ")));
    }
    if let Some(structured) = result.structured_content {
        return Ok(structured);
    }
    match texts.as_slice() {
        [one] if result.content.len() == 1 => {
            Ok(serde_json::from_str(one).unwrap_or_else(|_| Value::String((*one).to_owned())))
        }
        _ => serde_json::to_value(&result.content).map_err(|e| e.to_string()),
    }
}
