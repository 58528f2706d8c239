//! The demo's executions of the weekly digest and of the moderation
//! escalation: done as the engine and the preset agents would do them (a
//! task per attempt under the engine's id, claimed by an agent of the
//! step's kind, a run charged to it, the outcome reported), so the engine
//! reading them later finds nothing left to do but the one still running.

use agentledger_commands::tasks::{claim_first, create};
use agentledger_commands::{CommandError, Context, Handler};
use agentledger_domain::address::AddressPolicy;
use std::collections::{BTreeMap, BTreeSet};

use agentledger_domain::DomainError;
use agentledger_domain::execution::{Execution, ExecutionCommand, StepStatus, resolve};
use agentledger_domain::ids::{AgentId, TenantId};
use agentledger_domain::reports::{RunReport, RunStatus};
use agentledger_domain::task::{Task, TaskCommand};
use agentledger_domain::workflow::{StepAction, WorkflowSpec};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::agent_ctx;
use crate::executions::engine::step_task;

/// A workflow the demo published: its id, latest version and that version.
pub(super) struct Published {
    pub workflow_id: Uuid,
    pub version: u32,
    pub spec: WorkflowSpec,
}

/// How a demo execution goes.
#[derive(Clone, Copy)]
enum Course {
    /// Every step succeeds.
    Completes,
    /// The first step fails every attempt.
    Fails,
    /// The first step is done; the second is left to a real agent.
    Runs,
    /// Cancelled as soon as it starts.
    Cancelled,
}

/// The next attempt under way that the demo has not done yet, with the
/// input it started with.
fn next_attempt(
    execution: &Execution,
    done: &BTreeSet<(String, u32)>,
) -> Option<(String, u32, Value)> {
    let outputs: BTreeMap<String, Value> = execution
        .steps
        .iter()
        .filter_map(|(k, s)| s.output.clone().map(|o| (k.clone(), o)))
        .collect();
    execution.spec.steps.iter().find_map(|step| {
        let run = execution.steps.get(&step.key)?;
        let fresh =
            run.status == StepStatus::Running && !done.contains(&(step.key.clone(), run.attempt));
        let input = resolve(&step.input, &execution.input, &outputs).ok()?;
        fresh.then(|| (step.key.clone(), run.attempt, input))
    })
}

/// Seeds executions of `digest` (agent steps) and one of `escalation`
/// (a tool first, whose endpoint is not there: it is cancelled before the
/// engine would call it). `agents` are the preset agents with their kinds.
pub(super) async fn seed(
    handler: &Handler,
    operator: &Context,
    tenant: TenantId,
    digest: &Published,
    escalation: &Published,
    agents: &[(AgentId, &str)],
) -> Result<usize, CommandError> {
    let courses = [
        (Course::Completes, Duration::days(2)),
        (Course::Completes, Duration::days(1)),
        (Course::Fails, Duration::hours(20)),
        (Course::Completes, Duration::hours(6)),
        (Course::Runs, Duration::minutes(5)),
    ];
    for (week, (course, ago)) in courses.into_iter().enumerate() {
        let input = json!({ "week": format!("2026-W{:02}", 40 + week) });
        run(
            handler,
            operator,
            tenant,
            digest,
            input,
            course,
            Utc::now() - ago,
            agents,
        )
        .await?;
    }
    let input = json!({ "post_id": "post-1042" });
    run(
        handler,
        operator,
        tenant,
        escalation,
        input,
        Course::Cancelled,
        Utc::now(),
        agents,
    )
    .await?;
    Ok(courses.len() + 1)
}

