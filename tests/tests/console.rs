//! The web console: sessions, CSRF, roles and tenants over HTTP on every
//! backend, and the pages in a real browser (headless Chromium).

use std::time::Duration;

use agentledger_tests::browser::Browser;
use agentledger_tests::console::{ConsoleSession, attribute_of, sign_in_answer};
use agentledger_tests::{TestServer, on_every_backend};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The id of an `alk_<id>_<secret>` key.
fn key_id(key: &str) -> String {
    let simple = key.split('_').nth(1).unwrap_or_default();
    simple
        .parse::<uuid::Uuid>()
        .map(|id| id.to_string())
        .unwrap_or_default()
}

/// A pending alert of the operator's tenant, once the alert reactor raised one.
async fn pending_alert(server: &TestServer, key: &str) -> String {
    for _ in 0..200 {
        let (_, list) = server.get("/api/v1/alerts?status=pending", key).await;
        if let Some(id) = list["items"][0]["alert_id"].as_str() {
            return id.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no pending alert");
}

async fn alert_status(server: &TestServer, key: &str, alert_id: &str) -> Value {
    let (status, alert) = server.get(&format!("/api/v1/alerts/{alert_id}"), key).await;
    assert_eq!(status, StatusCode::OK, "{alert}");
    alert["status"].clone()
}

/// An alert of a tenant of its own, raised by a failed run.
async fn tenant_with_an_alert(server: &TestServer, name: &str) -> (String, String, String) {
    let (tenant_id, key) = server.tenant(name).await;
    let agent = server.agent(&key, &["runs:write"], 600).await;
    let run = json!({
        "app_type": "moderation", "trigger_type": "schedule", "model": "m-1", "prompt_tokens": 10,
        "completion_tokens": 0, "latency_ms": 5, "status": "failed", "error_message": "upstream 503"
    });
    let (status, answer) = server
        .post("/api/v1/agents/me/runs", &agent.token, &run)
        .await;
    assert!(status.is_success(), "{answer}");
    let alert = pending_alert(server, &key).await;
    (tenant_id, key, alert)
}

async fn signing_in_gives_a_strict_cookie_that_signing_out_ends(server: TestServer) {
    let (_, key) = server.tenant("console sessions").await;
    for refused in [
        "alk_nope",
        "not a key\u{0}",
        &format!("{key}x"),
        &"k".repeat(100_000),
    ] {
        let (status, cookie, page) = sign_in_answer(&server, refused).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{page}");
        assert!(cookie.is_none());
        assert!(page.contains("not an operator API key"), "{page}");
    }
    let agent = server.agent(&key, &["runs:write"], 600).await;
    let (status, _, _) = sign_in_answer(&server, &agent.token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, cookie, _) = sign_in_answer(&server, &key).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cookie = cookie.unwrap_or_default();
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/console",
        "Max-Age=43200",
    ] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    let tls = reqwest::Client::new()
        .post(server.url("/console/sign-in"))
        .header("Origin", &server.base)
        .header("X-Forwarded-Proto", "https")
        .form(&[("api_key", key.as_str())])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = tls;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let behind_tls = client
        .post(server.url("/console/sign-in"))
        .header("Origin", &server.base)
        .header("X-Forwarded-Proto", "https")
        .form(&[("api_key", key.as_str())])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let secure = agentledger_tests::header(&behind_tls, "set-cookie");
    assert!(secure.contains("; Secure"), "{secure}");

    let session = ConsoleSession::sign_in(&server, &key).await;
    let (status, page) = session.get("/console/overview").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("console sessions"), "the tenant is named");
    let (status, headers, _) = session.post("/console/sign-out", &[]).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(headers["hx-redirect"], "/console/sign-in");
    let (status, _) = session.get("/console/overview").await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "the cookie opens nothing after sign-out"
    );

    // Revoking the key ends the sessions it opened.
    let viewer = server
        .key(&server.tenant("revoked").await.0, "viewer")
        .await;
    let session = ConsoleSession::sign_in(&server, &viewer).await;
    let path = format!("/api/v1/api-keys/{}", key_id(&viewer));
    let (status, answer) = server
        .call(
            reqwest::Method::DELETE,
            &path,
            Some(&server.admin_key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, _) = session.get("/console/overview").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = session.get("/console/overview").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}

