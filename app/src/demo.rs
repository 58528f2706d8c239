//! `agentledger demo`: a tenant with the five preset agents and a week of
//! realistic activity (actions, LLM runs, tasks, commands, failures), written
//! through the same command handlers the API uses, with times spread over the
//! last days.

mod executions;

use agentledger_commands::agents::{NewAgent, register};
use agentledger_commands::budgets;
use agentledger_commands::enrollment::{NewToken, create_token};
use agentledger_commands::instructions::{What, issue};
use agentledger_commands::operators::{bootstrap, create_api_key, create_tenant};
use agentledger_commands::reports::{record_actions, record_llm_run};
use agentledger_commands::tasks::{Created, claim_first, create};
use agentledger_commands::webhooks::{Subscription, subscribe};
use agentledger_commands::{CommandError, Context, Handler};
use agentledger_domain::address::AddressPolicy;
use agentledger_domain::api_key::Role;
use agentledger_domain::budget::{
    BudgetCommand, BudgetScope, DEFAULT_THRESHOLDS_PERCENT, Limits, Rule,
};
use agentledger_domain::ids::{AgentId, ApiKeyId, TaskId, TenantId};
use agentledger_domain::instruction::{Instruction, InstructionCommand, OutputStream};
use agentledger_domain::preset::PRESETS;
use agentledger_domain::reports::{ActionReport, ActionStatus, RunReport, RunStatus};
use agentledger_domain::task::{NewTask, Task, TaskCommand};
use agentledger_domain::tool::{Tool, ToolCommand, ToolDefinition, ToolKind};
use agentledger_domain::webhook::Manager;
use agentledger_domain::workflow::{
    Edge, Step, StepAction, Workflow, WorkflowCommand, WorkflowSpec,
};
use agentledger_domain::{Actor, ActorKind};
use agentledger_store::Database;
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use uuid::Uuid;

/// Neutral names: the demo stands for any provider's models.
const MODELS: &[&str] = &["model-small", "model-medium", "model-large"];

pub struct Seeded {
    pub tenant_id: TenantId,
    pub operator_key: String,
    pub admin_key: Option<String>,
    pub agents: usize,
    pub actions: usize,
    pub runs: usize,
    pub tasks: usize,
    pub commands: usize,
    pub executions: usize,
    pub head: u64,
}

fn at_minute(start: DateTime<Utc>, minute: i64) -> DateTime<Utc> {
    agentledger_store::now().min(start + Duration::minutes(minute))
}

fn agent_ctx(tenant: TenantId, agent: AgentId, at: DateTime<Utc>) -> Context {
    Context {
        tenant_id: tenant,
        tenant_scope: Some(tenant),
        actor: Actor::new(ActorKind::Agent, agent.to_string()),
        correlation_id: Some(uuid::Uuid::now_v7()),
        causation_id: None,
        at,
        derive_event_ids: false,
    }
}

/// A daily token budget per agent (the administrator's stops at its limit,
/// far above what the demo's agents use in a day), and a monthly cost cap on
/// the largest model.
fn demo_budgets(agents: &[AgentId]) -> Vec<BudgetCommand> {
    let mut budgets: Vec<BudgetCommand> = agents
        .iter()
        .enumerate()
        .map(|(i, agent_id)| BudgetCommand::Set {
            scope: BudgetScope::Agent {
                agent_id: *agent_id,
            },
            rule: Rule {
                limits: Limits {
                    daily_tokens: Some(60_000),
                    ..Limits::default()
                },
                thresholds_percent: DEFAULT_THRESHOLDS_PERCENT.to_vec(),
                hard_stop: i + 1 == agents.len(),
            },
        })
        .collect();
    budgets.push(BudgetCommand::Set {
        scope: BudgetScope::Model {
            model: MODELS[MODELS.len() - 1].into(),
        },
        rule: Rule::warning(Limits {
            monthly_cost_micros: Some(60_000_000),
            ..Limits::default()
        }),
    });
    budgets
}

fn demo_tools() -> [ToolDefinition; 2] {
    [
        ToolDefinition {
            name: "moderation-lookup".into(),
            description: "Looks up a post's moderation history".into(),
            input_schema: serde_json::json!({
                "type": "object",
                "properties": { "post_id": { "type": "string" } },
                "required": ["post_id"]
            }),
            kind: ToolKind::Http,
            endpoint: "https://tools.example.com/moderation/lookup".into(),
            auth_ref: Some("moderation-api-key".into()),
        },
        ToolDefinition {
            name: "knowledge-base".into(),
            description: "The support team's knowledge base, as an MCP server".into(),
            input_schema: serde_json::json!({ "type": "object" }),
            kind: ToolKind::Mcp,
            endpoint: "https://mcp.example.com/knowledge".into(),
            auth_ref: None,
        },
    ]
}

