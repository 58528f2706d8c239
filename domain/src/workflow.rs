//! Workflows: a draft of steps joined by edges into a DAG, edited freely,
//! and published as immutable numbered versions that executions name. Each
//! step is done by an agent of a kind or by a tool, with its input mapped
//! from the execution's input and the outputs of the steps before it, a
//! timeout and a number of retries.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::aggregate::Aggregate;
use crate::error::DomainError;
use crate::ids::TenantId;

pub const MAX_STEPS: usize = 200;
pub const MAX_RETRIES: u32 = 10;
pub const MAX_TIMEOUT_SECONDS: u32 = 86_400;
/// The largest spec, as JSON text.
pub const MAX_SPEC_BYTES: usize = 256 * 1024;

/// Who does a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StepAction {
    /// A task for an agent of this kind (`task_type` names what to do).
    Agent {
        agent_kind: String,
        task_type: String,
    },
    /// A call of one of the tenant's tools: an HTTP tool is sent the
    /// step's input; an MCP server is asked to call its tool `mcp_tool`
    /// with the step's input as arguments.
    Tool {
        tool_id: Uuid,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mcp_tool: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Its name within the workflow: what edges and mappings refer to.
    pub key: String,
    pub action: StepAction,
    /// The step's input: JSON in which a string `"$input.a.b"` stands for
    /// that part of the execution's input and `"$steps.<key>.output.a"`
    /// for that part of an earlier step's output (the step must come before
    /// this one along the edges).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub input: Value,
    pub timeout_seconds: u32,
    #[serde(default)]
    pub retries: u32,
}

/// `to` starts once `from` has completed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Edge {
    pub from: String,
    pub to: String,
}

/// The steps and edges of a draft or a version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WorkflowSpec {
    pub steps: Vec<Step>,
    #[serde(default)]
    pub edges: Vec<Edge>,
}

/// Where a mapping in a step's input points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source<'a> {
    /// A path into the execution's input.
    Input(Vec<&'a str>),
    /// A path into a step's output.
    Output { step: &'a str, path: Vec<&'a str> },
}

/// The mapping a string of a step's input names, if it is one; an error
/// for one that starts like a mapping but is not whole (an empty part of
/// its path, say), which would only fail when the step runs.
pub fn source(text: &str) -> Option<Result<Source<'_>, String>> {
    let found = mapping(text)?;
    let empty = match &found {
        Ok(Source::Input(path)) | Ok(Source::Output { path, .. }) => path.contains(&""),
        Err(_) => false,
    };
    Some(if empty {
        Err(format!("`{text}`: a path has no empty part"))
    } else {
        found
    })
}

fn mapping(text: &str) -> Option<Result<Source<'_>, String>> {
    if let Some(rest) = text.strip_prefix("$input") {
        return Some(match rest {
            "" => Ok(Source::Input(Vec::new())),
            _ => match rest.strip_prefix('.') {
                Some(path) => Ok(Source::Input(path.split('.').collect())),
                None => Err(format!("`{text}`: after `$input` comes `.` and a path")),
            },
        });
    }
    let rest = text.strip_prefix("$steps.")?;
    let mut parts = rest.split('.');
    let step = parts.next().unwrap_or_default();
    Some(match parts.next() {
        Some("output") if !step.is_empty() => Ok(Source::Output {
            step,
            path: parts.collect(),
        }),
        _ => Err(format!(
            "`{text}`: a step's output is `$steps.<key>.output` and a path"
        )),
    })
}

/// Every mapping string in `value`.
fn mappings(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::String(s) if s.starts_with('$') => found.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| mappings(v, found)),
        Value::Object(map) => map.values().for_each(|v| mappings(v, found)),
        _ => {}
    }
}