async fn writes_need_the_sessions_csrf_token_and_a_role_that_writes(server: TestServer) {
    let (tenant_id, key, alert) = tenant_with_an_alert(&server, "console writes").await;
    let path = format!("/console/alerts/{alert}/acknowledge");
    let operator = ConsoleSession::sign_in(&server, &key).await;
    let other = ConsoleSession::sign_in(&server, &key).await;
    assert_ne!(operator.csrf, other.csrf, "each session has its own token");
    let refused = [
        (None, Some(server.base.as_str())),
        (Some("0".repeat(64)), Some(server.base.as_str())),
        (Some(other.csrf.clone()), Some(server.base.as_str())),
        (Some(operator.csrf.clone()), Some("https://evil.example")),
    ];
    for (csrf, origin) in refused {
        let (status, _, page) = operator
            .post_with(&path, &[("note", "forged")], csrf.as_deref(), origin)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
        assert_eq!(alert_status(&server, &key, &alert).await, json!("pending"));
    }

    // A viewer sees no write button, and a write it forges is refused.
    let viewer = server.key(&tenant_id, "viewer").await;
    let viewing = ConsoleSession::sign_in(&server, &viewer).await;
    let (status, page) = viewing.get("/console/alerts").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&alert), "the viewer sees the alert");
    assert!(!page.contains("data-write"), "no write button for a viewer");
    let (status, _, page) = viewing.post(&path, &[("note", "by a viewer")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert_eq!(alert_status(&server, &key, &alert).await, json!("pending"));

    let (status, page) = operator.get("/console/alerts").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("data-write"), "an operator gets the buttons");
    let (status, headers, page) = operator.post(&path, &[("note", "seen \u{1F440}")]).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{page}");
    assert_eq!(headers["hx-refresh"], "true");
    assert_eq!(
        alert_status(&server, &key, &alert).await,
        json!("acknowledged")
    );
    let (_, page) = operator.get("/console/alerts?status=acknowledged").await;
    assert!(page.contains(&alert), "the page shows it as the API does");
}

