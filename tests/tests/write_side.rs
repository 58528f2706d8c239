//! The write side as agents and operators use it, over HTTP, on SQLite and
//! PostgreSQL.

use std::collections::HashSet;

use agentledger_commands::tokens::{TokenIssuer, unsigned_token};
use agentledger_domain::ids::{AgentId, TenantId};
use agentledger_tests::{JWT_SECRET, TestServer, on_every_backend};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn action(n: u32) -> Value {
    json!({
        "action": "approve_post", "resource_type": "post", "resource_id": format!("p-{n}"),
        "status": "success", "confidence": 0.9, "reasoning": "clean", "request_data": { "n": n },
        "execution_time_ms": 12
    })
}

fn run_report(status: &str) -> Value {
    json!({
        "app_type": "moderation", "trigger_type": "schedule", "model": "m-1", "prompt_tokens": 120,
        "completion_tokens": 30, "cost_usd": 0.0042, "latency_ms": 900, "status": status,
        "error_message": null, "session_id": "s-1", "prompt": "p", "response": "r"
    })
}

async fn head(server: &TestServer) -> u64 {
    server.get("/ready", &server.admin_key).await.1["store"]["head_position"]
        .as_u64()
        .unwrap_or_default()
}

async fn create_task(server: &TestServer, key: &str, body: Value) -> Value {
    let (status, created) = server.post("/api/v1/tasks", key, &body).await;
    assert!(
        status == StatusCode::CREATED || status == StatusCode::OK,
        "{status} {created}"
    );
    created
}

