//! Tools and MCP servers over HTTP: registered, versioned, listed and kept
//! to their tenant; tested against a real MCP server on loopback (built
//! with the official SDK) and a real HTTP receiver, the input checked
//! against the tool's schema first.

use agentledger_domain::delivery::RetrySchedule;
use agentledger_store::testing::TestDatabase;
use agentledger_tests::receiver::Receiver;
use agentledger_tests::{Options, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A server whose outbound policy allows loopback (the tools under test
/// run here).
async fn server(db: TestDatabase) -> TestServer {
    let options = Options {
        loopback_deliveries: Some(RetrySchedule::default()),
        ..Options::default()
    };
    TestServer::start_with_options(db, options).await
}

fn weather(endpoint: &str) -> Value {
    json!({
        "name": "weather",
        "description": "Today's weather for a city",
        "input_schema": {
            "type": "object",
            "properties": { "city": { "type": "string" } },
            "required": ["city"]
        },
        "kind": "http",
        "endpoint": endpoint,
        "auth_ref": "weather-api-key"
    })
}

async fn register(server: &TestServer, key: &str, body: &Value) -> String {
    let (status, made) = server.post("/api/v1/tools", key, body).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    made["tool_id"].as_str().unwrap_or_default().to_owned()
}

fn types(events: &Value) -> Vec<String> {
    events
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["event_type"].as_str().map(str::to_owned))
        .collect()
}

async fn tools_are_versioned_listed_and_kept_to_their_tenant(db: TestDatabase) {
    let server = server(db).await;
    let (_, op) = server.tenant("toolmakers").await;
    let (_, other) = server.tenant("elsewhere").await;
    let id = register(&server, &op, &weather("https://tools.example.com/weather")).await;
    let path = format!("/api/v1/tools/{id}");

    let (status, tool) = server.get(&path, &op).await;
    assert_eq!(status, StatusCode::OK, "{tool}");
    assert_eq!(
        (tool["version"].clone(), tool["kind"].clone()),
        (json!(1), json!("http"))
    );
    assert_eq!(tool["auth_ref"], "weather-api-key");

    let mut changed = weather("https://tools.example.com/weather/v2");
    changed["description"] = json!("Weather, now with wind");
    let (status, _) = server
        .call(Method::PUT, &path, Some(&op), Some(&changed))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server
        .call(Method::PUT, &path, Some(&op), Some(&changed))
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the same definition again is no new version"
    );
    let (_, tool) = server.get(&path, &op).await;
    assert_eq!(tool["version"], json!(2));
    assert_eq!(tool["endpoint"], "https://tools.example.com/weather/v2");
    let (_, history) = server.get(&format!("{path}/history"), &op).await;
    assert_eq!(types(&history), ["ToolRegistered", "ToolUpdated"]);

    server.models_reach(None).await;
    let (status, page) = server.get("/api/v1/tools", &op).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["items"][0]["version"], json!(2));
    assert_eq!(page["items"][0]["description"], "Weather, now with wind");
    let (_, mcp_only) = server.get("/api/v1/tools?kind=mcp", &op).await;
    assert_eq!(mcp_only["items"], json!([]));

    // Agents read their tenant's tools; only operators change them.
    let agent = server.agent(&op, &[], 600).await;
    assert_eq!(server.get(&path, &agent.token).await.0, StatusCode::OK);
    let (_, listed) = server.get("/api/v1/tools", &agent.token).await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
    let (status, _) = server
        .post(
            "/api/v1/tools",
            &agent.token,
            &weather("https://tools.example.com/x"),
        )
        .await;
    assert!(
        matches!(status, StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED),
        "{status}"
    );

    // Another tenant sees and changes nothing.
    assert_eq!(server.get(&path, &other).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        server.get(&format!("{path}/history"), &other).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, _) = server
        .call(
            Method::PUT,
            &path,
            Some(&other),
            Some(&weather("https://tools.example.com/x")),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, theirs) = server.get("/api/v1/tools", &other).await;
    assert_eq!(theirs["items"], json!([]));

    // Hostile definitions are refused and change nothing.
    let mut nul_name = weather("https://tools.example.com/x");
    nul_name["name"] = json!("we\u{0}ather");
    let mut bad_schema = weather("https://tools.example.com/x");
    bad_schema["input_schema"] = json!({ "type": "no-such-type" });
    let mut remote_ref = weather("https://tools.example.com/x");
    remote_ref["input_schema"] = json!({ "$ref": "http://169.254.169.254/latest/schema.json" });
    let mut unknown_field = weather("https://tools.example.com/x");
    unknown_field["secret"] = json!("hunter2");
    for (body, expected) in [
        (nul_name, StatusCode::UNPROCESSABLE_ENTITY),
        (bad_schema, StatusCode::UNPROCESSABLE_ENTITY),
        // A schema whose `$ref` would have the server fetch a URL is
        // refused: references are never fetched.
        (remote_ref, StatusCode::UNPROCESSABLE_ENTITY),
        (
            weather("http://169.254.169.254/latest"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            weather("http://10.0.0.8/tool"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        // The URL parser would drop these and the raw string be stored.
        (
            weather("\u{0}https://tools.example.com/x"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            weather("https://tools.example.com/x\n"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (unknown_field, StatusCode::BAD_REQUEST),
        (json!({ "name": "x" }), StatusCode::BAD_REQUEST),
    ] {
        let (status, problem) = server.post("/api/v1/tools", &op, &body).await;
        assert_eq!(status, expected, "{body}: {problem}");
    }
    server.models_reach(None).await;
    let (_, page) = server.get("/api/v1/tools", &op).await;
    assert_eq!(
        page["items"].as_array().map(Vec::len),
        Some(1),
        "nothing refused was kept"
    );
    // A disabled tool is not tested until it is enabled again.
    let (status, _) = server
        .post(
            &format!("{path}/disable"),
            &op,
            &json!({ "reason": "provider outage" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, tool) = server.get(&path, &op).await;
    assert_eq!(tool["disabled_reason"], "provider outage");
    let (status, problem) = server
        .post(
            &format!("{path}/test"),
            &op,
            &json!({ "input": { "city": "Porto" } }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let (status, _) = server
        .post(&format!("{path}/enable"), &op, &json!(null))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, tool) = server.get(&path, &op).await;
    assert_eq!(tool["disabled_reason"], Value::Null);
}

async fn an_mcp_server_is_tested_with_a_real_client(db: TestDatabase) {
    let server = server(db).await;
    let endpoint = agentledger_tests::mcp::start().await;
    let (_, op) = server.tenant("mcp users").await;
    let body = json!({
        "name": "arithmetic",
        "input_schema": { "type": "object" },
        "kind": "mcp",
        "endpoint": endpoint,
    });
    let id = register(&server, &op, &body).await;
    let path = format!("/api/v1/tools/{id}");

    let (status, test) = server.post(&format!("{path}/test"), &op, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{test}");
    assert_eq!(test["succeeded"], json!(true), "{test}");
    assert_eq!(test["version"], json!(1));
    let mut offered: Vec<&str> = test["offered"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .collect();
    offered.sort_unstable();
    assert_eq!(offered, ["add", "shout"]);
    let add = test["offered"]
        .as_array()
        .and_then(|tools| tools.iter().find(|t| t["name"] == "add"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(add["description"], "Add two whole numbers");
    assert!(add["input_schema"]["properties"]["a"].is_object(), "{add}");

    let (_, tool) = server.get(&path, &op).await;
    assert_eq!(tool["last_test"]["succeeded"], json!(true));
    let (_, history) = server.get(&format!("{path}/history"), &op).await;
    assert_eq!(types(&history), ["ToolRegistered", "ToolTested"]);

    let (status, problem) = server
        .post(
            &format!("{path}/test"),
            &op,
            &json!({ "input": { "a": 1 } }),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "an MCP test takes no input: {problem}"
    );

    // A server that is not there fails the test, which is recorded.
    let gone = register(
        &server,
        &op,
        &json!({ "name": "gone", "input_schema": {}, "kind": "mcp", "endpoint": "http://127.0.0.1:9/mcp" }),
    )
    .await;
    let (status, test) = server
        .post(&format!("/api/v1/tools/{gone}/test"), &op, &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{test}");
    assert_eq!(test["succeeded"], json!(false));
    assert!(
        test["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{test}"
    );
    server.models_reach(None).await;
    let (_, page) = server.get("/api/v1/tools?kind=mcp", &op).await;
    let tested: Vec<(Value, Value)> = page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| (t["name"].clone(), t["last_test_ok"].clone()))
        .collect();
    assert_eq!(
        tested,
        [
            (json!("gone"), json!(false)),
            (json!("arithmetic"), json!(true))
        ]
    );
}

async fn an_http_tool_is_called_with_an_input_its_schema_accepts(db: TestDatabase) {
    let server = server(db).await;
    let (receiver, base) = Receiver::start().await;
    let (_, op) = server.tenant("http tools").await;
    let id = register(&server, &op, &weather(&format!("{base}/weather"))).await;
    let test = format!("/api/v1/tools/{id}/test");

    for (body, expected) in [
        (
            json!({ "input": { "city": 7 } }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!({ "input": {} }), StatusCode::UNPROCESSABLE_ENTITY),
        (
            json!({ "input": { "city": "Por\u{1}to" } }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!({}), StatusCode::BAD_REQUEST),
    ] {
        let (status, problem) = server.post(&test, &op, &body).await;
        assert_eq!(status, expected, "{body}: {problem}");
    }
    assert!(
        receiver.received().is_empty(),
        "nothing was sent for a refused input"
    );

    let (status, tested) = server
        .post(&test, &op, &json!({ "input": { "city": "Porto" } }))
        .await;
    assert_eq!(status, StatusCode::OK, "{tested}");
    assert_eq!(
        (tested["succeeded"].clone(), tested["status_code"].clone()),
        (json!(true), json!(204))
    );
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].path, "/weather");
    assert_eq!(got[0].json(), json!({ "city": "Porto" }));
    let (_, history) = server
        .get(&format!("/api/v1/tools/{id}/history"), &op)
        .await;
    assert_eq!(types(&history), ["ToolRegistered", "ToolTested"]);
}

agentledger_tests::on_every_database!(
    tools_are_versioned_listed_and_kept_to_their_tenant,
    an_mcp_server_is_tested_with_a_real_client,
    an_http_tool_is_called_with_an_input_its_schema_accepts,
);