#[allow(clippy::too_many_arguments)]
async fn run(
    handler: &Handler,
    operator: &Context,
    tenant: TenantId,
    workflow: &Published,
    input: Value,
    course: Course,
    at: DateTime<Utc>,
    agents: &[(AgentId, &str)],
) -> Result<(), CommandError> {
    let execution_id = Uuid::now_v7();
    let ctx = Context {
        at,
        correlation_id: Some(execution_id),
        ..operator.clone()
    };
    let start = ExecutionCommand::Start {
        tenant_id: tenant,
        workflow_id: workflow.workflow_id,
        version: workflow.version,
        spec: workflow.spec.clone(),
        input,
        at,
    };
    if let Course::Cancelled = course {
        // One append for both: an engine running meanwhile would otherwise
        // call the tool (which is not there) between them.
        let cancel = ExecutionCommand::Cancel {
            reason: "resolved by a moderator by hand".into(),
        };
        handler
            .run_all::<Execution>(&ctx, execution_id, vec![start, cancel])
            .await?;
        return Ok(());
    }
    handler.run::<Execution>(&ctx, execution_id, start).await?;
    let mut minute = 1;
    // Read from the execution each time: an engine running meanwhile may
    // have reported a step first.
    let mut done = BTreeSet::new();
    loop {
        let execution = handler.load::<Execution>(execution_id).await?.state;
        let Some((step, attempt, input)) = next_attempt(&execution, &done) else {
            break;
        };
        done.insert((step.clone(), attempt));
        let Some(StepAction::Agent {
            agent_kind,
            task_type,
        }) = workflow
            .spec
            .steps
            .iter()
            .find(|s| s.key == step)
            .map(|s| &s.action)
        else {
            continue;
        };
        let Some((agent, _)) = agents.iter().find(|(_, kind)| kind == agent_kind) else {
            continue;
        };
        let when = at + Duration::minutes(minute);
        minute += 3;
        let engine = Context {
            at: when,
            ..Context::system(tenant, crate::executions::engine::NAME)
        };
        let engine = Context {
            correlation_id: Some(execution_id),
            ..engine
        };
        let (id, task) = step_task(
            tenant,
            execution_id,
            (&step, attempt),
            (agent_kind, task_type),
            input,
        );
        // An engine running meanwhile makes the same task under the same id.
        match create(handler, &engine, id, task, AddressPolicy::default()).await {
            Ok(_) | Err(CommandError::Domain(DomainError::AlreadyExists(_))) => {}
            Err(e) => return Err(e),
        }
        if matches!(course, Course::Runs) && step != "gather" {
            // Left pending for an agent of its kind to claim.
            continue;
        }
        let work = agent_ctx(tenant, *agent, when + Duration::minutes(1));
        // Seeded while a server runs, an engine may time the attempt out
        // first (its deadline is in the past): the execution is then its.
        if claim_first(handler, &work, *agent, agent_kind, [id])
            .await?
            .is_none()
        {
            break;
        }
        let tokens = 800 + 150 * u64::from(attempt);
        let report = RunReport {
            app_type: "workflows".into(),
            trigger_type: "workflow".into(),
            member_id: None,
            model: "gpt-4o-mini".into(),
            prompt_tokens: tokens,
            completion_tokens: tokens / 4,
            cost_usd: tokens as f64 * 0.000_001_2,
            latency_ms: 2400,
            status: RunStatus::Success,
            error_message: None,
            session_id: None,
            prompt: None,
            response: None,
            task_id: Some(id),
        };
        agentledger_commands::reports::record_llm_run(handler, &work, *agent, report).await?;
        let failing = matches!(course, Course::Fails);
        let (finish, outcome) = if failing {
            let error = "the analytics warehouse did not answer".to_owned();
            let fail = TaskCommand::Fail {
                agent_id: *agent,
                error: error.clone(),
                retryable: true,
            };
            (fail, Err(format!("the agent failed the task: {error}")))
        } else {
            let result = json!({ "step": step, "summary": format!("{step} done") });
            let done = TaskCommand::Complete {
                agent_id: *agent,
                result: result.clone(),
            };
            (done, Ok(result))
        };
        let work = Context {
            at: when + Duration::minutes(2),
            ..work
        };
        match handler.run::<Task>(&work, id, finish).await {
            Ok(_) => {}
            Err(CommandError::Domain(DomainError::InvalidTransition { .. })) => break,
            Err(e) => return Err(e),
        }
        let at = when + Duration::minutes(2);
        let report = match outcome {
            Ok(output) => ExecutionCommand::StepSucceeded {
                step,
                attempt,
                output,
                at,
            },
            Err(error) => ExecutionCommand::StepFailed {
                step,
                attempt,
                error,
                at,
            },
        };
        let engine = Context { at, ..engine };
        handler
            .run::<Execution>(&engine, execution_id, report)
            .await?;
    }
    Ok(())
}
