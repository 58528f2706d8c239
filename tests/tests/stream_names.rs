//! The API document lists, in words, which streams have a state to fold.
//! The list is written out in an attribute, so it is checked against the
//! aggregates' own prefixes here.

use agentledger_domain::history::PREFIXES;
use agentledger_store::testing::TestDatabase;
use agentledger_tests::TestServer;
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_route_names_every_aggregates_stream_prefix() {
    let server = TestServer::start(TestDatabase::sqlite()).await;
    let response = server
        .http
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = response.json().await.unwrap_or_default();
    let parameters = doc["paths"]["/api/v1/streams/{stream_id}/state"]["get"]["parameters"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let described = parameters
        .iter()
        .find(|p| p["name"] == "stream_id")
        .and_then(|p| p["description"].as_str())
        .unwrap_or_default();
    for prefix in PREFIXES {
        assert!(
            described.contains(&format!("`{prefix}-…`")),
            "{prefix}: {described}"
        );
    }
}
