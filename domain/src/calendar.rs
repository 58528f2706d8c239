//! Days and months as a tenant counts them: in its time zone, UTC unless it
//! set one. Counters keyed by these strings sort in time order.

use chrono::{DateTime, Utc};
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

#[cfg(test)]
mod tests {
    use super::*;

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
