//! Two `agentledger serve` processes on one PostgreSQL log, as a cluster
//! runs them: what an agent does through one server and an operator through
//! the other behaves as on one server.

use std::collections::HashMap;
use std::time::Duration;

use agentledger_store::testing::TestDatabase;
use agentledger_tests::{Client, read};
use reqwest::StatusCode;
use serde_json::json;

mod common;
use common::start_server_with;

/// The shared secret: a token one server issues, another accepts.
const SECRET: &str = "cluster-test-secret-cluster-test-secret";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_servers_on_one_log_act_as_one() {
    let Some(db) = TestDatabase::postgres("two_servers_on_one_log").await else {
        return;
    };
    let options = ["--jwt-secret", SECRET];
    let first = start_server_with(db.url(), &options).await;
    let second = start_server_with(db.url(), &options).await;
    let Some(key) = first.admin_key.clone() else {
        panic!("the first server prints the admin key")
    };
    let (a, b) = (
        Client::new(first.base.clone()),
        Client::new(second.base.clone()),
    );

    // A command issued through A reaches an agent waiting on B (with the
    // token A gave it: the servers share the secret).
    let agent = a.agent(&key, &["commands:poll"], 6000).await;
    let (agent_id, token) = (agent.agent_id, agent.token);
    let waiting = {
        let http = b.http.clone();
        let url = format!("{}/api/v1/agents/me/commands?wait=25", b.base);
        let token = token.clone();
        tokio::spawn(async move { read(http.get(&url).bearer_auth(&token).send().await).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, issued) = a
        .post(
            &format!("/api/v1/agents/{agent_id}/commands"),
            &key,
            &json!({ "command": "ping" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let (status, answer) = waiting.await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["commands"][0]["command_id"], issued["command_id"]);

    // Agents on both servers claim tasks created on one: each task is
    // handed to exactly one of them.
    const TASKS: usize = 24;
    let mut created = Vec::new();
    for n in 0..TASKS {
        let (status, task) = a
            .post(
                "/api/v1/tasks",
                &key,
                &json!({ "task_type": format!("t{n}") }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{task}");
        created.push(task["task_id"].as_str().unwrap_or_default().to_owned());
    }
    let mut claimers = Vec::new();
    for n in 0..4 {
        let at = if n % 2 == 0 { &a } else { &b };
        let token = a.agent(&key, &["tasks:claim"], 6000).await.token;
        let (http, base) = (at.http.clone(), at.base.clone());
        claimers.push(tokio::spawn(async move {
            let mut claimed = Vec::new();
            let mut empty = 0;
            // Until the queue has looked empty a few times in a row: another
            // server's claims reach this one's queue a moment later.
            while empty < 5 {
                let url = format!("{base}/api/v1/agents/me/tasks/next");
                let (status, task) = read(http.get(&url).bearer_auth(&token).send().await).await;
                match status {
                    StatusCode::OK => {
                        empty = 0;
                        claimed.push(task["task_id"].as_str().unwrap_or_default().to_owned());
                    }
                    StatusCode::NO_CONTENT => {
                        empty += 1;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    other => panic!("claim: {other} {task}"),
                }
            }
            claimed
        }));
    }
    let mut claims = HashMap::<String, usize>::new();
    for claimer in claimers {
        for task in claimer.await.unwrap_or_else(|e| panic!("{e}")) {
            *claims.entry(task).or_default() += 1;
        }
    }
    let twice: Vec<_> = claims.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "claimed more than once: {twice:?}");
    let mut handed: Vec<_> = claims.into_keys().collect();
    handed.sort();
    created.sort();
    assert_eq!(handed, created, "every task handed out");

    // What one server wrote, the other's read models hold once they reach
    // the position it answered with.
    let (status, last) = a
        .post("/api/v1/tasks", &key, &json!({ "task_type": "last" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{last}");
    let path = format!(
        "/api/v1/tasks?limit=100&min_position={}",
        last["position"].as_u64().unwrap_or(u64::MAX)
    );
    let (status, listed) = b.get(&path, &key).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let items = listed["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), TASKS + 1, "{listed}");
}
