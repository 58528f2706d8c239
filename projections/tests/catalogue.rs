//! One example of every event type of the catalogue goes through the decode
//! path the read models use (`engine::decode_event`): each must come back as
//! itself, under the enum its type names and no other, and its stored type
//! (the serde tag) must be the name generated from its variant. A variant
//! renamed on one side only, or a type added without an example here, fails.

use std::fmt::Debug;

use agentledger_domain::agent::AgentEvent;
use agentledger_domain::alert::{AlertEvent, AlertSource, RaisedAlert, Severity};
use agentledger_domain::api_key::{ApiKeyEvent, Role};
use agentledger_domain::budget::{BatchEvent, BudgetEvent, BudgetScope, Limits};
use agentledger_domain::cache::CacheEvent;
use agentledger_domain::codec::encode;
use agentledger_domain::dedup::DedupEvent;
use agentledger_domain::delivery::{DeliveryEvent, FailedAttempt};
use agentledger_domain::enrollment::EnrollmentTokenEvent;
use agentledger_domain::execution::ExecutionEvent;
use agentledger_domain::ids::{AgentId, ApiKeyId, TaskId, TenantId};
use agentledger_domain::instruction::{InstructionEvent, OutputStream, TemplateEvent};
use agentledger_domain::lifecycle::LifecycleAction;
use agentledger_domain::reports::{ActionStatus, ReportEvent, RunStatus};
use agentledger_domain::task::{NewTask, TaskEvent};
use agentledger_domain::tenant::{InstallationEvent, TenantEvent};
use agentledger_domain::tool::{OfferedTool, ToolDefinition, ToolEvent, ToolKind, ToolTest};
use agentledger_domain::upcast::current_version;
use agentledger_domain::webhook::WebhookEvent;
use agentledger_domain::workflow::{Step, StepAction, WorkflowEvent, WorkflowSpec};
use agentledger_domain::{Actor, Event, catalogue};
use agentledger_projections::engine::{Decoded, decode_event};
use agentledger_store::RecordedEvent;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

fn at() -> DateTime<Utc> {
    DateTime::from_timestamp_micros(1_767_323_045_123_456).unwrap_or_default()
}

fn stored(event_type: &str, payload: Value) -> RecordedEvent {
    RecordedEvent {
        position: 1,
        stream_id: "any-1".into(),
        stream_version: 0,
        event_id: Uuid::now_v7(),
        event_type: event_type.to_owned(),
        schema_version: current_version(event_type),
        tenant_id: Uuid::now_v7(),
        occurred_at: at(),
        recorded_at: at(),
        actor: Actor::system("test"),
        correlation_id: None,
        causation_id: None,
        payload,
        hash: vec![0; 32],
    }
}

/// How many of the catalogue's enums read `event` as one of theirs.
fn enums_reading(event: &RecordedEvent) -> usize {
    // Each enum is asked on a `Decoded` of its own: one that another enum
    // has filled would hide a second enum claiming the same type.
    fn reads<E: Event>(event: &RecordedEvent) -> bool {
        matches!(decode_event::<E>(&Decoded::new(event)), Ok(Some(_)))
    }
    [
        reads::<AgentEvent>(event),
        reads::<AlertEvent>(event),
        reads::<ApiKeyEvent>(event),
        reads::<BudgetEvent>(event),
        reads::<BatchEvent>(event),
        reads::<CacheEvent>(event),
        reads::<DedupEvent>(event),
        reads::<DeliveryEvent>(event),
        reads::<InstructionEvent>(event),
        reads::<TemplateEvent>(event),
        reads::<ReportEvent>(event),
        reads::<TaskEvent>(event),
        reads::<TenantEvent>(event),
        reads::<InstallationEvent>(event),
        reads::<WebhookEvent>(event),
        reads::<ToolEvent>(event),
        reads::<WorkflowEvent>(event),
        reads::<ExecutionEvent>(event),
        reads::<EnrollmentTokenEvent>(event),
    ]
    .into_iter()
    .filter(|read| *read)
    .count()
}

/// Checks each example; returns the type names it covered.
fn round_trip<E: Event + PartialEq + Debug>(examples: Vec<E>) -> Vec<&'static str> {
    let mut covered = Vec::with_capacity(examples.len());
    for example in examples {
        let (tag, payload) = match encode(&example) {
            Ok(encoded) => encoded,
            Err(e) => panic!("{example:?} does not encode: {e}"),
        };
        assert_eq!(tag, example.event_type(), "serde tag and generated name");
        let event = stored(&tag, payload);
        match decode_event::<E>(&Decoded::new(&event)) {
            Ok(Some(back)) => assert_eq!(back, &example, "{tag}"),
            other => panic!("{tag} does not decode as itself: {other:?}"),
        }
        assert_eq!(enums_reading(&event), 1, "{tag} is one enum's");
        covered.push(example.event_type());
    }
    covered
}

