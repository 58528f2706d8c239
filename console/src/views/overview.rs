//! The overview: today's figures against the budgets, the week's trend, the
//! apps and their health and the newest alerts, moving as events commit.

use agentledger_api::state::AppState;
use agentledger_app::caller::Operator;
use agentledger_app::queries::budgets::BudgetStatus;
use agentledger_app::queries::dashboard::{Dashboard, dashboard};
use askama::Template;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::response::Response;

use crate::chart::Chart;
use crate::format::Zone;
use crate::live;
use crate::page::{Layout, PageError, PageResult, html, rendered};
use crate::session::Signed;

#[derive(Template)]
#[template(path = "overview_body.html")]
pub struct Body {
    pub d: Dashboard,
    pub zone: Zone,
    pub trend: String,
}

impl Body {
    fn budgets(&self) -> &[BudgetStatus] {
        self.d.budgets.as_deref().unwrap_or_default()
    }
}

#[derive(Template)]
#[template(path = "overview.html")]
struct Page {
    layout: Layout,
    body: String,
}

async fn body(
    state: &AppState,
    operator: &Operator,
    zone: Zone,
    at: Option<u64>,
) -> Result<Body, PageError> {
    let d = dashboard(state, operator, None, at, None).await?;
    Ok(Body {
        trend: trend(&d).json(),
        d,
        zone,
    })
}

/// The week's calls, tokens and cost, a point a day.
pub fn trend(d: &Dashboard) -> Chart {
    let days = &d.view.trend;
    Chart::new(days.iter().map(|t| t.date.clone()).collect())
        .series(
            "Calls",
            days.iter().map(|t| t.calls as f64).collect(),
            false,
        )
        .series(
            "Tokens",
            days.iter().map(|t| t.tokens as f64).collect(),
            true,
        )
}

pub async fn page(State(state): State<AppState>, signed: Signed) -> PageResult {
    let layout = Layout::of(&state, &signed.session, "overview", "Overview").await?;
    let body = body(&state, &signed.session.operator, layout.zone, None).await?;
    Ok(html(&Page {
        body: rendered(&body)?,
        layout,
    }))
}

/// The overview's figures again after each burst of events.
pub async fn live(State(state): State<AppState>, signed: Signed) -> Response {
    let zone = match crate::page::zone_of(&state, &signed.session).await {
        Ok(zone) => zone,
        Err(err) => return err.into_response(),
    };
    let operator = signed.session.operator.clone();
    let app = state.clone();
    let render = live::render(move |position| {
        let (app, operator) = (app.clone(), operator.clone());
        async move {
            let body = body(&app, &operator, zone, Some(position)).await?;
            Ok(Some(live::Fragment {
                html: rendered(&body)?,
                seen_up_to: position,
                last: false,
            }))
        }
    });
    match live::fragments(&state, signed, "overview", render).await {
        Ok(sse) => sse.into_response(),
        Err(err) => err.into_response(),
    }
}
