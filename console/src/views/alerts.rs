//! Alerts: how many stand in each state, a filtered list, and acknowledging
//! or ignoring one with a note.

use agentledger_api::state::AppState;
use agentledger_app::budgets::handle_alert;
use agentledger_app::queries::ListParams;
use agentledger_app::queries::dashboard::{Filter, alert_list};
use agentledger_domain::alert::AlertCommand;
use agentledger_projections::dashboard::{AlertRow, Dashboard};
use askama::Template;
use axum::extract::{Form, Path, State};
use serde::Deserialize;
use uuid::Uuid;

use crate::form::{PageQuery, given};
use crate::format::Zone;
use crate::page::{Layout, PageResult, html, not_found, refresh, rendered};
use crate::session::{Signed, Writer};
use crate::views::links;

#[derive(Debug, Default, Deserialize)]
pub struct Asked {
    pub status: Option<String>,
    pub severity: Option<String>,
    pub source: Option<String>,
    pub cursor: Option<i64>,
}

#[derive(Template)]
#[template(path = "alert_row.html")]
struct Row<'a> {
    a: &'a AlertRow,
    zone: Zone,
    can_write: bool,
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct Page {
    layout: Layout,
    asked: Asked,
    counts: Vec<(String, i64)>,
    rows: Vec<String>,
    next: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    signed: Signed,
    PageQuery(asked): PageQuery<Asked>,
) -> PageResult {
    let layout = Layout::of(&state, &signed.session, "alerts", "Alerts").await?;
    let filter = Filter {
        status: given(&asked.status),
        severity: given(&asked.severity),
        source: given(&asked.source),
        ..Filter::default()
    };
    let list = ListParams {
        cursor: asked.cursor,
        ..ListParams::default()
    };
    let alerts = alert_list(&state, &signed.session.operator, filter, list).await?;
    let rows = alerts
        .page
        .items
        .iter()
        .map(|a| {
            rendered(&Row {
                a,
                zone: layout.zone,
                can_write: layout.can_write,
            })
        })
        .collect::<Result<_, _>>()?;
    let query = links::query(&[
        ("status", &asked.status),
        ("severity", &asked.severity),
        ("source", &asked.source),
    ]);
    let next = alerts
        .page
        .next_cursor
        .map(|c| links::older("/console/alerts", &query, c));
    let counts = ["pending", "acknowledged", "ignored"]
        .iter()
        .map(|s| ((*s).to_owned(), alerts.counts.get(*s).copied().unwrap_or(0)))
        .collect();
    Ok(html(&Page {
        layout,
        asked,
        counts,
        rows,
        next,
    }))
}

#[derive(Deserialize)]
pub struct NoteForm {
    note: Option<String>,
}

/// Acknowledges or ignores an alert; the page is then shown again.
pub async fn handle(
    State(state): State<AppState>,
    Writer(signed): Writer,
    Path((alert_id, action)): Path<(Uuid, String)>,
    Form(form): Form<NoteForm>,
) -> PageResult {
    let note = given(&form.note);
    let command = match action.as_str() {
        "acknowledge" => AlertCommand::Acknowledge { note },
        "ignore" => AlertCommand::Ignore { note },
        _ => return Err(not_found("action")),
    };
    let position = handle_alert(&state, &signed.session.operator, alert_id, command).await?;
    state.caught_up(&Dashboard, Some(position)).await?;
    Ok(refresh())
}
