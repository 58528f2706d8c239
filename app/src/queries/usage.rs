//! The usage read model: tokens, calls and cost per day or month of the
//! tenant, per tenant, agent or model.

use agentledger_domain::ids::TenantId;
use agentledger_projections::usage::{self as model, Grouping, Period, Usage, UsageRow};
use chrono::NaiveDate;

use crate::app::App;
use crate::caller::Operator;
use crate::error::AppError;
use crate::queries::today;

/// At most this many days per query: a range costs days x agents x models rows.
pub const MAX_USAGE_DAYS: i64 = 3660;

/// Which usage to read; the tenant's days, both inclusive.
#[derive(Debug, Clone, Default)]
pub struct Asked {
    /// 30 days before `to` when absent.
    pub from: Option<NaiveDate>,
    /// Today when absent.
    pub to: Option<NaiveDate>,
    /// `Day` when absent.
    pub period: Option<Period>,
    /// `Tenant` when absent.
    pub by: Option<Grouping>,
    pub tenant_id: Option<TenantId>,
}

/// Usage per period and key, oldest period first, and the days it covers.
#[derive(Debug, Clone)]
pub struct UsageHistory {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub items: Vec<UsageRow>,
    pub position: u64,
}

pub async fn history(
    app: &App,
    operator: &Operator,
    asked: Asked,
    min_position: Option<u64>,
) -> Result<UsageHistory, AppError> {
    let tenant = operator.tenant_to_read(asked.tenant_id)?;
    let progress = app.caught_up(&Usage, min_position).await?;
    let today = today(app, model::ZONES, tenant).await?;
    let (from, to) = usage_days(asked.from, asked.to, today)?;
    let items = model::history(
        &app.database,
        tenant,
        &from.format("%Y-%m-%d").to_string(),
        &to.format("%Y-%m-%d").to_string(),
        asked.period.unwrap_or(Period::Day),
        asked.by.unwrap_or(Grouping::Tenant),
    )
    .await?;
    Ok(UsageHistory {
        from,
        to,
        items,
        position: progress.position(),
    })
}

/// The tenant's days a usage query covers, both inclusive: 30 days up to
/// `today` unless told otherwise, at most `MAX_USAGE_DAYS`.
pub(crate) fn usage_days(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    today: NaiveDate,
) -> Result<(NaiveDate, NaiveDate), AppError> {
    let to = to.unwrap_or(today);
    let from = match from {
        Some(from) => from,
        None => to
            .checked_sub_days(chrono::Days::new(29))
            .ok_or_else(|| AppError::Unprocessable("`to` is too early".into()))?,
    };
    let days = (to - from).num_days();
    if !(0..MAX_USAGE_DAYS).contains(&days) {
        return Err(AppError::Unprocessable(format!(
            "`from` must be on or before `to`, and at most {MAX_USAGE_DAYS} days before it"
        )));
    }
    Ok((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap_or_default()
    }

    #[test]
    fn thirty_days_up_to_today_unless_told_otherwise() {
        let today = day("2026-03-31");
        assert_eq!(
            usage_days(None, None, today).ok(),
            Some((day("2026-03-02"), today))
        );
        assert_eq!(
            usage_days(Some(day("2026-03-31")), None, today).ok(),
            Some((today, today))
        );
    }

    #[test]
    fn ranges_backwards_or_too_long_are_refused_by_rule() {
        let today = day("2026-03-31");
        let backwards = usage_days(Some(day("2026-04-01")), None, today);
        assert!(matches!(backwards, Err(AppError::Unprocessable(_))));
        let from = today - chrono::Days::new(MAX_USAGE_DAYS as u64);
        assert!(matches!(
            usage_days(Some(from), None, today),
            Err(AppError::Unprocessable(_))
        ));
        let from = today - chrono::Days::new(MAX_USAGE_DAYS as u64 - 1);
        assert!(usage_days(Some(from), None, today).is_ok());
    }
}