async fn the_full_agent_flow(server: TestServer) {
    let op = server.admin_key.clone();
    let agent = server
        .agent(
            &op,
            &["tasks:claim", "actions:write", "runs:write", "batch"],
            600,
        )
        .await;

    let (status, _) = server
        .get("/api/v1/agents/me/tasks/next", &agent.token)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "nothing to do yet");
    let (_, detail) = server
        .get(&format!("/api/v1/agents/{}", agent.agent_id), &op)
        .await;
    assert_eq!(
        detail["online"],
        json!(true),
        "a poll brings the agent online"
    );

    let created = create_task(
        &server,
        &op,
        json!({ "task_type": "moderate", "input": { "post": 7 }, "priority": 3 }),
    )
    .await;
    let task_id = created["task_id"].as_str().unwrap_or_default().to_owned();
    let (status, claimed) = server
        .get("/api/v1/agents/me/tasks/next?types=moderate", &agent.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{claimed}");
    assert_eq!(claimed["task_id"], json!(task_id));
    assert_eq!(claimed["status"], json!("claimed"));
    assert_eq!(claimed["input"], json!({ "post": 7 }));
    assert!(claimed["position"].as_u64() > created["position"].as_u64());

    let progress = json!({ "percent": 50, "message": "halfway", "output_chunk": "line 1\n" });
    let (status, _) = server
        .post(
            &format!("/api/v1/tasks/{task_id}/progress"),
            &agent.token,
            &progress,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server
        .post(
            &format!("/api/v1/tasks/{task_id}/complete"),
            &agent.token,
            &json!({ "result": { "verdict": "ok" } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, task) = server.get(&format!("/api/v1/tasks/{task_id}"), &op).await;
    assert_eq!(
        (task["status"].clone(), task["progress"].clone()),
        (json!("completed"), json!(100))
    );
    assert_eq!(task["claimed_by"], json!(agent.agent_id));

    let (status, recorded) = server
        .post("/api/v1/agents/me/actions", &agent.token, &action(1))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{recorded}");
    let batch = json!({ "actions": (0..25).map(action).collect::<Vec<_>>() });
    let (status, recorded) = server
        .post("/api/v1/agents/me/actions/batch", &agent.token, &batch)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{recorded}");
    let results = recorded["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 25);
    assert!(
        results
            .iter()
            .enumerate()
            .all(|(i, r)| r["index"] == json!(i) && r["status"] == json!("recorded"))
    );
    let (status, run) = server
        .post(
            "/api/v1/agents/me/runs",
            &agent.token,
            &run_report("success"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");

    // Everything above is in the log, attributed to the agent.
    let (_, log) = server
        .get(
            &format!(
                "/api/v1/streams/actions-{}/events?limit=1000",
                agent.agent_id
            ),
            &op,
        )
        .await;
    let events = log["events"].as_array().cloned().unwrap_or_default();
    assert_eq!(events.len(), 26);
    assert!(
        events
            .iter()
            .all(|e| e["actor"] == json!({ "kind": "agent", "id": agent.agent_id }))
    );
    let (_, runs) = server
        .get(
            &format!("/api/v1/streams/runs-{}/events", agent.agent_id),
            &op,
        )
        .await;
    assert_eq!(runs["events"][0]["payload"]["cost_micros"], json!(4200));
}

async fn a_batch_is_recorded_whole_or_not_at_all(server: TestServer) {
    let agent = server
        .agent(&server.admin_key, &["actions:write", "batch"], 600)
        .await;
    let before = head(&server).await;
    let mut actions: Vec<Value> = (0..10).map(action).collect();
    actions[3]["confidence"] = json!(7);
    actions[8]["action"] = json!("");
    let (status, problem) = server
        .post(
            "/api/v1/agents/me/actions/batch",
            &agent.token,
            &json!({ "actions": actions }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let indexes: Vec<_> = problem["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["index"].clone())
        .collect();
    assert_eq!(indexes, [json!(3), json!(8)]);
    for (count, says) in [(1001, "this one holds 1001"), (0, "this one holds 0")] {
        let batch = json!({ "actions": (0..count).map(action).collect::<Vec<_>>() });
        let (status, problem) = server
            .post("/api/v1/agents/me/actions/batch", &agent.token, &batch)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains("a batch holds 1 to 1000 actions") && detail.contains(says),
            "{problem}"
        );
        assert!(
            problem["errors"].is_null(),
            "no action is to blame: {problem}"
        );
    }
    // A single action's refusal names its own error, not a batch's.
    let (status, problem) = server
        .post(
            "/api/v1/agents/me/actions",
            &agent.token,
            &json!({ "action": "", "resource_type": "post", "status": "success" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        problem["detail"],
        json!("action must be 1 to 100 characters"),
        "{problem}"
    );
    assert_eq!(
        head(&server).await,
        before,
        "nothing of a refused batch is stored"
    );

    let no_batch = server
        .agent(&server.admin_key, &["actions:write"], 600)
        .await;
    let (status, _) = server
        .post(
            "/api/v1/agents/me/actions/batch",
            &no_batch.token,
            &json!({ "actions": [action(1)] }),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "batches need the `batch` permission"
    );
}

async fn refresh_rotates_and_reuse_revokes_the_session(server: TestServer) {
    let agent = server.agent(&server.admin_key, &["tasks:claim"], 600).await;
    let refresh = |token: &str| json!({ "refresh_token": token });
    let (status, second) = server
        .call(
            Method::POST,
            "/api/v1/agents/refresh",
            None,
            Some(&refresh(&agent.refresh_token)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let second_refresh = second["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_ne!(second_refresh, agent.refresh_token);
    let new_access = second["access_token"].as_str().unwrap_or_default();
    assert_eq!(
        server.get("/api/v1/agents/me", new_access).await.0,
        StatusCode::OK
    );

    // The first token again: somebody kept a copy. The whole session ends.
    let (status, _) = server
        .call(
            Method::POST,
            "/api/v1/agents/refresh",
            None,
            Some(&refresh(&agent.refresh_token)),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = server
        .call(
            Method::POST,
            "/api/v1/agents/refresh",
            None,
            Some(&refresh(&second_refresh)),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the rotated token died with its session"
    );
    assert_eq!(
        server.get("/api/v1/agents/me", new_access).await.0,
        StatusCode::UNAUTHORIZED,
        "and so did its access token"
    );
    let (_, log) = server
        .get(
            &format!("/api/v1/streams/agent-{}/events", agent.agent_id),
            &server.admin_key,
        )
        .await;
    let types: Vec<_> = log["events"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["event_type"].clone())
        .collect();
    assert!(types.contains(&json!("RefreshTokenReused")), "{types:?}");

    // Logging in again opens a new session.
    let login = json!({ "agent_id": agent.agent_id, "secret": agent.secret });
    assert_eq!(
        server
            .call(Method::POST, "/api/v1/agents/auth", None, Some(&login))
            .await
            .0,
        StatusCode::OK
    );
}

async fn bad_tokens_are_refused(server: TestServer) {
    let agent = server.agent(&server.admin_key, &["tasks:claim"], 600).await;
    let agent_id: AgentId = agent.agent_id.parse().unwrap_or_default();
    let (_, me) = server.get("/api/v1/agents/me", &agent.token).await;
    let tenant: TenantId = me["tenant_id"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_default();

    // The agent's real session, so each token below is refused for its own fault only.
    let session: uuid::Uuid = agent
        .refresh_token
        .split('_')
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or_default();
    let issuer = TokenIssuer::new(JWT_SECRET);
    let fresh = issuer
        .issue(agent_id, tenant, session, chrono::Utc::now())
        .unwrap_or_default();
    assert_eq!(
        server.get("/api/v1/agents/me", &fresh).await.0,
        StatusCode::OK,
        "a well-made token works"
    );
    let expired = issuer
        .issue(
            agent_id,
            tenant,
            session,
            chrono::Utc::now() - chrono::Duration::hours(2),
        )
        .unwrap_or_default();
    let now = chrono::Utc::now().timestamp();
    let claims = json!({ "sub": agent_id, "tid": tenant, "sid": session, "iss": "agentledger", "aud": "agentledger-agents", "iat": now, "exp": now + 600 });
    let unsigned = unsigned_token(&claims);
    let forged = TokenIssuer::new(b"another-secret-another-secret-another")
        .issue(agent_id, tenant, session, chrono::Utc::now())
        .unwrap_or_default();
    for token in [
        expired.as_str(),
        unsigned.as_str(),
        forged.as_str(),
        "garbage",
    ] {
        let (status, problem) = server.get("/api/v1/agents/me", token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token}: {problem}");
    }
    assert_eq!(
        server
            .call(Method::GET, "/api/v1/agents/me", None, None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.get("/api/v1/agents/me", &server.admin_key).await.0,
        StatusCode::FORBIDDEN,
        "operator key on an agent route"
    );
    assert_eq!(
        server.get("/api/v1/tasks/x", &agent.token).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        server
            .post("/api/v1/tenants", &agent.token, &json!({ "name": "x" }))
            .await
            .0,
        StatusCode::FORBIDDEN,
        "agent token on an operator route"
    );

    // Disabling stops a valid token at once, for good: enabling does not
    // revive it, the agent logs in again.
    let disable = format!("/api/v1/agents/{}/disable", agent.agent_id);
    assert_eq!(
        server
            .post(&disable, &server.admin_key, &json!({ "reason": "test" }))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        server.get("/api/v1/agents/me", &agent.token).await.0,
        StatusCode::UNAUTHORIZED
    );
    let login = json!({ "agent_id": agent.agent_id, "secret": agent.secret });
    assert_eq!(
        server
            .call(Method::POST, "/api/v1/agents/auth", None, Some(&login))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let enable = format!("/api/v1/agents/{}/enable", agent.agent_id);
    assert_eq!(
        server
            .call(Method::POST, &enable, Some(&server.admin_key), None)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        server.get("/api/v1/agents/me", &agent.token).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, relogged) = server
        .call(Method::POST, "/api/v1/agents/auth", None, Some(&login))
        .await;
    assert_eq!(status, StatusCode::OK, "{relogged}");
    let token = relogged["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        server.get("/api/v1/agents/me", &token).await.0,
        StatusCode::OK
    );

    // A wrong secret is refused and recorded on the agent's stream.
    let wrong = json!({ "agent_id": agent.agent_id, "secret": "0".repeat(64) });
    assert_eq!(
        server
            .call(Method::POST, "/api/v1/agents/auth", None, Some(&wrong))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let (_, log) = server
        .get(
            &format!("/api/v1/streams/agent-{}/events", agent.agent_id),
            &server.admin_key,
        )
        .await;
    let failures: Vec<_> = log["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["event_type"] == json!("AgentAuthenticationFailed"))
        .map(|e| e["payload"]["reason"].clone())
        .collect();
    assert_eq!(failures, [json!("agent disabled"), json!("wrong secret")]);
    // Rotating the secret: the old one stops working.
    let (status, rotated) = server
        .post(
            &format!("/api/v1/agents/{}/secret", agent.agent_id),
            &server.admin_key,
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_eq!(
        server.get("/api/v1/agents/me", &token).await.0,
        StatusCode::UNAUTHORIZED,
        "rotating the secret ends the sessions and their access tokens at once"
    );
    assert_eq!(
        server
            .call(Method::POST, "/api/v1/agents/auth", None, Some(&login))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let fresh = json!({ "agent_id": agent.agent_id, "secret": rotated["secret"] });
    assert_eq!(
        server
            .call(Method::POST, "/api/v1/agents/auth", None, Some(&fresh))
            .await
            .0,
        StatusCode::OK
    );
}

async fn login_attempts_and_agent_calls_are_rate_limited(server: TestServer) {
    let agent = server.agent(&server.admin_key, &["tasks:claim"], 3).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = server
            .http
            .get(server.url("/api/v1/agents/me"))
            .bearer_auth(&agent.token)
            .send()
            .await;
        let response = response.unwrap_or_else(|e| panic!("{e}"));
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        statuses.push((response.status(), retry_after));
    }
    assert!(
        statuses[..3].iter().all(|(s, _)| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(statuses[3].0, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        statuses[3]
            .1
            .as_deref()
            .and_then(|s| s.parse::<u64>().ok())
            .is_some_and(|s| s >= 1)
    );

    let wrong = json!({ "agent_id": agent.agent_id, "secret": "0".repeat(64) });
    let mut refused = Vec::new();
    for _ in 0..11 {
        refused.push(
            server
                .call(Method::POST, "/api/v1/agents/auth", None, Some(&wrong))
                .await
                .0,
        );
    }
    // The first login (in `agent`) counted too.
    assert!(
        refused[..9].iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "{refused:?}"
    );
    assert_eq!(refused[10], StatusCode::TOO_MANY_REQUESTS);
}

async fn other_tenants_objects_do_not_exist(server: TestServer) {
    let owner = server.admin_key.clone();
    let agent = server.agent(&owner, &["tasks:claim"], 600).await;
    let created = create_task(&server, &owner, json!({ "task_type": "t" })).await;
    let task = created["task_id"].as_str().unwrap_or_default().to_owned();
    let (_, claimed) = server
        .get("/api/v1/agents/me/tasks/next", &agent.token)
        .await;
    assert_eq!(claimed["task_id"], json!(task));

    let (_, intruder_key) = server.tenant("intruder").await;
    let intruder = server
        .agent(&intruder_key, &["tasks:claim", "tasks:create"], 600)
        .await;
    let a = &agent.agent_id;
    let operator_calls: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/api/v1/agents/{a}"), None),
        (
            Method::POST,
            format!("/api/v1/agents/{a}/secret"),
            Some(json!({})),
        ),
        (
            Method::PUT,
            format!("/api/v1/agents/{a}/permissions"),
            Some(json!({ "permissions": [], "rate_limit_per_minute": 1 })),
        ),
        (
            Method::POST,
            format!("/api/v1/agents/{a}/disable"),
            Some(json!({})),
        ),
        (Method::POST, format!("/api/v1/agents/{a}/enable"), None),
        (Method::GET, format!("/api/v1/tasks/{task}"), None),
        (
            Method::POST,
            format!("/api/v1/tasks/{task}/cancel"),
            Some(json!({})),
        ),
        (Method::POST, format!("/api/v1/tasks/{task}/retry"), None),
    ];
    for (method, path, body) in &operator_calls {
        let (status, problem) = server
            .call(method.clone(), path, Some(&intruder_key), body.as_ref())
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {problem}");
        assert!(!problem.to_string().contains(&agent.agent_id) || path.contains(&agent.agent_id));
    }
    let agent_calls: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/api/v1/tasks/{task}"), None),
        (
            Method::POST,
            format!("/api/v1/tasks/{task}/progress"),
            Some(json!({ "percent": 1 })),
        ),
        (
            Method::POST,
            format!("/api/v1/tasks/{task}/complete"),
            Some(json!({ "result": 1 })),
        ),
        (
            Method::POST,
            format!("/api/v1/tasks/{task}/fail"),
            Some(json!({ "error": "x" })),
        ),
    ];
    for (method, path, body) in &agent_calls {
        let (status, problem) = server
            .call(method.clone(), path, Some(&intruder.token), body.as_ref())
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {problem}");
    }
    // The intruder's poll never sees the owner's work, and the raw log is closed to operators.
    create_task(&server, &owner, json!({ "task_type": "t" })).await;
    assert_eq!(
        server
            .get("/api/v1/agents/me/tasks/next", &intruder.token)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        server.get("/api/v1/events", &intruder_key).await.0,
        StatusCode::FORBIDDEN
    );
    // Nothing changed for the owner.
    let (_, detail) = server.get(&format!("/api/v1/agents/{a}"), &owner).await;
    assert_eq!(detail["enabled"], json!(true));
    let (_, task_view) = server.get(&format!("/api/v1/tasks/{task}"), &owner).await;
    assert_eq!(task_view["status"], json!("claimed"));
}

async fn roles_limit_what_keys_can_do(server: TestServer) {
    let (tenant, operator) = server.tenant("roles").await;
    let viewer = server.key(&tenant, "viewer").await;
    let auditor = server.key(&tenant, "auditor").await;
    for key in [&viewer, &auditor] {
        let (status, _) = server
            .post("/api/v1/tasks", key, &json!({ "task_type": "t" }))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = server
            .post("/api/v1/agents", key, &json!({ "name": "a", "kind": "k" }))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    assert_eq!(
        server
            .post("/api/v1/tenants", &operator, &json!({ "name": "x" }))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        server
            .post("/api/v1/api-keys", &operator, &json!({ "role": "admin" }))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    // An auditor reads its own tenant's log only.
    create_task(&server, &operator, json!({ "task_type": "t" })).await;
    let (status, log) = server.get("/api/v1/events?limit=1000", &auditor).await;
    assert_eq!(status, StatusCode::OK);
    let events = log["events"].as_array().cloned().unwrap_or_default();
    assert!(!events.is_empty() && events.iter().all(|e| e["tenant_id"] == json!(tenant)));
    // An admin retrying another tenant's task: the retry belongs to that tenant.
    let worker = server.agent(&operator, &["tasks:claim"], 600).await;
    let (_, created) = server
        .post(
            "/api/v1/tasks",
            &operator,
            &json!({ "task_type": "retry-me" }),
        )
        .await;
    let task = created["task_id"].as_str().unwrap_or_default().to_owned();
    let (_, claimed) = server
        .get("/api/v1/agents/me/tasks/next?types=retry-me", &worker.token)
        .await;
    assert_eq!(claimed["task_id"], json!(task));
    server
        .post(
            &format!("/api/v1/tasks/{task}/fail"),
            &worker.token,
            &json!({ "error": "x" }),
        )
        .await;
    let (status, retried) = server
        .call(
            Method::POST,
            &format!("/api/v1/tasks/{task}/retry"),
            Some(&server.admin_key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{retried}");
    let (status, view) = server
        .get(
            &format!(
                "/api/v1/tasks/{}",
                retried["task_id"].as_str().unwrap_or_default()
            ),
            &operator,
        )
        .await;
    assert_eq!(
        (status, view["tenant_id"].clone()),
        (StatusCode::OK, json!(tenant))
    );
    let (_, log) = server
        .get(&format!("/api/v1/streams/task-{task}/events"), &auditor)
        .await;
    assert!(
        log["events"]
            .as_array()
            .is_some_and(|e| e.iter().all(|e| e["tenant_id"] == json!(tenant))),
        "the admin's events are stamped with the task's tenant"
    );
    assert_eq!(
        log["events"].as_array().map(Vec::len),
        Some(4),
        "created, claimed, failed, retried"
    );

    // A revoked key stops working.
    let (status, key) = server
        .post(
            "/api/v1/api-keys",
            &server.admin_key,
            &json!({ "role": "viewer", "tenant_id": tenant }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let key_id = key["key_id"].as_str().unwrap_or_default();
    let plain = key["key"].as_str().unwrap_or_default();
    assert_eq!(
        server
            .get("/api/v1/tasks/00000000-0000-0000-0000-000000000000", plain)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let revoke = server
        .call(
            Method::DELETE,
            &format!("/api/v1/api-keys/{key_id}"),
            Some(&server.admin_key),
            None,
        )
        .await;
    assert_eq!(revoke.0, StatusCode::OK);
    assert_eq!(
        server
            .get("/api/v1/tasks/00000000-0000-0000-0000-000000000000", plain)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
}

async fn illegal_transitions_are_conflicts_with_the_current_state(server: TestServer) {
    let op = server.admin_key.clone();
    let worker = server.agent(&op, &["tasks:claim"], 600).await;
    let other = server.agent(&op, &["tasks:claim"], 600).await;
    let created = create_task(
        &server,
        &op,
        json!({ "task_type": "t", "input": { "x": 1 }, "priority": 2 }),
    )
    .await;
    let task = created["task_id"].as_str().unwrap_or_default().to_owned();
    let (_, claimed) = server
        .get("/api/v1/agents/me/tasks/next", &worker.token)
        .await;
    assert_eq!(claimed["task_id"], json!(task));

    let (status, _) = server
        .post(
            &format!("/api/v1/tasks/{task}/complete"),
            &other.token,
            &json!({}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "only the claimer finishes a task"
    );
    let (status, _) = server
        .post(
            &format!("/api/v1/tasks/{task}/fail"),
            &worker.token,
            &json!({ "error": "boom", "retryable": true }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, problem) = server
        .post(&format!("/api/v1/tasks/{task}/cancel"), &op, &json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(problem["type"], json!("/problems/invalid-transition"));
    assert_eq!(problem["current_state"], json!("failed"));
    let (status, problem) = server
        .post(
            &format!("/api/v1/tasks/{task}/progress"),
            &worker.token,
            &json!({ "percent": 5 }),
        )
        .await;
    assert_eq!(
        (status, problem["current_state"].clone()),
        (StatusCode::CONFLICT, json!("failed"))
    );

    // Retry: a new forced task, linked both ways; asking again gives the same task.
    let (status, retried) = server
        .call(
            Method::POST,
            &format!("/api/v1/tasks/{task}/retry"),
            Some(&op),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{retried}");
    let again = server
        .call(
            Method::POST,
            &format!("/api/v1/tasks/{task}/retry"),
            Some(&op),
            None,
        )
        .await;
    assert_eq!(again.1["task_id"], retried["task_id"]);
    let new_task = retried["task_id"].as_str().unwrap_or_default().to_owned();
    let (_, view) = server.get(&format!("/api/v1/tasks/{new_task}"), &op).await;
    assert_eq!(
        (view["status"].clone(), view["retry_of"].clone()),
        (json!("pending"), json!(task))
    );
    let (_, old) = server.get(&format!("/api/v1/tasks/{task}"), &op).await;
    assert_eq!(old["retried_as"], json!(new_task));
    let (_, claimed) = server
        .get("/api/v1/agents/me/tasks/next", &other.token)
        .await;
    assert_eq!(
        claimed["input"],
        json!({ "x": 1 }),
        "the retry carries the original input"
    );

    // Cancelling a pending task works once; a second cancel is a conflict.
    let pending = create_task(&server, &op, json!({ "task_type": "u" })).await;
    let pending = pending["task_id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        server
            .post(
                &format!("/api/v1/tasks/{pending}/cancel"),
                &op,
                &json!({ "reason": "no" })
            )
            .await
            .0,
        StatusCode::OK
    );
    let (status, problem) = server
        .post(&format!("/api/v1/tasks/{pending}/cancel"), &op, &json!({}))
        .await;
    assert_eq!(
        (status, problem["current_state"].clone()),
        (StatusCode::CONFLICT, json!("cancelled"))
    );
}

async fn concurrent_polls_hand_each_task_to_one_agent(server: TestServer) {
    const TASKS: usize = 30;
    const AGENTS: usize = 6;
    let op = server.admin_key.clone();
    for i in 0..TASKS {
        create_task(
            &server,
            &op,
            json!({ "task_type": "work", "input": { "i": i } }),
        )
        .await;
    }
    let mut agents = Vec::new();
    for _ in 0..AGENTS {
        agents.push(server.agent(&op, &["tasks:claim"], 10_000).await);
    }
    let server = std::sync::Arc::new(server);
    let pollers = agents.into_iter().map(|agent| {
        let server = server.clone();
        tokio::spawn(async move {
            let mut claimed = Vec::new();
            loop {
                let (status, task) = server
                    .get("/api/v1/agents/me/tasks/next?types=work", &agent.token)
                    .await;
                match status {
                    StatusCode::OK => {
                        claimed.push(task["task_id"].as_str().unwrap_or_default().to_owned())
                    }
                    StatusCode::NO_CONTENT => return claimed,
                    other => panic!("poll answered {other}: {task}"),
                }
            }
        })
    });
    let mut all = Vec::new();
    for poller in futures::future::join_all(pollers).await {
        all.extend(poller.unwrap_or_default());
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), TASKS, "every task handed out");
    assert_eq!(unique.len(), TASKS, "no task handed out twice");
}

async fn concurrent_creates_with_one_dedup_key_make_one_task(server: TestServer) {
    const CREATES: usize = 16;
    let server = std::sync::Arc::new(server);
    let creates = (0..CREATES).map(|i| {
        let server = server.clone();
        tokio::spawn(async move {
            let body =
                json!({ "task_type": "sync", "input": { "i": i }, "dedup_key": "member-42-daily" });
            server.post("/api/v1/tasks", &server.admin_key, &body).await
        })
    });
    let mut created = Vec::new();
    let mut skipped = Vec::new();
    for result in futures::future::join_all(creates).await {
        let (status, body) = result.unwrap_or((StatusCode::INTERNAL_SERVER_ERROR, Value::Null));
        match status {
            StatusCode::CREATED => created.push(body["task_id"].clone()),
            StatusCode::OK if body["skipped_duplicate"] == json!(true) => {
                skipped.push(body["duplicate_of"].clone())
            }
            other => panic!("create answered {other}: {body}"),
        }
    }
    assert_eq!(created.len(), 1, "exactly one task is created");
    assert_eq!(skipped.len(), CREATES - 1);
    assert!(
        skipped.iter().all(|d| *d == created[0]),
        "skips name the task that holds the key"
    );

    let forced = json!({ "task_type": "sync", "dedup_key": "member-42-daily", "forced": true });
    let (status, body) = server
        .post("/api/v1/tasks", &server.admin_key, &forced)
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "forced creates bypass the window: {body}"
    );
    // A refused create does not hold its key.
    let refused = json!({ "task_type": "", "dedup_key": "member-44-daily" });
    assert_eq!(
        server
            .post("/api/v1/tasks", &server.admin_key, &refused)
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let valid = json!({ "task_type": "sync", "dedup_key": "member-44-daily" });
    assert_eq!(
        server
            .post("/api/v1/tasks", &server.admin_key, &valid)
            .await
            .0,
        StatusCode::CREATED
    );
    let other_key = json!({ "task_type": "sync", "dedup_key": "member-43-daily" });
    assert_eq!(
        server
            .post("/api/v1/tasks", &server.admin_key, &other_key)
            .await
            .0,
        StatusCode::CREATED
    );
}

/// A task's progress moves forward or stays; a report that goes back is
/// refused and changes nothing.
async fn task_progress_cannot_go_back(server: TestServer) {
    let (_, op) = server.tenant("progress").await;
    let agent = server.agent(&op, &["tasks:claim"], 600).await;
    let (status, created) = server
        .post("/api/v1/tasks", &op, &json!({ "task_type": "progressing" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let task = created["task_id"].as_str().unwrap_or_default().to_owned();
    let (status, claimed) = server
        .get("/api/v1/agents/me/tasks/next", &agent.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{claimed}");
    let progress = format!("/api/v1/tasks/{task}/progress");
    let (status, _) = server
        .post(&progress, &agent.token, &json!({ "percent": 70 }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server
        .post(
            &progress,
            &agent.token,
            &json!({ "percent": 70, "output_chunk": "more" }),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the same percent with more output is progress"
    );
    let (status, problem) = server
        .post(&progress, &agent.token, &json!({ "percent": 30 }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("cannot go back: the task is at 70")),
        "{problem}"
    );
}

on_every_backend!(
    task_progress_cannot_go_back,
    the_full_agent_flow,
    a_batch_is_recorded_whole_or_not_at_all,
    refresh_rotates_and_reuse_revokes_the_session,
    bad_tokens_are_refused,
    login_attempts_and_agent_calls_are_rate_limited,
    other_tenants_objects_do_not_exist,
    roles_limit_what_keys_can_do,
    illegal_transitions_are_conflicts_with_the_current_state,
    concurrent_polls_hand_each_task_to_one_agent,
    concurrent_creates_with_one_dedup_key_make_one_task,
);
