//! How rows of the read models are written for clients: the API's one naming
//! rule (DESIGN.md, "API conventions"). The models keep instants as Unix
//! microseconds and money as micro-dollars, so ranges are integer compares and
//! sums are exact; clients read an instant as an RFC 3339 string and money in
//! US dollars, the forms commands take. Fields keep their stored names in Rust
//! (`occurred_at_us`, `cost_micros`) and are renamed on the wire
//! (`occurred_at`, `cost_usd`) next to the serializer used here.

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

/// Unix microseconds as an RFC 3339 UTC string, as chrono writes a
/// `DateTime<Utc>` everywhere else in the API.
pub fn instant<S: Serializer>(micros: &i64, s: S) -> Result<S::Ok, S::Error> {
    as_time(*micros)
        .map_err(serde::ser::Error::custom)?
        .serialize(s)
}

/// [`instant`] for a time that may not have happened yet.
pub fn maybe_instant<S: Serializer>(micros: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match micros {
        Some(m) => instant(m, s),
        None => s.serialize_none(),
    }
}

/// Micro-dollars as US dollars. Up to 2^32 dollars (about 4.3 billion) a
/// double resolves better than half a micro-dollar, so the six decimals read
/// back unchanged; from there to the read models' cap (2^53 micro-dollars,
/// about 9 billion) they are off by at most one micro-dollar.
pub fn usd<S: Serializer>(micros: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(dollars(*micros))
}

/// [`usd`] for an amount that may be absent (no limit, say).
pub fn maybe_usd<S: Serializer>(micros: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match micros {
        Some(m) => usd(m, s),
        None => s.serialize_none(),
    }
}

pub fn dollars(micros: i64) -> f64 {
    micros as f64 / 1e6
}

fn as_time(micros: i64) -> Result<DateTime<Utc>, String> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| format!("{micros} µs is outside the range of a date"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Row {
        #[serde(rename = "at", serialize_with = "instant")]
        at_us: i64,
        #[serde(rename = "until", serialize_with = "maybe_instant")]
        until_us: Option<i64>,
        #[serde(rename = "cost_usd", serialize_with = "usd")]
        cost_micros: i64,
        #[serde(rename = "limit_usd", serialize_with = "maybe_usd")]
        limit_micros: Option<i64>,
    }

    #[test]
    fn instants_read_as_rfc3339_and_money_as_dollars() {
        let row = Row {
            at_us: 1_764_547_200_123_456,
            until_us: None,
            cost_micros: 12_346,
            limit_micros: Some(150_000_000),
        };
        assert_eq!(
            serde_json::to_value(&row).unwrap(),
            serde_json::json!({
                "at": "2025-12-01T00:00:00.123456Z",
                "until": null,
                "cost_usd": 0.012346,
                "limit_usd": 150.0,
            })
        );
    }

    fn read_back(micros: i64) -> i64 {
        let text = serde_json::to_string(&dollars(micros)).unwrap();
        (text.parse::<f64>().unwrap() * 1e6).round() as i64
    }

    #[test]
    fn amounts_read_back_to_the_same_micro_dollars() {
        let four_billion = (1_i64 << 32) * 1_000_000 - 1;
        for micros in [0, 1, 999_999, 123_456_789, four_billion] {
            assert_eq!(read_back(micros), micros);
        }
        let cap = (1_i64 << 53) - 1;
        assert!((read_back(cap) - cap).abs() <= 1);
    }

    #[test]
    fn an_instant_out_of_range_is_an_error_not_a_wrong_date() {
        let row = Row {
            at_us: i64::MAX,
            until_us: None,
            cost_micros: 0,
            limit_micros: None,
        };
        assert!(serde_json::to_value(&row).is_err());
    }
}
