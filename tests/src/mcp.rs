//! An MCP server on loopback for the tool tests, built with the official
//! Rust SDK (`rmcp`) over streamable HTTP: it offers two tools, `add` and
//! `shout`, which is what a test of it must list.

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, ServerHandler, schemars, tool, tool_handler, tool_router};

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct Sum {
    /// The first number.
    pub a: i64,
    /// The second number.
    pub b: i64,
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct Words {
    pub text: String,
}

#[derive(Clone)]
pub struct Arithmetic {
    // Read by the code `tool_handler` generates.
    #[allow(dead_code)]
    tool_router: ToolRouter<Arithmetic>,
}

impl Default for Arithmetic {
    fn default() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }
}

#[tool_router]
impl Arithmetic {
    #[tool(description = "Add two whole numbers")]
    fn add(&self, Parameters(Sum { a, b }): Parameters<Sum>) -> Result<CallToolResult, ErrorData> {
        Ok(CallToolResult::success(vec![ContentBlock::text(
            a.saturating_add(b).to_string(),
        )]))
    }

    #[tool(description = "Say it louder")]
    fn shout(
        &self,
        Parameters(Words { text }): Parameters<Words>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(CallToolResult::success(vec![ContentBlock::text(
            text.to_uppercase(),
        )]))
    }
}

#[tool_handler]
impl ServerHandler for Arithmetic {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

/// Starts the server on a free loopback port; its endpoint (`…/mcp`).
pub async fn start() -> String {
    let service = StreamableHttpService::new(
        || Ok(Arithmetic::default()),
        LocalSessionManager::default().into(),
        StreamableHttpServerConfig::default(),
    );
    let router = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let address = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{address}/mcp")
}
