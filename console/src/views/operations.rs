//! The operation log: every action agents reported, newest first, with
//! filters; new ones appear at the top as they are recorded.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use agentledger_api::state::AppState;
use agentledger_app::caller::Operator;
use agentledger_app::queries::operations::{self, Filter};
use agentledger_app::queries::{ListParams, MAX_PAGE};
use agentledger_domain::ids::AgentId;
use agentledger_projections::operation_log::Operation;
use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::form::{PageQuery, given, local_time, parsed};
use crate::format::Zone;
use crate::live;
use crate::page::{Layout, PageError, PageResult, html, rendered};
use crate::session::Signed;
use crate::views::links::{self, Names, agent_names};

/// The filter form, as the URL carries it.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Asked {
    pub agent_id: Option<String>,
    pub action: Option<String>,
    pub resource_type: Option<String>,
    pub status: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub cursor: Option<i64>,
    /// For the live rows: the newest position the page shows.
    pub after: Option<u64>,
}

impl Asked {
    fn filter(&self, zone: Zone) -> Result<Filter, PageError> {
        Ok(Filter {
            agent_id: parsed::<uuid::Uuid>(&self.agent_id, "agent")?.map(AgentId),
            action: given(&self.action),
            resource_type: given(&self.resource_type),
            status: given(&self.status),
            from: local_time(&self.from, zone, "from")?,
            to: local_time(&self.to, zone, "to")?,
            tenant_id: None,
        })
    }

    /// The query string of this filter, for the live rows and the next page.
    fn query(&self) -> String {
        let fields = [
            ("agent_id", &self.agent_id),
            ("action", &self.action),
            ("resource_type", &self.resource_type),
            ("status", &self.status),
            ("from", &self.from),
            ("to", &self.to),
        ];
        crate::views::links::query(&fields)
    }
}

#[derive(Template)]
#[template(path = "operations_rows.html")]
struct Rows<'a> {
    rows: &'a [Operation],
    names: &'a Names,
    zone: Zone,
}

#[derive(Template)]
#[template(path = "operations.html")]
struct Page {
    layout: Layout,
    asked: Asked,
    agents: Names,
    rows: String,
    next: Option<String>,
    live: String,
    empty: bool,
}

pub async fn page(
    State(state): State<AppState>,
    signed: Signed,
    PageQuery(asked): PageQuery<Asked>,
) -> PageResult {
    let layout = Layout::of(&state, &signed.session, "operations", "Operation log").await?;
    let operator = &signed.session.operator;
    let filter = asked.filter(layout.zone)?;
    let list = ListParams {
        cursor: asked.cursor,
        ..ListParams::default()
    };
    let page = operations::list(&state, operator, filter, list).await?;
    let agents = agent_names(&state, operator).await?;
    let rows = rendered(&Rows {
        rows: &page.items,
        names: &agents,
        zone: layout.zone,
    })?;
    let query = asked.query();
    let next = page
        .next_cursor
        .map(|c| links::older("/console/operations", &query, c));
    // Only the first page grows live: a later one is a fixed window.
    let live = if asked.cursor.is_none() {
        // The model had every row up to the newest shown, and up to its position.
        let newest = page.items.first().map_or(0, |o| o.position as u64);
        format!(
            "/console/operations/live?{query}&after={}",
            newest.max(page.position)
        )
    } else {
        String::new()
    };
    Ok(html(&Page {
        empty: page.items.is_empty(),
        layout,
        asked,
        agents,
        rows,
        next,
        live,
    }))
}

/// New rows that match the filter, as they are recorded.
pub async fn live(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    PageQuery(asked): PageQuery<Asked>,
) -> Response {
    match live_rows(state, signed, headers, asked).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn live_rows(
    state: AppState,
    signed: Signed,
    headers: HeaderMap,
    asked: Asked,
) -> Result<Response, PageError> {
    let zone = crate::page::zone_of(&state, &signed.session).await?;
    let filter = asked.filter(zone)?;
    let operator = signed.session.operator.clone();
    // A browser reconnecting says what it saw last.
    let last_seen = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let shown = Arc::new(AtomicU64::new(last_seen.or(asked.after).unwrap_or(0)));
    let app = state.clone();
    let render = live::render(move |position| {
        let (app, operator, filter, shown) =
            (app.clone(), operator.clone(), filter.clone(), shown.clone());
        async move {
            let after = shown.load(Ordering::Relaxed);
            let new = rows_after(&app, &operator, &filter, after, position).await?;
            // The model had every row up to the newest one read (it applies
            // the log in order), and every one up to `position`.
            let seen_up_to = new
                .first()
                .map_or(position, |o| (o.position as u64).max(position));
            shown.store(seen_up_to, Ordering::Relaxed);
            if new.is_empty() {
                return Ok(None);
            }
            let names = agent_names(&app, &operator).await?;
            Ok(Some(live::Fragment {
                html: rendered(&Rows {
                    rows: &new,
                    names: &names,
                    zone,
                })?,
                seen_up_to,
                last: false,
            }))
        }
    });
    Ok(live::fragments(&state, signed, "rows", render)
        .await?
        .into_response())
}

/// The rows matching `filter` after position `after`, newest first, read
/// from a model that has reached `position`: page after page, up to
/// [`LIVE_PAGES`] pages (a burst of more shows its newest rows; a reload
/// shows them all).
async fn rows_after(
    app: &AppState,
    operator: &Operator,
    filter: &Filter,
    after: u64,
    position: u64,
) -> Result<Vec<Operation>, PageError> {
    let mut rows = Vec::new();
    let mut cursor = None;
    for _ in 0..LIVE_PAGES {
        let list = ListParams {
            cursor,
            limit: Some(MAX_PAGE),
            min_position: Some(position),
        };
        let page = operations::list(app, operator, filter.clone(), list).await?;
        let read = page.items.len();
        let kept = rows.len();
        rows.extend(page.items.into_iter().filter(|o| o.position as u64 > after));
        match page.next_cursor {
            // Every row of the page was new: older ones may be too.
            Some(next) if rows.len() - kept == read => cursor = Some(next),
            _ => break,
        }
    }
    Ok(rows)
}

/// Pages of rows one live update reads at most (5,000 rows).
const LIVE_PAGES: usize = 10;
