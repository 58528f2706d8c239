//! What the list and detail views share about their URLs: an id read from
//! the path (a malformed one is "not found", as an unknown one is), a filter
//! kept as a query string, and the link to a list's next, older page that
//! keeps that filter.

use std::collections::HashMap;
use std::str::FromStr;

use agentledger_api::state::AppState;
use agentledger_app::caller::Operator;
use agentledger_app::queries::directory::{self, AgentQuery};
use agentledger_app::queries::{ListParams, MAX_PAGE};

use crate::form::given;
use crate::page::{PageError, not_found};

/// Text as a query-string value.
pub fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Names by id (agents', workflows'), as lists show them: `listed` in the
/// directory's order for a choice, and a lookup for labels, where an id
/// not found reads as itself.
pub struct Names {
    pub listed: Vec<(String, String)>,
    by_id: HashMap<String, String>,
}

impl Names {
    pub fn new(listed: Vec<(String, String)>) -> Self {
        let by_id = listed.iter().cloned().collect();
        Self { listed, by_id }
    }

    /// The name of `id`, or `id` itself.
    pub fn of<'a>(&'a self, id: &'a str) -> &'a str {
        self.by_id.get(id).map_or(id, String::as_str)
    }
}

/// Agents' names by id, for the rows and the filter.
pub async fn agent_names(state: &AppState, operator: &Operator) -> Result<Names, PageError> {
    let all = ListParams {
        limit: Some(MAX_PAGE),
        ..ListParams::default()
    };
    let agents = directory::agents(state, operator, AgentQuery::default(), all).await?;
    Ok(Names::new(
        agents
            .items
            .into_iter()
            .map(|a| (a.agent_id, a.name))
            .collect(),
    ))
}

/// The id in a path segment; `what` names it in the 404.
pub fn id<T: FromStr>(text: &str, what: &str) -> Result<T, PageError> {
    text.trim().parse::<T>().map_err(|_| not_found(what))
}

/// `key=value&…` of the fields given (a blank field is no filter).
pub fn query(fields: &[(&str, &Option<String>)]) -> String {
    fields
        .iter()
        .filter_map(|(key, value)| given(value).map(|v| format!("{key}={}", urlencode(&v))))
        .collect::<Vec<_>>()
        .join("&")
}

/// The page of `path` after `cursor`, with the same filter.
pub fn older(path: &str, query: &str, cursor: i64) -> String {
    if query.is_empty() {
        format!("{path}?cursor={cursor}")
    } else {
        format!("{path}?{query}&cursor={cursor}")
    }
}

/// A duration given in microseconds, as people read it.
pub fn duration(micros: i64) -> String {
    let ms = micros.max(0) / 1_000;
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1_000.0)
    } else if ms < 3_600_000 {
        format!("{} min {:02} s", ms / 60_000, (ms / 1_000) % 60)
    } else {
        format!("{} h {:02} min", ms / 3_600_000, (ms / 60_000) % 60)
    }
}

/// How long something took from `started` to `ended` (microseconds since
/// the epoch); a dash until both are known.
pub fn took(started: &Option<i64>, ended: &Option<i64>) -> String {
    match (started, ended) {
        (Some(s), Some(e)) => duration(e.saturating_sub(*s)),
        _ => "—".into(),
    }
}

/// JSON text as an indented document to read; text that is not JSON as it
/// is.
pub fn pretty_json(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_the_largest_useful_unit() {
        assert_eq!(duration(15_000), "15 ms");
        assert_eq!(duration(2_500_000), "2.5 s");
        assert_eq!(duration(125_000_000), "2 min 05 s");
        assert_eq!(duration(7_380_000_000), "2 h 03 min");
        assert_eq!(duration(-5), "0 ms");
        assert_eq!(took(&Some(1_000), &None), "—");
    }

    #[test]
    fn the_older_link_keeps_the_filter() {
        let status = Some("failed".to_owned());
        let blank = Some("  ".to_owned());
        let q = query(&[("status", &status), ("type", &blank)]);
        assert_eq!(q, "status=failed");
        assert_eq!(
            older("/console/tasks", &q, 7),
            "/console/tasks?status=failed&cursor=7"
        );
        assert_eq!(older("/console/tasks", "", 7), "/console/tasks?cursor=7");
    }
}