fn new_task() -> NewTask {
    NewTask {
        tenant_id: TenantId::new(),
        task_type: "moderate".into(),
        input: json!({ "post": 7 }),
        priority: 2,
        callback_url: Some("https://example.com/done".into()),
        dedup_key: Some("k".into()),
        forced: false,
        retry_of: Some(TaskId::new()),
        agent_kind: Some("moderator".into()),
        step: Some(agentledger_domain::task::StepAttempt {
            execution_id: uuid::Uuid::now_v7(),
            step: "review".into(),
            attempt: 2,
        }),
    }
}

#[test]
fn every_declared_event_type_decodes_through_the_read_models_path() {
    let agent = AgentId::new();
    let mut covered = Vec::new();
    covered.extend(round_trip(vec![
        AgentEvent::AgentRegistered {
            tenant_id: TenantId::new(),
            name: "bot".into(),
            kind: "moderator".into(),
            permissions: vec!["actions:write".into()],
            rate_limit_per_minute: 60,
            secret_hash: "h".into(),
        },
        AgentEvent::AgentSecretRotated {
            secret_hash: "h2".into(),
        },
        AgentEvent::AgentPermissionsChanged {
            permissions: vec![],
            rate_limit_per_minute: 1,
        },
        AgentEvent::AgentDisabled { reason: "r".into() },
        AgentEvent::AgentRenamed { name: "n2".into() },
        AgentEvent::AgentRetired { reason: "r".into() },
        AgentEvent::AgentEnabled,
        AgentEvent::AgentAuthenticated {
            session_id: Uuid::now_v7(),
            refresh_hash: "r".into(),
            expires_at: at(),
        },
        AgentEvent::AgentAuthenticationFailed {
            reason: "bad secret".into(),
            source: Some("203.0.113.9".into()),
        },
        AgentEvent::RefreshTokenRotated {
            session_id: Uuid::now_v7(),
            refresh_hash: "r2".into(),
            expires_at: at(),
        },
        AgentEvent::RefreshTokenReused {
            session_id: Uuid::now_v7(),
        },
        AgentEvent::AgentWentOnline,
        AgentEvent::AgentWentOffline { last_seen_at: at() },
    ]));
    covered.extend(round_trip(vec![
        AlertEvent::AlertRaised(RaisedAlert {
            tenant_id: TenantId::new(),
            source: AlertSource::Budget,
            severity: Severity::Critical,
            title: "t".into(),
            detail: "d".into(),
            subject: "s".into(),
        }),
        AlertEvent::AlertAcknowledged {
            note: Some("seen".into()),
        },
        AlertEvent::AlertIgnored { note: None },
    ]));
    covered.extend(round_trip(vec![
        ApiKeyEvent::ApiKeyCreated {
            tenant_id: TenantId::new(),
            role: Role::Operator,
            label: "ops".into(),
            secret_hash: "h".into(),
        },
        ApiKeyEvent::ApiKeyRevoked,
    ]));
    covered.extend(round_trip(vec![
        BudgetEvent::BudgetSet(Limits {
            daily_tokens: Some(1000),
            monthly_tokens: None,
            daily_cost_micros: Some(5),
            monthly_cost_micros: None,
        }),
        BudgetEvent::BudgetRuleSet {
            scope: BudgetScope::Agent {
                agent_id: AgentId::new(),
            },
            limits: Limits {
                monthly_cost_micros: Some(7),
                ..Limits::default()
            },
            thresholds_percent: vec![50, 90],
            hard_stop: true,
        },
        BudgetEvent::BudgetRuleRemoved {
            scope: BudgetScope::Model { model: "m".into() },
        },
    ]));
    covered.extend(round_trip(vec![
        BatchEvent::BatchEstimated {
            tenant_id: TenantId::new(),
            app_types: vec!["moderation".into()],
            member_ids: vec!["m1".into()],
            avg_tokens_per_call: 100,
            estimated_calls: 2,
            estimated_tokens: 200,
            expires_at: at(),
        },
        BatchEvent::BatchConfirmed {
            task_ids: vec![TaskId::new()],
        },
    ]));
    covered.extend(round_trip(vec![
        CacheEvent::CacheEntryStored {
            agent_id: agent,
            cache_type: "verdict".into(),
            target: "post-1".into(),
            value: json!({ "ok": true }),
            expires_at: Some(at()),
        },
        CacheEvent::CacheInvalidated {
            cache_type: None,
            target: Some("post-1".into()),
            entries: 1,
        },
    ]));
    covered.extend(round_trip(vec![
        DedupEvent::DedupKeyReserved {
            dedup_key: "k".into(),
            task_id: TaskId::new(),
            expires_at: at(),
        },
        DedupEvent::DuplicateTaskSkipped {
            dedup_key: "k".into(),
            task_id: TaskId::new(),
            duplicate_of: TaskId::new(),
        },
    ]));
    covered.extend(round_trip(vec![
        InstructionEvent::CommandIssued {
            tenant_id: TenantId::new(),
            agent_id: agent,
            command: "restart".into(),
            args: json!(["--now"]),
            timeout_seconds: 30,
            template_id: Some(Uuid::now_v7()),
            deadline: at(),
            action: None,
        },
        InstructionEvent::CommandDelivered,
        InstructionEvent::CommandOutputAppended {
            stream: OutputStream::Stderr,
            chunk: "line".into(),
            seq: 3,
        },
        InstructionEvent::CommandProgressReported {
            stage: "download".into(),
            percent: 30,
        },
        InstructionEvent::CommandFinished {
            success: false,
            exit_code: Some(2),
            output: None,
        },
        InstructionEvent::CommandTimedOut,
    ]));
    // A lifecycle command is a command of the same type, with its action.
    round_trip(vec![InstructionEvent::CommandIssued {
        tenant_id: TenantId::new(),
        agent_id: agent,
        command: "upgrade".into(),
        args: json!({ "version": "2.4.1" }),
        timeout_seconds: 600,
        template_id: None,
        deadline: at(),
        action: Some(LifecycleAction::Upgrade {
            version: "2.4.1".into(),
            package_url: "https://downloads.example.com/agent.tar.gz".into(),
            checksum: format!("sha256:{}", "ab".repeat(32)),
        }),
    }]);
    covered.extend(round_trip(vec![
        TemplateEvent::CommandTemplateCreated {
            tenant_id: TenantId::new(),
            name: "restart".into(),
            command: "restart".into(),
            args: json!({}),
            timeout_seconds: 10,
        },
        TemplateEvent::CommandTemplateUpdated {
            name: "restart".into(),
            command: "restart".into(),
            args: json!({ "force": true }),
            timeout_seconds: 20,
        },
        TemplateEvent::CommandTemplateDeleted,
    ]));
    covered.extend(round_trip(vec![
        ReportEvent::ActionRecorded {
            agent_id: agent,
            action: "approve_post".into(),
            resource_type: "post".into(),
            resource_id: Some("p1".into()),
            status: ActionStatus::Failed,
            confidence: Some(0.5),
            reasoning: Some("why".into()),
            request_data: Some(json!({ "a": 1 })),
            execution_time_ms: Some(12),
        },
        ReportEvent::LlmRunRecorded {
            agent_id: agent,
            app_type: "moderation".into(),
            trigger_type: "t".into(),
            member_id: None,
            model: "m".into(),
            prompt_tokens: 10,
            completion_tokens: 5,
            cost_micros: 42,
            latency_ms: 300,
            status: RunStatus::Timeout,
            error_message: Some("slow".into()),
            session_id: None,
            prompt: None,
            response: None,
            task_id: Some(TaskId::new()),
        },
    ]));
    covered.extend(round_trip(vec![
        TaskEvent::TaskCreated(new_task()),
        TaskEvent::TaskClaimed { agent_id: agent },
        TaskEvent::TaskProgressed {
            agent_id: agent,
            percent: 50,
            message: Some("half".into()),
            output_chunk: None,
        },
        TaskEvent::TaskCompleted {
            agent_id: agent,
            result: json!({ "verdict": "ok" }),
        },
        TaskEvent::TaskFailed {
            agent_id: agent,
            error: "disk full".into(),
            retryable: true,
        },
        TaskEvent::TaskCancelled { reason: None },
        TaskEvent::TaskRetried {
            new_task_id: TaskId::new(),
        },
    ]));
    covered.extend(round_trip(vec![
        TenantEvent::TenantCreated {
            name: "site".into(),
            dedup_window_seconds: 3600,
        },
        TenantEvent::TenantTimeZoneSet {
            time_zone: Some("Europe/Paris".into()),
        },
    ]));
    covered.extend(round_trip(vec![InstallationEvent::LedgerInitialised {
        default_tenant_id: TenantId::new(),
        admin_key_id: ApiKeyId::new(),
    }]));
    covered.extend(round_trip(vec![
        WebhookEvent::WebhookSubscribed {
            tenant_id: TenantId::new(),
            url: "https://example.com/hook".into(),
            event_types: vec!["TaskFailed".into()],
            secret_hash: "h".into(),
            owner: Some(agent),
        },
        WebhookEvent::WebhookUpdated {
            url: "https://example.com/other".into(),
            event_types: vec![],
        },
        WebhookEvent::WebhookDeleted,
        WebhookEvent::WebhookDisabled {
            reason: "the receiver answered 410 Gone".into(),
            automatic: true,
        },
        WebhookEvent::WebhookEnabled,
        WebhookEvent::WebhookPinged,
        WebhookEvent::WebhookReplayRequested {
            from: at(),
            to: at(),
        },
    ]));
    let failure = FailedAttempt {
        status_code: Some(503),
        error: "the receiver answered 503".into(),
        duration_ms: 40,
    };
    covered.extend(round_trip(vec![
        DeliveryEvent::WebhookDeliveryScheduled {
            tenant_id: TenantId::new(),
            webhook_id: Uuid::now_v7(),
            event_id: Uuid::now_v7(),
            event_position: 7,
            event_type: "TaskFailed".into(),
            due_at: at(),
        },
        DeliveryEvent::CallbackDeliveryScheduled {
            tenant_id: TenantId::new(),
            task_id: TaskId::new(),
            event_id: Uuid::now_v7(),
            event_position: 8,
            event_type: "TaskCompleted".into(),
            due_at: at(),
        },
        DeliveryEvent::WebhookDeliveryAttempted {
            attempt: 1,
            at: at(),
        },
        DeliveryEvent::WebhookDeliverySucceeded {
            attempt: 1,
            status_code: 204,
            duration_ms: 12,
        },
        DeliveryEvent::WebhookDeliveryFailed {
            attempt: 1,
            failure: failure.clone(),
            next_attempt_at: at(),
        },
        DeliveryEvent::WebhookDeliveryExhausted {
            attempt: 8,
            failure,
            gone: false,
        },
        DeliveryEvent::WebhookDeliveryRedelivered { due_at: at() },
        DeliveryEvent::WebhookDeliveryCancelled {
            reason: "the subscription was deleted".into(),
        },
    ]));
    let definition = ToolDefinition {
        name: "weather".into(),
        description: "Today's weather".into(),
        input_schema: json!({ "type": "object" }),
        kind: ToolKind::Mcp,
        endpoint: "https://mcp.example.com/weather".into(),
        auth_ref: None,
    };
    covered.extend(round_trip(vec![
        ToolEvent::ToolRegistered {
            tenant_id: TenantId::new(),
            definition: definition.clone(),
        },
        ToolEvent::ToolUpdated {
            version: 2,
            definition,
        },
        ToolEvent::ToolDisabled {
            reason: "provider outage".into(),
        },
        ToolEvent::ToolEnabled,
        ToolEvent::ToolTested {
            test: ToolTest {
                version: 2,
                succeeded: true,
                duration_ms: 40,
                status_code: None,
                input: None,
                excerpt: None,
                offered: Some(vec![OfferedTool {
                    name: "forecast".into(),
                    description: Some("The next days".into()),
                    input_schema: json!({ "type": "object" }),
                }]),
                error: None,
                at: at(),
            },
        },
    ]));
    let spec = WorkflowSpec {
        steps: vec![Step {
            key: "fetch".into(),
            action: StepAction::Tool {
                tool_id: Uuid::now_v7(),
                mcp_tool: Some("forecast".into()),
            },
            input: json!({ "city": "$input.city" }),
            timeout_seconds: 30,
            retries: 2,
        }],
        edges: vec![],
    };
    covered.extend(round_trip(vec![
        WorkflowEvent::WorkflowCreated {
            tenant_id: TenantId::new(),
            name: "digest".into(),
            draft: spec.clone(),
        },
        WorkflowEvent::WorkflowDraftEdited {
            draft: spec.clone(),
        },
        WorkflowEvent::WorkflowPublished {
            version: 1,
            spec: spec.clone(),
        },
        WorkflowEvent::WorkflowArchived,
    ]));
    covered.extend(round_trip(vec![
        ExecutionEvent::ExecutionStarted {
            tenant_id: TenantId::new(),
            workflow_id: Uuid::now_v7(),
            version: 1,
            spec,
            input: json!({ "city": "Porto" }),
        },
        ExecutionEvent::StepStarted {
            step: "fetch".into(),
            attempt: 1,
            input: json!({ "city": "Porto" }),
            deadline: at(),
        },
        ExecutionEvent::ToolCallStarted {
            step: "fetch".into(),
            attempt: 1,
        },
        ExecutionEvent::StepSucceeded {
            step: "fetch".into(),
            attempt: 1,
            output: json!({ "sunny": true }),
        },
        ExecutionEvent::StepFailed {
            step: "fetch".into(),
            attempt: 1,
            error: "503".into(),
            retried: true,
        },
        ExecutionEvent::ExecutionPaused,
        ExecutionEvent::ExecutionResumed,
        ExecutionEvent::ExecutionCompleted,
        ExecutionEvent::ExecutionFailed {
            step: "fetch".into(),
            error: "503".into(),
        },
        ExecutionEvent::ExecutionCancelled {
            reason: "not needed".into(),
        },
    ]));

    covered.extend(round_trip(vec![
        EnrollmentTokenEvent::EnrollmentTokenCreated {
            tenant_id: TenantId::new(),
            label: "rollout".into(),
            secret_hash: "h".into(),
            expires_at: at(),
            max_uses: 10,
            kind: Some("analyst".into()),
            permissions: vec!["runs:write".into()],
            rate_limit_per_minute: 600,
            preset: Some("analytics-ai".into()),
        },
        EnrollmentTokenEvent::EnrollmentTokenUsed { agent_id: agent },
        EnrollmentTokenEvent::EnrollmentTokenRevoked,
    ]));

    covered.sort_unstable();
    let mut declared = catalogue::types();
    declared.sort_unstable();
    assert_eq!(covered, declared, "one example of each declared type");
}

