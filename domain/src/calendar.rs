//! Days and months as a tenant counts them: in its time zone, UTC unless it
//! set one. Counters keyed by these strings sort in time order.

use chrono::{DateTime, Datelike, Months, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The zone named, or UTC for none (or a name no longer known).
pub fn zone(name: Option<&str>) -> Tz {
    name.and_then(|n| n.parse().ok()).unwrap_or(Tz::UTC)
}

/// Whether `name` is an IANA time zone name.
pub fn is_zone(name: &str) -> bool {
    name.parse::<Tz>().is_ok()
}

/// `YYYY-MM-DD` of `at` in `zone`.
pub fn day(zone: Tz, at: DateTime<Utc>) -> String {
    at.with_timezone(&zone).format("%Y-%m-%d").to_string()
}

/// `YYYY-MM` of `at` in `zone`.
pub fn month(zone: Tz, at: DateTime<Utc>) -> String {
    at.with_timezone(&zone).format("%Y-%m").to_string()
}

/// When the day (`monthly` false) or month of `at` in `zone` ends: the
/// first moment of the next one. A midnight a DST change skips starts the
/// day at the first moment that exists.
pub fn period_end(zone: Tz, at: DateTime<Utc>, monthly: bool) -> DateTime<Utc> {
    let date = at.with_timezone(&zone).date_naive();
    let next = if monthly {
        date.checked_add_months(Months::new(1))
            .and_then(|d| d.with_day(1))
    } else {
        date.succ_opt()
    };
    let Some(next) = next else {
        return DateTime::<Utc>::MAX_UTC;
    };
    // The first local minute of that date that exists in the zone.
    (0..24 * 60)
        .filter_map(|minute| {
            let time = NaiveTime::from_num_seconds_from_midnight_opt(minute * 60, 0)?;
            zone.from_local_datetime(&next.and_time(time)).earliest()
        })
        .next()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_ends_at_the_tenants_next_midnight_or_first_of_the_month() {
        let at = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .map(|d| d.to_utc())
                .unwrap_or_default()
        };
        let berlin = zone(Some("Europe/Berlin"));
        assert_eq!(
            period_end(berlin, at("2026-11-30T12:00:00Z"), false),
            at("2026-11-30T23:00:00Z")
        );
        assert_eq!(
            period_end(berlin, at("2026-11-30T23:30:00Z"), true),
            at("2026-12-31T23:00:00Z")
        );
        assert_eq!(
            period_end(zone(None), at("2026-12-31T10:00:00Z"), true),
            at("2027-01-01T00:00:00Z")
        );
        // Santiago skips midnight when its summer time starts (2026-09-06).
        let santiago = zone(Some("America/Santiago"));
        assert_eq!(
            period_end(santiago, at("2026-09-05T12:00:00Z"), false),
            at("2026-09-06T04:00:00Z")
        );
    }

    #[test]
    fn a_moment_falls_on_the_tenants_own_day() {
        let at = DateTime::parse_from_rfc3339("2026-11-30T23:30:00Z")
            .map(|d| d.to_utc())
            .unwrap_or_default();
        assert_eq!(day(zone(None), at), "2026-11-30");
        assert_eq!(day(zone(Some("Europe/Berlin")), at), "2026-12-01");
        assert_eq!(month(zone(Some("Europe/Berlin")), at), "2026-12");
        assert_eq!(day(zone(Some("America/New_York")), at), "2026-11-30");
        assert_eq!(day(zone(Some("Asia/Kolkata")), at), "2026-12-01");
        assert_eq!(zone(Some("Mars/Olympus")), Tz::UTC);
        assert!(is_zone("Asia/Kolkata") && !is_zone("Mars/Olympus"));
    }
}