impl WorkflowSpec {
    /// The steps in an order that runs every edge forwards, or the cycle
    /// that prevents one (`a → b → a`).
    pub fn order(&self) -> Result<Vec<&str>, DomainError> {
        let mut after: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut waiting: BTreeMap<&str, usize> =
            self.steps.iter().map(|s| (s.key.as_str(), 0)).collect();
        for edge in &self.edges {
            after.entry(&edge.from).or_default().push(&edge.to);
            *waiting.entry(&edge.to).or_default() += 1;
        }
        let mut ready: Vec<&str> = waiting
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(k, _)| *k)
            .collect();
        let mut order = Vec::with_capacity(self.steps.len());
        while let Some(step) = ready.pop() {
            order.push(step);
            for next in after.get(step).into_iter().flatten() {
                if let Some(n) = waiting.get_mut(next) {
                    *n -= 1;
                    if *n == 0 {
                        ready.push(next);
                    }
                }
            }
        }
        if order.len() == self.steps.len() {
            return Ok(order);
        }
        let left: BTreeSet<&str> = waiting
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, _)| *k)
            .collect();
        Err(DomainError::invalid(format!(
            "the edges form a cycle: {}",
            self.cycle_among(&left).join(" → ")
        )))
    }

    /// One cycle among the steps `order` could not place, written forwards.
    fn cycle_among<'a>(&'a self, left: &BTreeSet<&'a str>) -> Vec<&'a str> {
        let Some(start) = left.iter().next() else {
            return Vec::new();
        };
        // Every step left waits on a step left: walking backwards through
        // those never ends, so it comes back to a step it passed.
        let mut path = vec![*start];
        loop {
            let here = path[path.len() - 1];
            let Some(previous) = self
                .edges
                .iter()
                .find(|e| e.to == here && left.contains(e.from.as_str()))
                .map(|e| e.from.as_str())
            else {
                return path;
            };
            if let Some(at) = path.iter().position(|s| *s == previous) {
                let mut cycle = path.split_off(at);
                cycle.push(previous);
                cycle.reverse();
                return cycle;
            }
            path.push(previous);
        }
    }

    /// The steps each step comes after, along the edges.
    fn ancestors(&self) -> BTreeMap<&str, BTreeSet<&str>> {
        let mut before: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        if let Ok(order) = self.order() {
            for step in order {
                let direct: Vec<&str> = self
                    .edges
                    .iter()
                    .filter(|e| e.to == step)
                    .map(|e| e.from.as_str())
                    .collect();
                let mut all = BTreeSet::new();
                for parent in direct {
                    all.insert(parent);
                    all.extend(before.get(parent).cloned().unwrap_or_default());
                }
                before.insert(step, all);
            }
        }
        before
    }

    /// A spec that can run: keys unique and clean, edges between steps it
    /// has, no cycle, limits kept, mappings pointing at the input or at
    /// steps that come before.
    pub fn check(&self) -> Result<(), DomainError> {
        if self.steps.is_empty() || self.steps.len() > MAX_STEPS {
            return Err(DomainError::invalid(format!(
                "a workflow has 1 to {MAX_STEPS} steps"
            )));
        }
        if serde_json::to_vec(self).map_or(usize::MAX, |b| b.len()) > MAX_SPEC_BYTES {
            return Err(DomainError::invalid(format!(
                "a workflow exceeds {MAX_SPEC_BYTES} bytes"
            )));
        }
        let mut keys = BTreeSet::new();
        for step in &self.steps {
            crate::text::check_name("step key", &step.key, 100)?;
            if step.key.contains('.') || step.key.starts_with('$') {
                return Err(DomainError::invalid(format!(
                    "step key `{}`: no `.` and no leading `$`",
                    step.key
                )));
            }
            if !keys.insert(step.key.as_str()) {
                return Err(DomainError::invalid(format!(
                    "two steps are named `{}`",
                    step.key
                )));
            }
            if step.timeout_seconds == 0 || step.timeout_seconds > MAX_TIMEOUT_SECONDS {
                return Err(DomainError::invalid(format!(
                    "step `{}`: timeout_seconds is 1 to {MAX_TIMEOUT_SECONDS}",
                    step.key
                )));
            }
            if step.retries > MAX_RETRIES {
                return Err(DomainError::invalid(format!(
                    "step `{}`: retries is 0 to {MAX_RETRIES}",
                    step.key
                )));
            }
            if let StepAction::Agent {
                agent_kind,
                task_type,
            } = &step.action
            {
                crate::text::check_name("agent_kind", agent_kind, 100)?;
                crate::text::check_name("task_type", task_type, 100)?;
            }
            if let StepAction::Tool {
                mcp_tool: Some(name),
                ..
            } = &step.action
            {
                crate::text::check_name("mcp_tool", name, 200)?;
            }
            crate::text::check_strings(&step.input)?;
        }
        let mut seen = BTreeSet::new();
        for edge in &self.edges {
            for end in [&edge.from, &edge.to] {
                if !keys.contains(end.as_str()) {
                    return Err(DomainError::invalid(format!(
                        "an edge names `{end}`, which is not a step"
                    )));
                }
            }
            if edge.from == edge.to {
                return Err(DomainError::invalid(format!(
                    "the edges form a cycle: {0} → {0}",
                    edge.from
                )));
            }
            if !seen.insert(edge) {
                return Err(DomainError::invalid(format!(
                    "the edge {} → {} is there twice",
                    edge.from, edge.to
                )));
            }
        }
        self.order()?;
        let ancestors = self.ancestors();
        for step in &self.steps {
            let mut found = Vec::new();
            mappings(&step.input, &mut found);
            for text in found {
                match source(&text) {
                    None | Some(Ok(Source::Input(_))) => {}
                    Some(Err(why)) => {
                        return Err(DomainError::invalid(format!("step `{}`: {why}", step.key)));
                    }
                    Some(Ok(Source::Output { step: from, .. })) => {
                        let before = ancestors
                            .get(step.key.as_str())
                            .is_some_and(|a| a.contains(from));
                        if !before {
                            return Err(DomainError::invalid(format!(
                                "step `{}` maps `{text}`, but `{from}` does not come before it",
                                step.key
                            )));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// What changed from one version to another.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SpecDiff {
    pub steps_added: Vec<String>,
    pub steps_removed: Vec<String>,
    /// Steps under the same key whose action, input, timeout or retries differ.
    pub steps_changed: Vec<String>,
    pub edges_added: Vec<Edge>,
    pub edges_removed: Vec<Edge>,
}

/// What changed from `old` to `new`.
pub fn diff(old: &WorkflowSpec, new: &WorkflowSpec) -> SpecDiff {
    let steps = |spec: &WorkflowSpec| -> BTreeMap<String, Step> {
        spec.steps
            .iter()
            .map(|s| (s.key.clone(), s.clone()))
            .collect()
    };
    let (before, after) = (steps(old), steps(new));
    let edges = |spec: &WorkflowSpec| -> BTreeSet<Edge> { spec.edges.iter().cloned().collect() };
    let (old_edges, new_edges) = (edges(old), edges(new));
    SpecDiff {
        steps_added: after
            .keys()
            .filter(|k| !before.contains_key(*k))
            .cloned()
            .collect(),
        steps_removed: before
            .keys()
            .filter(|k| !after.contains_key(*k))
            .cloned()
            .collect(),
        steps_changed: after
            .iter()
            .filter(|(k, s)| before.get(*k).is_some_and(|b| b != *s))
            .map(|(k, _)| k.clone())
            .collect(),
        edges_added: new_edges.difference(&old_edges).cloned().collect(),
        edges_removed: old_edges.difference(&new_edges).cloned().collect(),
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Workflow {
    pub exists: bool,
    pub tenant_id: TenantId,
    pub name: String,
    pub draft: WorkflowSpec,
    /// Published versions: version `n` is `versions[n - 1]`.
    pub versions: Vec<WorkflowSpec>,
    pub archived: bool,
}

impl Workflow {
    /// Version `version`, if it was published.
    pub fn version(&self, version: u32) -> Option<&WorkflowSpec> {
        usize::try_from(version)
            .ok()
            .and_then(|v| v.checked_sub(1))
            .and_then(|i| self.versions.get(i))
    }
}

#[derive(Debug, Clone)]
pub enum WorkflowCommand {
    Create {
        tenant_id: TenantId,
        name: String,
        draft: WorkflowSpec,
    },
    EditDraft {
        draft: WorkflowSpec,
    },
    /// Publishes the draft as the next version.
    Publish,
    /// No new execution starts; running ones go on.
    Archive,
}

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames, strum::EnumDiscriminants,
)]
#[strum_discriminants(
    name(WorkflowEventType),
    derive(Hash, strum::IntoStaticStr, strum::VariantArray),
    strum(const_into_str)
)]
#[serde(tag = "type", content = "data")]
pub enum WorkflowEvent {
    WorkflowCreated {
        tenant_id: TenantId,
        name: String,
        draft: WorkflowSpec,
    },
    WorkflowDraftEdited {
        draft: WorkflowSpec,
    },
    WorkflowPublished {
        version: u32,
        spec: WorkflowSpec,
    },
    WorkflowArchived,
}

fn archived(action: &'static str) -> DomainError {
    DomainError::InvalidTransition {
        entity: "workflow",
        action,
        state: "archived".into(),
    }
}

impl Aggregate for Workflow {
    type Command = WorkflowCommand;
    type Event = WorkflowEvent;
    type Id = Uuid;
    const STREAM_PREFIX: &'static str = "workflow";
    const ENTITY: &'static str = "workflow";

    fn owner(&self) -> Option<TenantId> {
        self.exists.then_some(self.tenant_id)
    }

    fn decide(state: &Self, command: WorkflowCommand) -> Result<Vec<WorkflowEvent>, DomainError> {
        use WorkflowCommand as C;
        use WorkflowEvent as E;
        if !state.exists && !matches!(command, C::Create { .. }) {
            return Err(DomainError::NotFound("workflow"));
        }
        match command {
            C::Create {
                tenant_id,
                name,
                draft,
            } => {
                if state.exists {
                    return Err(DomainError::AlreadyExists("workflow"));
                }
                DomainError::check_label("name", &name)?;
                draft.check()?;
                Ok(vec![E::WorkflowCreated {
                    tenant_id,
                    name,
                    draft,
                }])
            }
            C::EditDraft { draft } => {
                if state.archived {
                    return Err(archived("edit"));
                }
                draft.check()?;
                if draft == state.draft {
                    return Ok(vec![]);
                }
                Ok(vec![E::WorkflowDraftEdited { draft }])
            }
            C::Publish => {
                if state.archived {
                    return Err(archived("publish"));
                }
                // The draft was checked when it was written; a version is
                // never made of what it already is.
                if state.versions.last() == Some(&state.draft) {
                    return Ok(vec![]);
                }
                let version = u32::try_from(state.versions.len() + 1).unwrap_or(u32::MAX);
                Ok(vec![E::WorkflowPublished {
                    version,
                    spec: state.draft.clone(),
                }])
            }
            C::Archive => Ok(if state.archived {
                vec![]
            } else {
                vec![E::WorkflowArchived]
            }),
        }
    }

    fn evolve(mut state: Self, event: &WorkflowEvent) -> Self {
        match event {
            WorkflowEvent::WorkflowCreated {
                tenant_id,
                name,
                draft,
            } => {
                state.exists = true;
                state.tenant_id = *tenant_id;
                state.name = name.clone();
                state.draft = draft.clone();
            }
            WorkflowEvent::WorkflowDraftEdited { draft } => state.draft = draft.clone(),
            WorkflowEvent::WorkflowPublished { spec, .. } => state.versions.push(spec.clone()),
            WorkflowEvent::WorkflowArchived => state.archived = true,
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{given, given_no_events};
    use serde_json::json;

    fn step(key: &str, input: Value) -> Step {
        Step {
            key: key.into(),
            action: StepAction::Agent {
                agent_kind: "writer".into(),
                task_type: "draft".into(),
            },
            input,
            timeout_seconds: 60,
            retries: 1,
        }
    }

    fn edge(from: &str, to: &str) -> Edge {
        Edge {
            from: from.into(),
            to: to.into(),
        }
    }

    /// fetch → summarise → publish, fetch → publish.
    fn pipeline() -> WorkflowSpec {
        WorkflowSpec {
            steps: vec![
                step("fetch", json!({ "url": "$input.url" })),
                step(
                    "summarise",
                    json!({ "text": "$steps.fetch.output.body", "style": "short" }),
                ),
                step(
                    "publish",
                    json!({ "summary": "$steps.summarise.output", "source": "$steps.fetch.output.url" }),
                ),
            ],
            edges: vec![
                edge("fetch", "summarise"),
                edge("summarise", "publish"),
                edge("fetch", "publish"),
            ],
        }
    }

    fn created() -> WorkflowEvent {
        WorkflowEvent::WorkflowCreated {
            tenant_id: TenantId(Uuid::nil()),
            name: "digest".into(),
            draft: pipeline(),
        }
    }

    #[test]
    fn a_dag_runs_in_an_order_that_follows_every_edge() {
        let spec = pipeline();
        let order = spec.order().unwrap_or_default();
        let at = |k: &str| order.iter().position(|s| *s == k);
        assert!(at("fetch") < at("summarise") && at("summarise") < at("publish"));
        assert!(spec.check().is_ok());
    }

    #[test]
    fn a_cycle_is_refused_with_its_path() {
        let mut spec = pipeline();
        spec.edges.push(edge("publish", "fetch"));
        let refused = spec.check();
        assert!(
            matches!(&refused, Err(DomainError::Invalid(why))
                if why.contains("cycle") && why.contains("fetch → summarise → publish → fetch")),
            "{refused:?}"
        );
        let mut looped = pipeline();
        looped.edges.push(edge("summarise", "summarise"));
        assert!(
            matches!(looped.check(), Err(DomainError::Invalid(why)) if why.contains("summarise → summarise"))
        );
    }

    #[test]
    fn steps_edges_and_mappings_must_make_sense() {
        let refused = |spec: WorkflowSpec| {
            given_no_events::<Workflow>()
                .when(WorkflowCommand::Create {
                    tenant_id: TenantId(Uuid::nil()),
                    name: "digest".into(),
                    draft: spec,
                })
                .then_refused(|e| matches!(e, DomainError::Invalid(_)));
        };
        refused(WorkflowSpec::default());
        let mut twice = pipeline();
        twice.steps.push(step("fetch", json!({})));
        refused(twice);
        let mut dangling = pipeline();
        dangling.edges.push(edge("fetch", "nowhere"));
        refused(dangling);
        let mut backwards = pipeline();
        backwards.steps[0].input = json!({ "x": "$steps.publish.output" });
        refused(backwards);
        for broken in [
            "$steps.fetch.result",
            "$input.",
            "$steps.fetch.output..body",
            "$inputs",
        ] {
            let mut malformed = pipeline();
            malformed.steps[1].input = json!({ "x": broken });
            refused(malformed);
        }
        let mut forever = pipeline();
        forever.steps[0].timeout_seconds = 0;
        refused(forever);
        let mut hostile = pipeline();
        hostile.steps[0].key = "fe\u{0}tch".into();
        refused(hostile);
    }

    #[test]
    fn publishing_makes_the_next_version_and_never_the_same_twice() {
        let first = WorkflowEvent::WorkflowPublished {
            version: 1,
            spec: pipeline(),
        };
        let workflow = given::<Workflow>([created()])
            .when(WorkflowCommand::Publish)
            .then([first.clone()]);
        assert_eq!(workflow.version(1), Some(&pipeline()));
        given::<Workflow>([created(), first.clone()])
            .when(WorkflowCommand::Publish)
            .then_nothing_happens();
        let mut shorter = pipeline();
        shorter.steps.pop();
        shorter.edges.retain(|e| e.to != "publish");
        let edited = WorkflowEvent::WorkflowDraftEdited {
            draft: shorter.clone(),
        };
        given::<Workflow>([created(), first.clone(), edited])
            .when(WorkflowCommand::Publish)
            .then([WorkflowEvent::WorkflowPublished {
                version: 2,
                spec: shorter,
            }]);
        given::<Workflow>([created(), first, WorkflowEvent::WorkflowArchived])
            .when(WorkflowCommand::Publish)
            .then_refused(|e| matches!(e, DomainError::InvalidTransition { .. }));
    }

    #[test]
    fn a_diff_names_what_changed() {
        let old = pipeline();
        let mut new = pipeline();
        new.steps.retain(|s| s.key != "publish");
        new.edges.retain(|e| e.to != "publish");
        new.steps[1].retries = 3;
        new.steps.push(step("notify", json!({})));
        new.edges.push(edge("summarise", "notify"));
        let changes = diff(&old, &new);
        assert_eq!(changes.steps_added, ["notify"]);
        assert_eq!(changes.steps_removed, ["publish"]);
        assert_eq!(changes.steps_changed, ["summarise"]);
        assert_eq!(changes.edges_added, [edge("summarise", "notify")]);
        assert_eq!(
            changes.edges_removed,
            [edge("fetch", "publish"), edge("summarise", "publish")]
        );
        assert_eq!(diff(&old, &old), SpecDiff::default());
    }
}
