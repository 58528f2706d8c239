//! Audit: the log (or one stream) with the API's filters, a page at a time
//! from a position on, each event with its data; a walk of the hash chain;
//! and the exports, as downloads. These are audit reads (admins and
//! auditors): any other role is told so on the page rather than refused it,
//! since the dashboard as of a moment, beside them, is open to every role.

use agentledger_api::state::AppState;
use agentledger_app::AppError;
use agentledger_app::audit;
use agentledger_app::event_filter::EventQuery;
use agentledger_domain::ActorKind;
use agentledger_store::integrity::Verification;
use agentledger_store::{RecordedEvent, to_hex};
use askama::Template;
use axum::extract::State;
use serde::Deserialize;
use uuid::Uuid;

use crate::form::{PageQuery, given, local_time, parsed};
use crate::format::Zone;
use crate::page::{Layout, PageResult, html};
use crate::session::Signed;
use crate::views::links::urlencode;

/// Events a page shows: each carries its data, so fewer than the API's
/// default of 100 keep a page readable.
const PAGE_EVENTS: usize = 50;

/// The filters, as the URL carries them (blank is any).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Asked {
    /// One stream only (`agent-…`, `budget-…`): paged by its versions.
    pub stream: Option<String>,
    /// Comma-separated event types.
    pub types: Option<String>,
    /// `agent`, `operator` or `system`.
    pub actor_kind: Option<String>,
    pub actor_id: Option<String>,
    pub correlation_id: Option<String>,
    /// Occurred at or after, in the tenant's zone (`datetime-local`).
    pub from: Option<String>,
    /// Occurred before.
    pub to: Option<String>,
    /// Where the page starts: a log position, or with `stream` a version.
    pub start: Option<String>,
}

impl Asked {
    /// The filters as a query string; the stream's only when `stream`
    /// (exports read the log, not one stream).
    fn query(&self, stream: bool) -> String {
        let none: Option<String> = None;
        let fields = [
            ("stream", if stream { &self.stream } else { &none }),
            ("types", &self.types),
            ("actor_kind", &self.actor_kind),
            ("actor_id", &self.actor_id),
            ("correlation_id", &self.correlation_id),
            ("from", &self.from),
            ("to", &self.to),
        ];
        crate::views::links::query(&fields)
    }
}

/// An event as a row of the page.
struct EventRow {
    position: u64,
    event_type: String,
    stream_id: String,
    stream_link: String,
    version: u64,
    occurred: String,
    recorded: String,
    actor: String,
    actor_link: String,
    /// Empty when the event has none.
    correlation: String,
    correlation_link: String,
    event_id: String,
    hash: String,
    /// Its payload, as indented JSON.
    data: String,
}

impl EventRow {
    fn of(e: &RecordedEvent, zone: Zone) -> Self {
        let kind = e.actor.kind.as_str();
        EventRow {
            position: e.position,
            event_type: e.event_type.clone(),
            stream_link: format!("/console/audit?stream={}", urlencode(&e.stream_id)),
            stream_id: e.stream_id.clone(),
            version: e.stream_version,
            occurred: zone.at(&e.occurred_at),
            recorded: zone.at(&e.recorded_at),
            actor: format!("{kind} {}", e.actor.id),
            actor_link: format!(
                "/console/audit?actor_kind={kind}&actor_id={}",
                urlencode(&e.actor.id)
            ),
            correlation: e.correlation_id.map(|c| c.to_string()).unwrap_or_default(),
            correlation_link: e
                .correlation_id
                .map(|c| format!("/console/audit?correlation_id={c}"))
                .unwrap_or_default(),
            event_id: e.event_id.to_string(),
            hash: to_hex(&e.hash),
            data: {
                let shown = without_secret_hashes(e.payload.clone());
                serde_json::to_string_pretty(&shown).unwrap_or_else(|_| shown.to_string())
            },
        }
    }
}