/// An agent's rename as the log holds it.
fn renamed() -> RecordedEvent {
    let (tag, payload) = encode(&AgentEvent::AgentRenamed {
        name: "renamed".into(),
    })
    .unwrap_or_else(|e| panic!("{e}"));
    stored(&tag, payload)
}

/// Several models read an event of a batch: the first to read it decodes it,
/// and the others are given that same typed event, not a copy.
#[test]
fn a_batch_decodes_each_event_once_for_every_model() {
    let recorded = renamed();
    let event = Decoded::new(&recorded);
    let first = decode_event::<AgentEvent>(&event);
    let again = decode_event::<AgentEvent>(&event);
    match (first, again) {
        (Ok(Some(first)), Ok(Some(again))) => assert!(std::ptr::eq(first, again)),
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(decode_event::<ReportEvent>(&event), Ok(None)),
        "another enum's type is not a report"
    );
    // A payload that does not decode stays an error for every model: it
    // is not remembered as absent.
    let broken = stored(&recorded.event_type, json!({ "name": 7 }));
    let event = Decoded::new(&broken);
    for _ in 0..2 {
        assert!(decode_event::<AgentEvent>(&event).is_err());
    }
}

/// An enum outside the catalogue that names one of its types: what the
/// catalogue's uniqueness test forbids, to see `decode_event` refuse it.
#[derive(
    Debug, serde::Serialize, serde::Deserialize, strum::VariantNames, strum::EnumDiscriminants,
)]
#[strum_discriminants(derive(Hash, strum::IntoStaticStr, strum::VariantArray))]
#[serde(tag = "type", content = "data")]
enum Twin {
    AgentRenamed { name: String },
}

impl Event for Twin {
    type Type = TwinDiscriminants;

    fn event_type(&self) -> &'static str {
        strum::IntoDiscriminant::discriminant(self).into()
    }
}

#[test]
fn a_type_two_enums_read_is_an_error_for_the_second_not_a_skip() {
    let recorded = renamed();
    let event = Decoded::new(&recorded);
    assert!(matches!(decode_event::<AgentEvent>(&event), Ok(Some(_))));
    assert!(decode_event::<Twin>(&event).is_err());
    let event = Decoded::new(&recorded);
    assert!(matches!(decode_event::<Twin>(&event), Ok(Some(_))));
    assert!(decode_event::<AgentEvent>(&event).is_err());
}
