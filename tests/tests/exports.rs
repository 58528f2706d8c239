//! Exports read back by ordinary tools (the parquet and csv crates, a JSON
//! parser) and compared row by row with the source they came from.

use agentledger_store::{EventFilter, RecordedEvent};
use agentledger_tests::{TestServer, header, on_every_backend};
use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn download(server: &TestServer, path: &str, key: &str) -> (String, bytes::Bytes) {
    let response = server
        .http
        .get(server.url(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let content_type = header(&response, "content-type");
    let body = response.bytes().await.unwrap_or_else(|e| panic!("{e}"));
    (content_type, body)
}

fn parquet_batches(body: bytes::Bytes) -> Vec<RecordBatch> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(body)
        .and_then(|b| b.build())
        .unwrap_or_else(|e| panic!("not a Parquet file: {e}"));
    reader
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn text(batch: &RecordBatch, column: &str, row: usize) -> Option<String> {
    let array = batch.column_by_name(column)?.as_string::<i32>();
    (!array.is_null(row)).then(|| array.value(row).to_owned())
}

fn int64(batch: &RecordBatch, column: &str, row: usize) -> Option<i64> {
    Some(
        batch
            .column_by_name(column)?
            .as_primitive::<Int64Type>()
            .value(row),
    )
}

/// A timestamp column's value as the API writes an instant.
fn instant(batch: &RecordBatch, column: &str, row: usize) -> Value {
    let micros = batch
        .column_by_name(column)
        .map(|c| c.as_primitive::<TimestampMicrosecondType>().value(row));
    json!(micros.and_then(chrono::DateTime::from_timestamp_micros))
}

/// A money column's value (six decimals) as the API writes dollars.
fn dollars(batch: &RecordBatch, column: &str, row: usize) -> Value {
    let micros = batch
        .column_by_name(column)
        .map(|c| c.as_primitive::<Decimal128Type>().value(row))
        .and_then(|m| i64::try_from(m).ok());
    json!(micros.map(agentledger_projections::wire::dollars))
}

async fn activity(server: &TestServer, key: &str) -> u64 {
    let agent = server
        .agent(key, &["actions:write", "batch", "runs:write"], 10_000)
        .await;
    let actions: Vec<Value> = (0..40)
        .map(|i| json!({ "action": format!("act-{}", i % 4), "resource_type": "post", "status": "success", "confidence": 0.25 * (i % 4) as f64, "execution_time_ms": i }))
        .collect();
    let (status, body) = server
        .post(
            "/api/v1/agents/me/actions/batch",
            &agent.token,
            &json!({ "actions": actions }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mut last = 0;
    for i in 0..15u64 {
        let run = json!({
            "app_type": if i % 2 == 0 { "moderation" } else { "search" }, "trigger_type": "manual",
            "model": "m", "prompt_tokens": 10 * i, "completion_tokens": i, "cost_usd": 0.001,
            "latency_ms": 20 + i, "status": if i == 3 { "failed" } else { "success" },
            "error_message": if i == 3 { Some("quote \" and, comma") } else { None }
        });
        let (status, body) = server
            .post("/api/v1/agents/me/runs", &agent.token, &run)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        last = body["position"].as_u64().unwrap_or_default();
    }
    last
}

async fn source_events(server: &TestServer, tenant: Option<uuid::Uuid>) -> Vec<RecordedEvent> {
    let filter = EventFilter {
        tenant_id: tenant,
        ..EventFilter::default()
    };
    server
        .state
        .store
        .read_all(1, 1_000_000, &filter)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn events_export_as_parquet_csv_and_json_lines_equal_the_log(server: TestServer) {
    let (tenant, operator) = server.tenant("exported").await;
    activity(&server, &operator).await;
    activity(&server, &server.admin_key.clone()).await;
    let tenant_id: uuid::Uuid = tenant.parse().unwrap_or_default();
    let auditor = server.key(&tenant, "auditor").await;
    // An auditor's export holds its own tenant's events only; the log may
    // grow while the export runs, so compare with a read taken before it.
    let source = source_events(&server, Some(tenant_id)).await;
    assert!(source.len() > 55);

    let (content_type, body) =
        download(&server, "/api/v1/exports/events?format=parquet", &auditor).await;
    assert_eq!(content_type, "application/vnd.apache.parquet");
    let batches = parquet_batches(body);
    let mut row = 0;
    for batch in &batches {
        for i in 0..batch.num_rows() {
            let Some(e) = source.get(row) else { break };
            assert_eq!(int64(batch, "position", i), Some(e.position as i64));
            assert_eq!(
                text(batch, "stream_id", i).as_deref(),
                Some(e.stream_id.as_str())
            );
            assert_eq!(
                int64(batch, "stream_version", i),
                Some(e.stream_version as i64)
            );
            assert_eq!(text(batch, "event_id", i), Some(e.event_id.to_string()));
            assert_eq!(
                text(batch, "event_type", i).as_deref(),
                Some(e.event_type.as_str())
            );
            let version = batch
                .column_by_name("schema_version")
                .map(|c| c.as_primitive::<Int32Type>().value(i));
            assert_eq!(version, Some(e.schema_version));
            assert_eq!(text(batch, "tenant_id", i), Some(tenant.clone()));
            assert_eq!(instant(batch, "occurred_at", i), json!(e.occurred_at));
            assert_eq!(instant(batch, "recorded_at", i), json!(e.recorded_at));
            assert_eq!(
                text(batch, "actor_kind", i).as_deref(),
                Some(e.actor.kind.as_str())
            );
            assert_eq!(
                text(batch, "actor_id", i).as_deref(),
                Some(e.actor.id.as_str())
            );
            assert_eq!(
                text(batch, "correlation_id", i),
                e.correlation_id.map(|c| c.to_string())
            );
            assert_eq!(
                text(batch, "causation_id", i),
                e.causation_id.map(|c| c.to_string())
            );
            let payload: Option<Value> =
                text(batch, "payload", i).and_then(|p| serde_json::from_str(&p).ok());
            assert_eq!(payload.as_ref(), Some(&e.payload));
            assert_eq!(
                text(batch, "hash", i),
                Some(agentledger_store::to_hex(&e.hash))
            );
            row += 1;
        }
    }
    assert!(
        row >= source.len(),
        "{row} rows for {} events",
        source.len()
    );

    let (content_type, body) =
        download(&server, "/api/v1/exports/events?format=csv", &auditor).await;
    assert!(content_type.starts_with("text/csv"));
    let mut reader = csv::Reader::from_reader(body.as_ref());
    let headers = reader.headers().cloned().unwrap_or_default();
    assert_eq!(headers.get(0), Some("position"));
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap_or(usize::MAX);
    let records: Vec<csv::StringRecord> = reader.records().filter_map(Result::ok).collect();
    for (record, e) in records.iter().zip(&source) {
        assert_eq!(
            record.get(column("position")),
            Some(e.position.to_string().as_str())
        );
        assert_eq!(
            record.get(column("event_id")),
            Some(e.event_id.to_string().as_str())
        );
        let occurred = record
            .get(column("occurred_at"))
            .and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok());
        assert_eq!(occurred, Some(e.occurred_at));
        let payload: Option<Value> = record
            .get(column("payload"))
            .and_then(|p| serde_json::from_str(p).ok());
        assert_eq!(payload.as_ref(), Some(&e.payload));
        let correlation = record
            .get(column("correlation_id"))
            .filter(|c| !c.is_empty());
        assert_eq!(
            correlation.map(str::to_owned),
            e.correlation_id.map(|c| c.to_string())
        );
    }
    assert!(records.len() >= source.len());

    let (content_type, body) = download(
        &server,
        "/api/v1/exports/events?format=jsonl&types=LlmRunRecorded",
        &auditor,
    )
    .await;
    assert_eq!(content_type, "application/jsonl");
    let lines: Vec<Value> = std::str::from_utf8(&body)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let runs: Vec<&RecordedEvent> = source
        .iter()
        .filter(|e| e.event_type == "LlmRunRecorded")
        .collect();
    assert_eq!(lines.len(), runs.len());
    for (line, e) in lines.iter().zip(runs) {
        assert_eq!(line["position"], json!(e.position));
        // The payload is embedded as JSON, not as a string of JSON.
        assert_eq!(line["payload"], e.payload);
        assert_eq!(line["causation_id"], Value::Null);
    }

    // Admins export every tenant's events by default.
    let everything = source_events(&server, None).await;
    let (_, body) = download(
        &server,
        "/api/v1/exports/events?format=parquet",
        &server.admin_key,
    )
    .await;
    let rows: usize = parquet_batches(body)
        .iter()
        .map(RecordBatch::num_rows)
        .sum();
    assert!(rows >= everything.len() && everything.len() > source.len());
}

async fn read_model_exports_equal_their_queries(server: TestServer) {
    let (tenant, operator) = server.tenant("models").await;
    let last = activity(&server, &operator).await;
    let auditor = server.key(&tenant, "auditor").await;

    let (status, listed) = server
        .get(
            &format!("/api/v1/runs?limit=500&min_position={last}"),
            &auditor,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let listed = listed["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(listed.len(), 15);
    let (_, body) = download(&server, "/api/v1/exports/runs?format=parquet", &auditor).await;
    let batches = parquet_batches(body);
    let mut exported = Vec::new();
    for batch in &batches {
        for i in 0..batch.num_rows() {
            exported.push(json!({
                "position": int64(batch, "position", i),
                "run_id": text(batch, "run_id", i),
                "app_type": text(batch, "app_type", i),
                "prompt_tokens": int64(batch, "prompt_tokens", i),
                "latency_ms": int64(batch, "latency_ms", i),
                "status": text(batch, "status", i),
                "error_message": text(batch, "error_message", i),
                "cost_usd": dollars(batch, "cost_usd", i),
                "occurred_at": instant(batch, "occurred_at", i),
            }));
        }
    }
    let expected: Vec<Value> = listed
        .iter()
        .map(|r| {
            json!({
                "position": r["position"], "run_id": r["run_id"], "app_type": r["app_type"],
                "prompt_tokens": r["prompt_tokens"], "latency_ms": r["latency_ms"], "status": r["status"],
                "error_message": r["error_message"], "cost_usd": r["cost_usd"], "occurred_at": r["occurred_at"],
            })
        })
        .collect();
    assert_eq!(exported, expected);

    let (status, ops) = server
        .get(
            &format!("/api/v1/operations?limit=500&min_position={last}"),
            &auditor,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let ops = ops["items"].as_array().cloned().unwrap_or_default();
    let (_, body) = download(&server, "/api/v1/exports/operations?format=csv", &auditor).await;
    let mut reader = csv::Reader::from_reader(body.as_ref());
    let records: Vec<csv::StringRecord> = reader.records().filter_map(Result::ok).collect();
    assert_eq!(records.len(), 40);
    for (record, op) in records.iter().zip(&ops) {
        assert_eq!(record.get(0), Some(op["position"].to_string().as_str()));
        assert_eq!(record.get(2), op["action"].as_str());
        let confidence = record.get(6).and_then(|c| c.parse::<f64>().ok());
        assert_eq!(confidence, op["confidence"].as_f64());
    }

    let (status, usage) = server
        .get(
            &format!("/api/v1/usage?by=model&min_position={last}"),
            &auditor,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = download(
        &server,
        "/api/v1/exports/usage?format=jsonl&by=model",
        &auditor,
    )
    .await;
    let lines: Vec<Value> = std::str::from_utf8(&body)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(Some(&lines), usage["items"].as_array());
}

async fn export_requests_are_checked(server: TestServer) {
    let (tenant, operator) = server.tenant("checked").await;
    let viewer = server.key(&tenant, "viewer").await;
    let auditor = server.key(&tenant, "auditor").await;
    let (other, _) = server.tenant("other").await;
    for (path, key, status) in [
        (
            "/api/v1/exports/events?format=csv",
            &viewer,
            StatusCode::FORBIDDEN,
        ),
        (
            "/api/v1/exports/events?format=csv",
            &operator,
            StatusCode::FORBIDDEN,
        ),
        (
            "/api/v1/exports/events?format=xlsx",
            &auditor,
            StatusCode::BAD_REQUEST,
        ),
        ("/api/v1/exports/events", &auditor, StatusCode::BAD_REQUEST),
        (
            "/api/v1/exports/invoices?format=csv",
            &auditor,
            StatusCode::NOT_FOUND,
        ),
        (
            &format!("/api/v1/exports/events?format=csv&tenant_id={other}"),
            &auditor,
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/v1/exports/runs?format=csv&types=A",
            &auditor,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v1/exports/runs?format=csv",
            &server.admin_key,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let (got, body) = server.get(path, key).await;
        assert_eq!(got, status, "{path}: {body}");
    }
    // An empty export is still a readable file with its columns.
    let (_, body) = download(&server, "/api/v1/exports/runs?format=csv", &auditor).await;
    assert_eq!(
        std::str::from_utf8(&body)
            .ok()
            .and_then(|s| s.lines().next()),
        Some(
            "position,run_id,agent_id,app_type,trigger_type,member_id,model,prompt_tokens,\
             completion_tokens,cost_usd,latency_ms,status,error_message,session_id,occurred_at"
        )
    );
    let (_, body) = download(&server, "/api/v1/exports/runs?format=parquet", &auditor).await;
    assert_eq!(
        parquet_batches(body)
            .iter()
            .map(RecordBatch::num_rows)
            .sum::<usize>(),
        0
    );
}

on_every_backend!(
    events_export_as_parquet_csv_and_json_lines_equal_the_log,
    read_model_exports_equal_their_queries,
    export_requests_are_checked,
);