/// A step done by an agent of `kind`.
fn agent_step(key: &str, kind: &str, input: serde_json::Value, timeout_seconds: u32) -> Step {
    Step {
        key: key.into(),
        action: StepAction::Agent {
            agent_kind: kind.into(),
            task_type: key.into(),
        },
        input,
        timeout_seconds,
        retries: 1,
    }
}

fn edge(from: &str, to: &str) -> Edge {
    Edge {
        from: from.into(),
        to: to.into(),
    }
}

/// The demo's workflows, each as the versions it publishes, done by the
/// preset agents' kinds.
fn demo_workflows(lookup: Uuid) -> [(&'static str, Vec<WorkflowSpec>); 2] {
    use serde_json::json;
    let escalation = WorkflowSpec {
        steps: vec![
            Step {
                key: "history".into(),
                action: StepAction::Tool {
                    tool_id: lookup,
                    mcp_tool: None,
                },
                input: json!({ "post_id": "$input.post_id" }),
                timeout_seconds: 30,
                retries: 2,
            },
            agent_step(
                "review",
                "moderator",
                json!({ "post_id": "$input.post_id", "history": "$steps.history.output" }),
                600,
            ),
            agent_step(
                "reply",
                "generator",
                json!({ "decision": "$steps.review.output.decision" }),
                300,
            ),
        ],
        edges: vec![edge("history", "review"), edge("review", "reply")],
    };
    let digest = WorkflowSpec {
        steps: vec![
            agent_step("gather", "analyst", json!({ "week": "$input.week" }), 900),
            agent_step(
                "write",
                "generator",
                json!({ "facts": "$steps.gather.output" }),
                1800,
            ),
        ],
        edges: vec![edge("gather", "write")],
    };
    let mut reviewed = digest.clone();
    reviewed.steps.push(agent_step(
        "check",
        "moderator",
        json!({ "draft": "$steps.write.output" }),
        600,
    ));
    reviewed.edges.push(edge("write", "check"));
    [
        ("moderation escalation", vec![escalation]),
        ("weekly digest", vec![digest, reviewed]),
    ]
}

pub async fn seed(
    handler: &Handler,
    database: &Database,
    days: u32,
    seed: u64,
) -> Result<Seeded, CommandError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let admin_key = bootstrap(handler).await?.map(|(_, key)| key.key);
    let tenant_id = TenantId::new();
    let system = Context::system(tenant_id, "demo");
    create_tenant(
        handler,
        &system,
        tenant_id,
        format!("demo site {}", Utc::now().format("%Y-%m-%d %H:%M")),
    )
    .await?;
    let operator_key = create_api_key(
        handler,
        &system,
        ApiKeyId::new(),
        tenant_id,
        Role::Operator,
        "demo operator".into(),
    )
    .await?
    .key;
    let operator = Context {
        tenant_scope: Some(tenant_id),
        actor: Actor::new(ActorKind::Operator, "demo"),
        ..system.clone()
    };
    let tenant_limits = Limits {
        daily_tokens: Some(180_000),
        monthly_tokens: Some(8_000_000),
        daily_cost_micros: None,
        monthly_cost_micros: Some(150_000_000),
    };
    let budget = BudgetCommand::Set {
        scope: BudgetScope::Tenant,
        rule: Rule::warning(tenant_limits),
    };
    budgets::change(handler, &operator, budget).await?;

    let mut agents = Vec::new();
    for preset in PRESETS {
        let new = NewAgent {
            name: preset.name.into(),
            kind: preset.kind.into(),
            permissions: preset.permissions(),
            rate_limit_per_minute: 600,
        };
        agents.push(register(handler, &operator, new).await?.agent_id);
    }
    // More moderators may enrol themselves this week (the token itself is
    // not kept: the demo has no one to hand it to).
    let enrol_moderators = NewToken {
        label: "more moderators".into(),
        expires_at: operator.at + Duration::days(7),
        max_uses: 10,
        kind: None,
        permissions: None,
        rate_limit_per_minute: 600,
        preset: Some("content-moderator-ai".into()),
    };
    create_token(handler, &operator, Uuid::now_v7(), enrol_moderators).await?;
    // Alerts and failed tasks go to a receiver that is not there: a server
    // running meanwhile shows the deliveries failing and being retried.
    let webhook_id = Uuid::now_v7();
    let secret = crate::webhooks::signing_secret();
    agentledger_store::secrets::save_signing_secret(database, webhook_id, &secret).await?;
    let hook = Subscription {
        webhook_id,
        url: "https://hooks.example.com/agentledger-demo".into(),
        event_types: vec!["AlertRaised".into(), "TaskFailed".into()],
        secret,
    };
    subscribe(
        handler,
        &operator,
        Manager::Operator,
        hook,
        AddressPolicy::default(),
    )
    .await?;

    // Tools the demo agents would call: one HTTP endpoint, one MCP server
    // (neither is there; a test of either records the failure).
    let mut tools = Vec::new();
    for definition in demo_tools() {
        let command = ToolCommand::Register {
            tenant_id,
            definition,
            policy: AddressPolicy::default(),
        };
        let tool_id = Uuid::now_v7();
        handler.run::<Tool>(&operator, tool_id, command).await?;
        tools.push(tool_id);
    }
    // Two workflows: one published once, one published, changed and
    // published again (so its versions differ).
    let mut published = Vec::new();
    for (name, versions) in demo_workflows(tools[0]) {
        let workflow_id = Uuid::now_v7();
        let mut drafts = versions.into_iter();
        let Some(first) = drafts.next() else { continue };
        let create = WorkflowCommand::Create {
            tenant_id,
            name: name.into(),
            draft: first,
        };
        handler
            .run::<Workflow>(&operator, workflow_id, create)
            .await?;
        handler
            .run::<Workflow>(&operator, workflow_id, WorkflowCommand::Publish)
            .await?;
        for draft in drafts {
            let edit = WorkflowCommand::EditDraft { draft };
            handler
                .run::<Workflow>(&operator, workflow_id, edit)
                .await?;
            handler
                .run::<Workflow>(&operator, workflow_id, WorkflowCommand::Publish)
                .await?;
        }
        let workflow = handler.load::<Workflow>(workflow_id).await?.state;
        if let Some(spec) = workflow.versions.last() {
            published.push(executions::Published {
                workflow_id,
                version: u32::try_from(workflow.versions.len()).unwrap_or(u32::MAX),
                spec: spec.clone(),
            });
        }
    }
    let kinds: Vec<(AgentId, &str)> = agents
        .iter()
        .zip(PRESETS)
        .map(|(agent, preset)| (*agent, preset.kind))
        .collect();
    let executions = match published.as_slice() {
        [escalation, digest] => {
            executions::seed(handler, &operator, tenant_id, digest, escalation, &kinds).await?
        }
        _ => 0,
    };

    let (mut actions, mut runs, mut tasks, mut commands) = (0, 0, 0, 0);
    let start = Utc::now() - Duration::days(i64::from(days));
    for day in 0..i64::from(days) {
        for (index, preset) in PRESETS.iter().enumerate() {
            let (kind, app_type, verbs) = (preset.kind, preset.app_type, preset.actions);
            let agent = agents[index];
            // Busier on weekdays, and a bad day in the middle of the week.
            let busy = rng.random_range(25..45);
            let failure_rate = if day == i64::from(days) / 2 {
                0.25
            } else {
                0.06
            };
            let minute = |rng: &mut StdRng| day * 1440 + rng.random_range(0..1440);

            let mut batch = Vec::with_capacity(busy);
            for _ in 0..busy {
                let success = rng.random_bool(0.93);
                batch.push(ActionReport {
                    action: verbs[rng.random_range(0..verbs.len())].into(),
                    resource_type: app_type.trim_end_matches("ion").into(),
                    resource_id: Some(format!("r-{}", rng.random_range(1000..9999))),
                    status: if success {
                        ActionStatus::Success
                    } else {
                        ActionStatus::Failed
                    },
                    confidence: Some((rng.random_range(0.55..0.99f64) * 100.0).round() / 100.0),
                    reasoning: Some("matched policy rules".into()),
                    request_data: Some(json!({ "batch": day })),
                    execution_time_ms: Some(rng.random_range(20..900)),
                });
            }
            let ctx = agent_ctx(tenant_id, agent, at_minute(start, minute(&mut rng)));
            actions += batch.len();
            record_actions(handler, &ctx, agent, batch)
                .await
                .map_err(CommandError::from)?;

            for _ in 0..rng.random_range(12..24) {
                let status = if rng.random_bool(failure_rate) {
                    [
                        RunStatus::Failed,
                        RunStatus::Timeout,
                        RunStatus::CircuitOpen,
                    ][rng.random_range(0..3)]
                } else {
                    RunStatus::Success
                };
                let prompt_tokens: u32 = rng.random_range(300..2500);
                let completion_tokens: u32 = rng.random_range(50..900);
                let run = RunReport {
                    app_type: app_type.into(),
                    trigger_type: ["schedule", "webhook", "manual"][rng.random_range(0..3)].into(),
                    member_id: Some(format!("member-{}", rng.random_range(1..40))),
                    model: MODELS[rng.random_range(0..MODELS.len())].into(),
                    prompt_tokens: u64::from(prompt_tokens),
                    completion_tokens: u64::from(completion_tokens),
                    cost_usd: f64::from(prompt_tokens) * 0.000_000_6
                        + f64::from(completion_tokens) * 0.000_002_4,
                    latency_ms: rng.random_range(300..6000),
                    status,
                    error_message: (status != RunStatus::Success)
                        .then(|| "upstream model unavailable".into()),
                    session_id: Some(format!("s-{}", rng.random_range(1..500))),
                    prompt: None,
                    response: None,
                    task_id: None,
                };
                let ctx = agent_ctx(tenant_id, agent, at_minute(start, minute(&mut rng)));
                record_llm_run(handler, &ctx, agent, run).await?;
                runs += 1;
            }

            for _ in 0..rng.random_range(2..6) {
                let created_at = at_minute(start, minute(&mut rng));
                let op = Context {
                    at: created_at,
                    ..operator.clone()
                };
                let task = NewTask {
                    tenant_id,
                    task_type: app_type.into(),
                    input: json!({ "member_id": format!("member-{}", rng.random_range(1..40)) }),
                    priority: rng.random_range(0..5),
                    callback_url: None,
                    dedup_key: None,
                    forced: false,
                    retry_of: None,
                    agent_kind: None,
                    step: None,
                };
                let Created::Task { task_id, .. } =
                    create(handler, &op, TaskId::new(), task, AddressPolicy::default()).await?
                else {
                    continue;
                };
                tasks += 1;
                let work = agent_ctx(tenant_id, agent, created_at + Duration::minutes(1));
                if claim_first(handler, &work, agent, kind, [task_id])
                    .await?
                    .is_none()
                {
                    continue;
                }
                let progress = TaskCommand::ReportProgress {
                    agent_id: agent,
                    percent: 50,
                    message: Some("halfway".into()),
                    output_chunk: None,
                };
                handler
                    .run::<Task>(
                        &Context {
                            at: created_at + Duration::minutes(2),
                            ..work.clone()
                        },
                        task_id,
                        progress,
                    )
                    .await?;
                let finish = if rng.random_bool(0.9) {
                    TaskCommand::Complete {
                        agent_id: agent,
                        result: json!({ "ok": true }),
                    }
                } else {
                    TaskCommand::Fail {
                        agent_id: agent,
                        error: "source unavailable".into(),
                        retryable: true,
                    }
                };
                handler
                    .run::<Task>(
                        &Context {
                            at: created_at + Duration::minutes(3),
                            ..work
                        },
                        task_id,
                        finish,
                    )
                    .await?;
            }

            if day == i64::from(days) - 1 {
                let (command_id, _) = issue(
                    handler,
                    &operator,
                    agent,
                    What::Direct {
                        command: "report_health".into(),
                        args: json!({}),
                        timeout_seconds: 120,
                    },
                )
                .await?;
                let work = agent_ctx(tenant_id, agent, Utc::now());
                handler
                    .run::<Instruction>(&work, command_id, InstructionCommand::Deliver)
                    .await?;
                let output = InstructionCommand::AppendOutput {
                    agent_id: agent,
                    stream: OutputStream::Stdout,
                    chunk: "all systems nominal\n".into(),
                };
                handler
                    .run::<Instruction>(&work, command_id, output)
                    .await?;
                let done = InstructionCommand::Finish {
                    agent_id: agent,
                    success: true,
                    exit_code: Some(0),
                    output: Some("ok".into()),
                };
                handler.run::<Instruction>(&work, command_id, done).await?;
                commands += 1;
            }
        }
    }
    // Set once the history is written, as an operator would set them on a
    // fleet already at work: the runs above were recorded without them, so
    // none is shown spent beyond a stop it never had.
    for budget in demo_budgets(&agents) {
        budgets::change(handler, &operator, budget).await?;
    }
    let head = handler.store().head_position().await?;
    Ok(Seeded {
        tenant_id,
        operator_key,
        admin_key,
        agents: agents.len(),
        actions,
        runs,
        tasks,
        commands,
        executions,
        head,
    })
}
