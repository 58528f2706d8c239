//! Workflows over HTTP: drafts checked as DAGs (a cycle refused with its
//! path), published as immutable numbered versions, compared, archived,
//! kept to their tenant, and naming only the tenant's own enabled tools.

use agentledger_tests::{TestServer, on_every_backend};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn step(key: &str, input: Value) -> Value {
    json!({
        "key": key,
        "action": { "type": "agent", "agent_kind": "writer", "task_type": key },
        "input": input,
        "timeout_seconds": 120,
        "retries": 1
    })
}

/// fetch (a tool) → summarise → publish.
fn draft(tool_id: &str) -> Value {
    json!({
        "steps": [
            {
                "key": "fetch",
                "action": { "type": "tool", "tool_id": tool_id },
                "input": { "url": "$input.url" },
                "timeout_seconds": 30,
                "retries": 2
            },
            step("summarise", json!({ "text": "$steps.fetch.output.body" })),
            step("publish", json!({ "summary": "$steps.summarise.output" })),
        ],
        "edges": [
            { "from": "fetch", "to": "summarise" },
            { "from": "summarise", "to": "publish" }
        ]
    })
}

/// Adds `item` to the JSON array `list`.
fn push(list: &mut Value, item: Value) {
    if let Some(items) = list.as_array_mut() {
        items.push(item);
    }
}