/// A payload as the page shows it: the hashes of secrets (`secret_hash`,
/// `refresh_hash`, …) are of no use to a reader and are left out of the
/// page; the log, its API and exports keep them, as recorded and hashed.
fn without_secret_hashes(mut value: serde_json::Value) -> serde_json::Value {
    match &mut value {
        serde_json::Value::Object(fields) => {
            for (name, field) in fields.iter_mut() {
                if name.ends_with("_hash") {
                    *field = serde_json::Value::String("(withheld from the page)".into());
                } else {
                    *field = without_secret_hashes(field.take());
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items.iter_mut() {
                *item = without_secret_hashes(item.take());
            }
        }
        _ => {}
    }
    value
}

/// A download of the events shown, in one format.
struct Download {
    label: &'static str,
    href: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct Page {
    layout: Layout,
    asked: Asked,
    /// Whether the operator's role may make audit reads.
    allowed: bool,
    rows: Vec<EventRow>,
    /// Why a stream shows nothing (it has no events, or none of this tenant).
    note: Option<String>,
    next: Option<String>,
    /// The events shown as downloads (the log only: exports read no stream).
    downloads: Vec<Download>,
}

pub async fn page(
    State(state): State<AppState>,
    signed: Signed,
    PageQuery(asked): PageQuery<Asked>,
) -> PageResult {
    let layout = Layout::of(&state, &signed.session, "audit", "Audit").await?;
    let operator = &signed.session.operator;
    if operator.audit_scope().is_err() {
        return Ok(html(&Page {
            layout,
            asked,
            allowed: false,
            rows: Vec::new(),
            note: None,
            next: None,
            downloads: Vec::new(),
        }));
    }
    let types = given(&asked.types);
    let actor_id = given(&asked.actor_id);
    let query = EventQuery {
        // The console shows one tenant at a time, an admin's choice included.
        tenant_id: Some(operator.tenant_id.0),
        types: types.as_deref(),
        actor_kind: parsed::<ActorKind>(&asked.actor_kind, "actor kind")?,
        actor_id: actor_id.as_deref(),
        correlation_id: parsed::<Uuid>(&asked.correlation_id, "correlation id")?,
        from: local_time(&asked.from, layout.zone, "from")?,
        to: local_time(&asked.to, layout.zone, "to")?,
    };
    let start = parsed::<u64>(&asked.start, "start")?;
    let stream = given(&asked.stream);
    let (events, next, note) = match &stream {
        Some(stream) => {
            match audit::read_stream(&state, operator, stream, start, Some(PAGE_EVENTS), &query)
                .await
            {
                Ok(found) => (found.events, found.next, None),
                Err(AppError::NotFound(detail)) => (Vec::new(), None, Some(detail)),
                Err(err) => return Err(err.into()),
            }
        }
        None => {
            let found = audit::read_log(&state, operator, start, Some(PAGE_EVENTS), &query).await?;
            (found.events, found.next, None)
        }
    };
    let rows: Vec<EventRow> = events
        .iter()
        .map(|e| EventRow::of(e, layout.zone))
        .collect();
    let next = next.map(|n| {
        let query = asked.query(true);
        if query.is_empty() {
            format!("/console/audit?start={n}")
        } else {
            format!("/console/audit?{query}&start={n}")
        }
    });
    let downloads: Vec<Download> = if stream.is_none() {
        let filters = asked.query(false);
        [
            ("CSV", "csv"),
            ("JSON Lines", "jsonl"),
            ("Parquet", "parquet"),
        ]
        .into_iter()
        .map(|(label, ext)| Download {
            label,
            href: if filters.is_empty() {
                format!("/console/audit/export?dataset=events&format={ext}")
            } else {
                format!("/console/audit/export?dataset=events&format={ext}&{filters}")
            },
        })
        .collect()
    } else {
        Vec::new()
    };
    Ok(html(&Page {
        layout,
        asked,
        allowed: true,
        rows,
        note,
        next,
        downloads,
    }))
}

#[derive(Template)]
#[template(path = "audit_verify.html")]
struct Verified {
    v: Verification,
    verified: String,
    checked_at: String,
}

/// Walks the whole chain and shows what it found: a read, so a GET; the
/// page's button puts the answer in place.
pub async fn verify(State(state): State<AppState>, signed: Signed) -> PageResult {
    let layout = Layout::of(&state, &signed.session, "audit", "Audit").await?;
    let v = audit::verify_chain(&state, &signed.session.operator).await?;
    let verified = crate::format::count(&i64::try_from(v.verified).unwrap_or(i64::MAX));
    Ok(html(&Verified {
        verified,
        checked_at: layout.zone.at(&state.clock.now()),
        v,
    }))
}
