//! Numbers and times as people read them: tokens with thousands separators,
//! money in dollars, times in the tenant's zone with the zone named.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// The zone a tenant's times are shown in.
#[derive(Debug, Clone, Copy)]
pub struct Zone(pub Tz);

impl Zone {
    /// Its IANA name, shown beside every time.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// A moment (microseconds since the epoch) as a wall-clock time there.
    pub fn time(&self, micros: &i64) -> String {
        match DateTime::from_timestamp_micros(*micros) {
            Some(t) => self.at(&t),
            None => "—".into(),
        }
    }

    pub fn maybe_time(&self, micros: &Option<i64>) -> String {
        micros.as_ref().map_or_else(|| "—".into(), |m| self.time(m))
    }

    pub fn at(&self, t: &DateTime<Utc>) -> String {
        t.with_timezone(&self.0)
            .format("%Y-%m-%d %H:%M:%S %Z")
            .to_string()
    }

    pub fn maybe_at(&self, t: &Option<DateTime<Utc>>) -> String {
        t.as_ref().map_or_else(|| "—".into(), |t| self.at(t))
    }
}

/// A count with thousands separators: 1,234,567.
pub fn count(n: &i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if *n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn maybe_count(n: &Option<i64>) -> String {
    n.as_ref().map_or_else(|| "—".into(), count)
}

/// Micro-dollars as dollars: cents for amounts of a dollar or more, and
/// enough places below that to show what a cheap run costs.
pub fn dollars(micros: &i64) -> String {
    let value = *micros as f64 / 1e6;
    if value.abs() >= 1.0 || *micros == 0 {
        let cents = (value * 100.0).round() as i64;
        format!(
            "{}${}.{:02}",
            if cents < 0 { "-" } else { "" },
            count(&(cents.abs() / 100)),
            cents.abs() % 100
        )
    } else {
        format!("{}${:.4}", if value < 0.0 { "-" } else { "" }, value.abs())
    }
}

/// A share (0 to 1 and past) as a percentage.
pub fn percent(share: &Option<f64>) -> String {
    share.map_or_else(|| "—".into(), |s| format!("{:.1}%", s * 100.0))
}

pub fn share(share: &f64) -> String {
    percent(&Some(*share))
}

/// Milliseconds, rounded.
pub fn ms(value: &Option<f64>) -> String {
    value.map_or_else(
        || "—".into(),
        |v| format!("{} ms", count(&(v.round() as i64))),
    )
}

pub fn maybe_ms(value: &Option<i64>) -> String {
    value.map_or_else(|| "—".into(), |v| format!("{} ms", count(&v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(count(&0), "0");
        assert_eq!(count(&999), "999");
        assert_eq!(count(&1000), "1,000");
        assert_eq!(count(&1234567), "1,234,567");
        assert_eq!(count(&-1234), "-1,234");
        assert_eq!(count(&i64::MIN), "-9,223,372,036,854,775,808");
    }

    #[test]
    fn money_reads_in_dollars() {
        assert_eq!(dollars(&0), "$0.00");
        assert_eq!(dollars(&1_234_560_000), "$1,234.56");
        assert_eq!(dollars(&15_000), "$0.0150");
        assert_eq!(dollars(&-2_500_000), "-$2.50");
        assert_eq!(dollars(&-500_000), "-$0.5000");
    }

    #[test]
    fn times_name_their_zone() {
        let zone = Zone("Europe/Paris".parse().unwrap_or(Tz::UTC));
        // 2026-01-01T00:00:00Z
        assert_eq!(zone.time(&1_767_225_600_000_000), "2026-01-01 01:00:00 CET");
        assert_eq!(Zone(Tz::UTC).time(&i64::MAX), "—");
    }
}