async fn tool(server: &TestServer, key: &str) -> String {
    let body = json!({
        "name": "fetcher",
        "input_schema": { "type": "object" },
        "kind": "http",
        "endpoint": "https://tools.example.com/fetch"
    });
    let (status, made) = server.post("/api/v1/tools", key, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    made["tool_id"].as_str().unwrap_or_default().to_owned()
}

async fn workflows_are_drafted_published_compared_and_archived(server: TestServer) {
    let (_, op) = server.tenant("planners").await;
    let (_, other) = server.tenant("strangers").await;
    let fetcher = tool(&server, &op).await;
    let (status, made) = server
        .post(
            "/api/v1/workflows",
            &op,
            &json!({ "name": "daily digest", "draft": draft(&fetcher) }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let id = made["workflow_id"].as_str().unwrap_or_default().to_owned();
    let path = format!("/api/v1/workflows/{id}");

    let (_, workflow) = server.get(&path, &op).await;
    assert_eq!(workflow["latest_version"], json!(0));
    assert_eq!(workflow["draft"]["steps"].as_array().map(Vec::len), Some(3));

    let (status, published) = server
        .post(&format!("{path}/publish"), &op, &json!(null))
        .await;
    assert_eq!(status, StatusCode::OK, "{published}");
    assert_eq!(published["version"], json!(1));
    let (_, again) = server
        .post(&format!("{path}/publish"), &op, &json!(null))
        .await;
    assert_eq!(
        again["version"],
        json!(1),
        "the same draft makes no new version"
    );

    let mut second = draft(&fetcher);
    second["steps"][1]["retries"] = json!(3);
    push(
        &mut second["steps"],
        step("notify", json!({ "what": "$steps.publish.output" })),
    );
    push(
        &mut second["edges"],
        json!({ "from": "publish", "to": "notify" }),
    );
    let (status, _) = server
        .call(
            Method::PUT,
            &format!("{path}/draft"),
            Some(&op),
            Some(&second),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, published) = server
        .post(&format!("{path}/publish"), &op, &json!(null))
        .await;
    assert_eq!(published["version"], json!(2));

    let (status, first) = server.get(&format!("{path}/versions/1"), &op).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(
        first["steps"].as_array().map(Vec::len),
        Some(3),
        "versions never change"
    );
    let (_, changes) = server.get(&format!("{path}/diff?from=1&to=2"), &op).await;
    assert_eq!(changes["steps_added"], json!(["notify"]));
    assert_eq!(changes["steps_changed"], json!(["summarise"]));
    assert_eq!(changes["steps_removed"], json!([]));
    assert_eq!(
        changes["edges_added"],
        json!([{ "from": "publish", "to": "notify" }])
    );
    for missing in [
        format!("{path}/versions/3"),
        format!("{path}/versions/0"),
        format!("{path}/diff?from=1&to=9"),
    ] {
        assert_eq!(
            server.get(&missing, &op).await.0,
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }

    server.models_reach(None).await;
    let (_, page) = server.get("/api/v1/workflows", &op).await;
    assert_eq!(page["items"][0]["latest_version"], json!(2));
    assert_eq!(page["items"][0]["steps"], json!(4));

    // Agents read; other tenants see nothing.
    let agent = server.agent(&op, &[], 600).await;
    assert_eq!(server.get(&path, &agent.token).await.0, StatusCode::OK);
    for read in [
        path.clone(),
        format!("{path}/versions/1"),
        format!("{path}/diff?from=1&to=2"),
    ] {
        assert_eq!(
            server.get(&read, &other).await.0,
            StatusCode::NOT_FOUND,
            "{read}"
        );
    }
    let (status, _) = server
        .post(&format!("{path}/publish"), &other, &json!(null))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, theirs) = server.get("/api/v1/workflows", &other).await;
    assert_eq!(theirs["items"], json!([]));

    // Archived: read, never changed again, listed only when asked.
    let (status, _) = server
        .post(&format!("{path}/archive"), &op, &json!(null))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server
        .post(&format!("{path}/publish"), &op, &json!(null))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = server
        .call(
            Method::PUT,
            &format!("{path}/draft"),
            Some(&op),
            Some(&second),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    server.models_reach(None).await;
    let (_, page) = server.get("/api/v1/workflows", &op).await;
    assert_eq!(page["items"], json!([]));
    let (_, page) = server.get("/api/v1/workflows?archived=true", &op).await;
    assert_eq!(page["items"][0]["archived"], json!(true));
}

async fn drafts_that_cannot_run_are_refused_with_the_reason(server: TestServer) {
    let (_, op) = server.tenant("careful").await;
    let (_, other) = server.tenant("owner of a tool").await;
    let mine = tool(&server, &op).await;
    let theirs = tool(&server, &other).await;

    let mut cycle = draft(&mine);
    push(
        &mut cycle["edges"],
        json!({ "from": "publish", "to": "fetch" }),
    );
    let mut backwards = draft(&mine);
    backwards["steps"][0]["input"] = json!({ "x": "$steps.publish.output" });
    let mut nul = draft(&mine);
    nul["steps"][1]["key"] = json!("sum\u{0}marise");
    let mut unknown = draft(&mine);
    unknown["steps"][0]["shell"] = json!("rm -rf /");
    let mut huge_timeout = draft(&mine);
    huge_timeout["steps"][0]["timeout_seconds"] = json!(u64::MAX);
    for (body, expected, says) in [
        (
            cycle,
            StatusCode::UNPROCESSABLE_ENTITY,
            "fetch → summarise → publish → fetch",
        ),
        (
            backwards,
            StatusCode::UNPROCESSABLE_ENTITY,
            "does not come before",
        ),
        (nul, StatusCode::UNPROCESSABLE_ENTITY, "control"),
        (
            draft(&theirs),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not one of this tenant's",
        ),
        (
            json!({ "steps": [] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "1 to 200 steps",
        ),
        (unknown, StatusCode::BAD_REQUEST, ""),
        (huge_timeout, StatusCode::BAD_REQUEST, ""),
    ] {
        let (status, problem) = server
            .post(
                "/api/v1/workflows",
                &op,
                &json!({ "name": "bad", "draft": body }),
            )
            .await;
        assert_eq!(status, expected, "{problem}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap_or_default()
                .contains(says),
            "{says}: {problem}"
        );
    }

    // An operator who sees every tenant still cannot name another
    // tenant's tool in a workflow of its own.
    let (status, problem) = server
        .post(
            "/api/v1/workflows",
            &server.admin_key,
            &json!({ "name": "borrowed", "draft": draft(&theirs) }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");

    // A tool disabled after the draft was written stops the publication.
    let (_, made) = server
        .post(
            "/api/v1/workflows",
            &op,
            &json!({ "name": "ok", "draft": draft(&mine) }),
        )
        .await;
    let id = made["workflow_id"].as_str().unwrap_or_default().to_owned();
    let (status, _) = server
        .post(
            &format!("/api/v1/tools/{mine}/disable"),
            &op,
            &json!({ "reason": "retired" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, problem) = server
        .post(
            &format!("/api/v1/workflows/{id}/publish"),
            &op,
            &json!(null),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("disabled"))
    );
    server.models_reach(None).await;
    let (_, page) = server.get("/api/v1/workflows", &op).await;
    assert_eq!(
        page["items"].as_array().map(Vec::len),
        Some(1),
        "nothing refused was kept"
    );
    assert_eq!(page["items"][0]["latest_version"], json!(0));
}

on_every_backend!(
    workflows_are_drafted_published_compared_and_archived,
    drafts_that_cannot_run_are_refused_with_the_reason,
);