async fn another_tenants_objects_are_not_found(server: TestServer) {
    let (_, key_a) = server.tenant("tenant a").await;
    let (_, _, alert_b) = tenant_with_an_alert(&server, "tenant b").await;
    let session = ConsoleSession::sign_in(&server, &key_a).await;
    let (status, _, page) = session
        .post(&format!("/console/alerts/{alert_b}/acknowledge"), &[])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{page}");
    let (status, page) = session.get("/console/no-such-view").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{page}");
    // An operator cannot switch tenant; an admin can, to one that exists.
    let (status, _, _) = session
        .post(
            "/console/tenant",
            &[("tenant_id", &uuid::Uuid::new_v4().to_string())],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let admin = ConsoleSession::sign_in(&server, &server.admin_key).await;
    let (status, _, _) = admin
        .post(
            "/console/tenant",
            &[("tenant_id", &uuid::Uuid::new_v4().to_string())],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // An admin switched to tenant b sees its alert and acts in it.
    let (tenant_b, key_b, alert) = tenant_with_an_alert(&server, "tenant b, switched to").await;
    let (_, page) = admin.get("/console/alerts").await;
    assert!(
        !page.contains(&alert),
        "the admin's own tenant is shown first"
    );
    let (status, headers, _) = admin
        .post("/console/tenant", &[("tenant_id", &tenant_b)])
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(headers["hx-redirect"], "/console/overview");
    let (_, page) = admin.get("/console/alerts").await;
    assert!(page.contains(&alert), "tenant b's alert is listed");
    assert!(page.contains("tenant b, switched to"), "tenant b is named");
    let (status, _, _) = admin
        .post(
            &format!("/console/alerts/{alert}/ignore"),
            &[("note", "noise")],
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        alert_status(&server, &key_b, &alert).await,
        json!("ignored")
    );
    let (_, events) = server
        .get(
            &format!("/api/v1/streams/alert-{alert}/events"),
            &server.admin_key,
        )
        .await;
    let ignored = events["events"]
        .as_array()
        .and_then(|all| all.last().cloned())
        .unwrap_or_default();
    assert_eq!(ignored["event_type"], json!("AlertIgnored"), "{ignored}");
    assert_eq!(ignored["tenant_id"], json!(tenant_b), "{ignored}");
}

async fn hostile_filters_get_a_clear_page(server: TestServer) {
    let (_, key) = server.tenant("hostile console").await;
    let session = ConsoleSession::sign_in(&server, &key).await;
    for path in [
        "/console/operations?agent_id=not-a-uuid",
        "/console/operations?from=yesterday",
        "/console/operations?cursor=x",
        "/console/operations?from=2026-03-29T02:30&to=1e400",
    ] {
        let (status, page) = session.get(path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {page}");
        assert!(page.contains("400"), "{page}");
    }
    // No stored text holds U+0000 (and PostgreSQL cannot take it).
    for path in [
        "/console/operations?action=%00",
        "/console/alerts?source=a%00b",
        "/console/runs?app_type=%00",
        "/console/tasks?status=%00",
        "/console/agents?kind=%00",
    ] {
        let (status, page) = session.get(path).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {page}");
        assert!(page.contains("U+0000"), "{page}");
    }
    for path in [
        "/console/operations?action=%01%1b&resource_type=%F0%9F%91%80",
        "/console/operations?cursor=-9223372036854775808",
        "/console/alerts?source=%07&severity=%E2%80%AE",
        &format!("/console/operations?action={}", "a".repeat(10_000)),
    ] {
        let (status, page) = session.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        assert!(
            page.contains("No operation matches") || page.contains("No alert matches"),
            "{page}"
        );
    }
}

type Events = std::pin::Pin<Box<dyn futures::Stream<Item = eventsource_stream::Event> + Send>>;

/// The next event of a live part, or `None` if it ended or none came in 20 s.
async fn next_event(stream: &mut Events) -> Option<eventsource_stream::Event> {
    tokio::time::timeout(Duration::from_secs(20), futures::StreamExt::next(stream))
        .await
        .ok()
        .flatten()
}

/// A running task's page streams its output as the agent reports it, and
/// the stream ends (with `done`, which closes it in the browser) once the
/// task is over.
async fn a_tasks_page_streams_its_output_until_the_task_ends(server: TestServer) {
    let (_, key) = server.tenant("console output").await;
    let agent = server.agent(&key, &["tasks:claim"], 600).await;
    let (status, created) = server
        .post("/api/v1/tasks", &key, &json!({ "task_type": "write" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let task = created["task_id"].as_str().unwrap_or_default().to_owned();
    let (status, _) = server
        .get("/api/v1/agents/me/tasks/next", &agent.token)
        .await;
    assert_eq!(status, StatusCode::OK);
    server.models_reach(None).await;

    let session = ConsoleSession::sign_in(&server, &key).await;
    let (status, page) = session.get(&format!("/console/tasks/{task}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let live = attribute_of(&page, "sse-connect").unwrap_or_else(|| panic!("not live: {page}"));
    assert!(
        page.contains("sse-close=\"done\""),
        "the browser closes it when told"
    );
    let mut stream = session.stream(&live).await;
    let progress = json!({ "percent": 40, "output_chunk": "The answer is <42>." });
    let path = format!("/api/v1/tasks/{task}/progress");
    let (status, answer) = server.post(&path, &agent.token, &progress).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let output = loop {
        let event: eventsource_stream::Event = next_event(&mut stream)
            .await
            .unwrap_or_else(|| panic!("no output came"));
        if event.event == "output" && !event.data.trim().is_empty() {
            break event;
        }
    };
    assert!(
        output.data.contains("The answer is &#60;42&#62;."),
        "{}",
        output.data
    );
    let path = format!("/api/v1/tasks/{task}/complete");
    let (status, answer) = server
        .post(&path, &agent.token, &json!({ "result": {} }))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    loop {
        let event: eventsource_stream::Event = next_event(&mut stream)
            .await
            .unwrap_or_else(|| panic!("the stream did not say done"));
        if event.event == "done" {
            break;
        }
    }
    assert!(next_event(&mut stream).await.is_none(), "the stream ended");
    let (_, page) = session.get(&format!("/console/tasks/{task}")).await;
    assert!(
        attribute_of(&page, "sse-connect").is_none(),
        "an ended task's page is not live"
    );
}

on_every_backend!(
    a_tasks_page_streams_its_output_until_the_task_ends,
    signing_in_gives_a_strict_cookie_that_signing_out_ends,
    writes_need_the_sessions_csrf_token_and_a_role_that_writes,
    another_tenants_objects_are_not_found,
    hostile_filters_get_a_clear_page,
);

/// The first link on the page whose address starts with `prefix` and is a
/// detail page (a UUID after it).
async fn first_detail_link(browser: &Browser, prefix: &str) -> Option<String> {
    let source = browser.client.source().await.unwrap_or_default();
    let start = source.find(&format!("href=\"{prefix}"))? + "href=\"".len();
    let rest = &source[start..];
    let href = &rest[..rest.find('"')?];
    let id = href
        .trim_start_matches(prefix)
        .split(['?', '#', '/'])
        .next()?;
    id.parse::<uuid::Uuid>().ok().map(|_| href.to_owned())
}

/// Opens a page and checks it is a page of the console (not an error page)
/// that logged no error to the browser's console.
async fn visit(browser: &Browser, server: &TestServer, path: &str, shot: Option<&str>) {
    browser.open(&server.url(path), "main h1").await;
    let bare = browser.count("body.bare").await;
    let heading = browser.text("main h1").await;
    assert_eq!(bare, 0, "{path} is an error page: {heading}");
    // Charts and live feeds start once the scripts ran.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "{path} logged errors: {errors:?}");
    if let Some(name) = shot {
        browser.screenshot(name).await;
    }
}

async fn sign_in_with(browser: &Browser, server: &TestServer, key: &str) {
    browser
        .open(&server.url("/console/overview"), "#api_key")
        .await;
    let field = browser.wait_for("#api_key").await;
    field.send_keys(key).await.unwrap_or_else(|e| panic!("{e}"));
    let submit = browser.wait_for("form button[type=submit]").await;
    submit.click().await.unwrap_or_else(|e| panic!("{e}"));
    browser.wait_for("#overview").await;
}

async fn sign_out(browser: &Browser) {
    let button = browser.wait_for("#sign-out").await;
    button.click().await.unwrap_or_else(|e| panic!("{e}"));
    browser.wait_for("#api_key").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_a_real_browser() {
    let server = TestServer::start(agentledger_store::testing::TestDatabase::sqlite()).await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    let state = &server.state;
    let demo = agentledger_app::demo::seed(&state.handler, &state.database, 7, 7)
        .await
        .unwrap_or_else(|e| panic!("demo: {e}"));
    server.models_reach(Some(demo.head)).await;
    let tenant = demo.tenant_id.to_string();
    let operator = demo.operator_key.clone();

    // Signing in.
    browser
        .open(&server.url("/console/overview"), "#api_key")
        .await;
    browser.screenshot("sign-in").await;
    sign_in_with(&browser, &server, &operator).await;
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "signing in logged {errors:?}");

    // Every view, with the demo's data.
    for (path, shot) in [
        ("/console/overview", Some("overview")),
        ("/console/operations", Some("operations")),
        ("/console/runs", Some("runs")),
        ("/console/agents", Some("agents")),
        ("/console/tasks", Some("tasks")),
        ("/console/workflows", Some("workflows")),
        ("/console/executions", None),
        ("/console/alerts", Some("alerts")),
        ("/console/budgets", Some("budgets")),
        ("/console/audit", None),
        ("/console/audit/as-of?position=100", Some("as-of")),
        ("/console/webhooks", Some("webhooks")),
    ] {
        visit(&browser, &server, path, shot).await;
    }
    // And a detail page of each kind.
    for (list, prefix, shot) in [
        ("/console/runs", "/console/runs/", Some("run")),
        ("/console/agents", "/console/agents/", Some("agent")),
        ("/console/tasks", "/console/tasks/", Some("task")),
        ("/console/workflows", "/console/workflows/", None),
        (
            "/console/executions",
            "/console/executions/",
            Some("execution"),
        ),
        ("/console/webhooks", "/console/webhooks/", None),
    ] {
        browser.open(&server.url(list), "main h1").await;
        let href = first_detail_link(&browser, prefix)
            .await
            .unwrap_or_else(|| panic!("{list} links to no {prefix}…"));
        visit(&browser, &server, &href, shot).await;
    }

    // What the API records appears on the open pages without a reload.
    let agent = server
        .agent(&operator, &["actions:write", "runs:write"], 10_000)
        .await;
    visit(&browser, &server, "/console/overview", None).await;
    let calls_before = browser.text("[data-figure=calls]").await;
    let run = json!({
        "app_type": "moderation", "trigger_type": "schedule", "model": "m-1", "prompt_tokens": 10,
        "completion_tokens": 5, "latency_ms": 7, "status": "success"
    });
    let (status, answer) = server
        .post("/api/v1/agents/me/runs", &agent.token, &run)
        .await;
    assert!(status.is_success(), "{answer}");
    let before = calls_before.clone();
    browser
        .wait_until("the overview's calls moving", |source| {
            figure(source, "calls").is_some_and(|now| now != before)
        })
        .await;
    visit(&browser, &server, "/console/operations", None).await;
    let action = json!({ "action": "console-live-check", "resource_type": "page", "status": "success", "execution_time_ms": 3 });
    let (status, answer) = server
        .post("/api/v1/agents/me/actions", &agent.token, &action)
        .await;
    assert!(status.is_success(), "{answer}");
    browser
        .wait_until("the new operation in the log", |s| {
            s.contains("console-live-check")
        })
        .await;
    assert!(browser.console_errors().await.is_empty());

    // Acknowledging an alert from its page changes what the API answers.
    let alert = pending_alert(&server, &operator).await;
    visit(&browser, &server, "/console/alerts?status=pending", None).await;
    let note = browser
        .wait_for(&format!("#alert-{alert} input[name=note]"))
        .await;
    note.send_keys("checked from the console")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ack = browser
        .wait_for(&format!("#alert-{alert} button[hx-post$=acknowledge]"))
        .await;
    ack.click().await.unwrap_or_else(|e| panic!("{e}"));
    let mut acknowledged = false;
    for _ in 0..100 {
        if alert_status(&server, &operator, &alert).await == json!("acknowledged") {
            acknowledged = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(acknowledged, "the API still says pending");
    let (_, detail) = server
        .get(&format!("/api/v1/alerts/{alert}"), &operator)
        .await;
    assert!(
        detail.to_string().contains("checked from the console"),
        "{detail}"
    );

    // Keyboard: a digit opens its view.
    visit(&browser, &server, "/console/overview", None).await;
    let body = browser.wait_for("body").await;
    body.send_keys("2").await.unwrap_or_else(|e| panic!("{e}"));
    browser.wait_for("body[data-view=operations]").await;

    // On a phone's width nothing overflows sideways.
    browser
        .client
        .set_window_size(390, 844)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    visit(
        &browser,
        &server,
        "/console/overview",
        Some("overview-phone"),
    )
    .await;
    let overflow = browser
        .client
        .execute(
            "return document.documentElement.scrollWidth - window.innerWidth",
            vec![],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        overflow.as_i64().unwrap_or(i64::MAX) <= 0,
        "{overflow} px wider than the phone"
    );
    browser
        .client
        .set_window_size(1280, 900)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    sign_out(&browser).await;
    browser
        .open(&server.url("/console/alerts"), "#api_key")
        .await;

    // A viewer sees no write button, and a write forged from its page is refused.
    let viewer = server.key(&tenant, "viewer").await;
    sign_in_with(&browser, &server, &viewer).await;
    for path in [
        "/console/alerts?status=pending",
        "/console/budgets",
        "/console/tasks",
    ] {
        visit(&browser, &server, path, None).await;
        assert_eq!(
            browser.count("[data-write]").await,
            0,
            "{path} offers a viewer a write"
        );
    }
    let alert = pending_alert(&server, &operator).await;
    let forged = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const csrf = JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token'];
             fetch(arguments[0], { method: 'POST', headers: { 'X-CSRF-Token': csrf,
                   'Content-Type': 'application/x-www-form-urlencoded' }, body: 'note=forged' })
               .then(r => done(r.status), e => done(String(e)));",
            vec![json!(format!("/console/alerts/{alert}/acknowledge"))],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(forged, json!(403));
    assert_eq!(
        alert_status(&server, &operator, &alert).await,
        json!("pending")
    );
    // The refused request was logged by the browser as a failed resource.
    let _ = browser.console_errors().await;
    sign_out(&browser).await;

    // An auditor reads the history, verifies the chain and sees the past.
    let auditor = server.key(&tenant, "auditor").await;
    sign_in_with(&browser, &server, &auditor).await;
    visit(&browser, &server, "/console/audit", Some("audit")).await;
    let verify = browser
        .wait_for("button[hx-get='/console/audit/verify']")
        .await;
    verify.click().await.unwrap_or_else(|e| panic!("{e}"));
    browser
        .wait_until("the chain verified", |s| s.contains("Intact:"))
        .await;
    sign_out(&browser).await;
    browser.close().await;
}

/// The figure shown under `data-figure=name`.
fn figure(source: &str, name: &str) -> Option<String> {
    let start = source.find(&format!("data-figure=\"{name}\">"))?
        + format!("data-figure=\"{name}\">").len();
    let rest = &source[start..];
    Some(rest[..rest.find('<')?].to_owned())
}
