//! Agent presets: ready-made profiles an operator registers an agent from,
//! or names on an enrollment token, instead of spelling out a kind and
//! permissions each time. The demo seeds one agent of each, so what the API
//! offers and what the demo shows are the same five.

/// A ready-made agent profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    /// Also the name an agent registered from it gets when none is given.
    pub name: &'static str,
    pub kind: &'static str,
    /// The `app_type` of the LLM runs such an agent reports.
    pub app_type: &'static str,
    /// Actions such an agent typically records.
    pub actions: &'static [&'static str],
    /// What an agent registered from it may do.
    pub permissions: &'static [&'static str],
    pub description: &'static str,
}

impl Preset {
    pub fn permissions(&self) -> Vec<String> {
        self.permissions.iter().map(|p| (*p).to_owned()).collect()
    }
}

/// Every preset agent reports, works tasks and commands, and caches: the
/// demo's agents do all of it.
const WORKER: &[&str] = &[
    "actions:write",
    "runs:write",
    "tasks:claim",
    "commands:poll",
    "batch",
    "cache:write",
];

pub const PRESETS: &[Preset] = &[
    Preset {
        name: "content-moderator-ai",
        kind: "moderator",
        app_type: "moderation",
        actions: &["approve_post", "reject_post", "flag_comment"],
        permissions: WORKER,
        description: "Reviews posts and comments: approves, rejects or flags them",
    },
    Preset {
        name: "content-generator-ai",
        kind: "generator",
        app_type: "generation",
        actions: &["draft_article", "write_summary", "suggest_title"],
        permissions: WORKER,
        description: "Drafts articles, writes summaries and suggests titles",
    },
    Preset {
        name: "service-curator-ai",
        kind: "curator",
        app_type: "curation",
        actions: &["rank_services", "merge_duplicates", "tag_service"],
        permissions: WORKER,
        description: "Ranks services, merges duplicates and tags them",
    },
    Preset {
        name: "analytics-ai",
        kind: "analyst",
        app_type: "analytics",
        actions: &["build_report", "detect_anomaly", "forecast_usage"],
        permissions: WORKER,
        description: "Builds reports, detects anomalies and forecasts usage",
    },
    Preset {
        name: "admin-ai",
        kind: "administrator",
        app_type: "administration",
        actions: &["rotate_logs", "restart_worker", "clean_cache"],
        permissions: WORKER,
        description: "Rotates logs, restarts workers and cleans caches",
    },
];

/// The preset named `name`.
pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// "content-moderator-ai, content-generator-ai, …", for refusals.
pub fn names() -> String {
    PRESETS
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::SCOPES;
    use crate::error::DomainError;

    #[test]
    fn presets_are_valid_agent_profiles_with_distinct_names() {
        for preset in PRESETS {
            assert!(DomainError::check_label("name", preset.name).is_ok());
            assert!(DomainError::check_label("kind", preset.kind).is_ok());
            assert!(
                preset.permissions.iter().all(|p| SCOPES.contains(p)),
                "{}",
                preset.name
            );
            assert_eq!(find(preset.name), Some(preset));
        }
        let mut distinct: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), PRESETS.len());
        assert_eq!(find("no-such-preset"), None);
        assert!(names().contains("admin-ai"));
    }
}
