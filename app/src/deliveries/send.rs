//! One attempt over HTTP, as the Standard Webhooks specification has it: a
//! POST of the JSON body with `webhook-id`, `webhook-timestamp` and
//! `webhook-signature` (`v1,` and the base64 HMAC-SHA256 of
//! `id.timestamp.body` under the subscription's secret). Only 2xx counts;
//! redirects are not followed; the receiver has `timeout` to answer.
//!
//! The address policy is applied where the connection is made (the client
//! is [`crate::outbound::client`]), and a URL naming an IP literal (which
//! needs no lookup) is checked before the request.

use std::time::{Duration, Instant};

use agentledger_domain::address::AddressPolicy;
use agentledger_domain::delivery::FailedAttempt;
use chrono::{DateTime, Utc};
use reqwest::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use standardwebhooks::{HEADER_WEBHOOK_ID, HEADER_WEBHOOK_SIGNATURE, HEADER_WEBHOOK_TIMESTAMP};

/// How the receiver answered.
pub(crate) enum Answer {
    Accepted {
        status_code: u16,
        duration_ms: u64,
    },
    Refused {
        failure: FailedAttempt,
        /// Seconds the receiver asked to wait (`Retry-After`).
        retry_after: Option<u64>,
        /// 410 Gone: it wants no more deliveries.
        gone: bool,
    },
}

pub(crate) struct Sender {
    client: reqwest::Client,
    policy: AddressPolicy,
    timeout: Duration,
}

impl Sender {
    pub(crate) fn new(policy: AddressPolicy, timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = crate::outbound::client(
            policy,
            timeout,
            concat!("agentledger-webhooks/", env!("CARGO_PKG_VERSION")),
        )?;
        Ok(Self {
            client,
            policy,
            timeout,
        })
    }

    /// Sends `body` to `url`, signed with `secret` under `delivery_id`.
    pub(crate) async fn send(
        &self,
        url: &str,
        delivery_id: &str,
        secret: &str,
        body: Vec<u8>,
        now: DateTime<Utc>,
    ) -> Answer {
        let started = Instant::now();
        let refused = |error: String, status_code: Option<u16>| Answer::Refused {
            failure: FailedAttempt {
                status_code,
                error,
                duration_ms: millis(started),
            },
            retry_after: None,
            gone: false,
        };
        if let Err(e) = self.policy.check_url("webhook url", url) {
            return refused(e.to_string(), None);
        }
        let timestamp = now.timestamp();
        let signature = match standardwebhooks::Webhook::new(secret)
            .and_then(|signer| signer.sign(delivery_id, timestamp, &body))
        {
            Ok(signature) => signature,
            Err(e) => return refused(format!("cannot sign: {e}"), None),
        };
        let sent = self
            .client
            .post(url)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(HEADER_WEBHOOK_ID, delivery_id)
            .header(HEADER_WEBHOOK_TIMESTAMP, timestamp.to_string())
            .header(HEADER_WEBHOOK_SIGNATURE, signature)
            .body(body)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(e) if e.is_timeout() => {
                return refused(
                    format!("no answer within {} s", self.timeout.as_secs()),
                    None,
                );
            }
            // Without the URL: the error is recorded in the log, and a
            // URL's query string may hold what its owner keeps private.
            Err(e) => return refused(crate::outbound::describe(&e.without_url()), None),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry_after_seconds(v, now));
        // The body is not read: only the status counts, and a large one
        // would cost time and memory for nothing.
        drop(response);
        if status.is_success() {
            return Answer::Accepted {
                status_code: status.as_u16(),
                duration_ms: millis(started),
            };
        }
        let error = if status.is_redirection() {
            format!("the receiver answered {status}; redirects are not followed")
        } else {
            format!("the receiver answered {status}")
        };
        Answer::Refused {
            failure: FailedAttempt {
                status_code: Some(status.as_u16()),
                error,
                duration_ms: millis(started),
            },
            retry_after,
            gone: status == reqwest::StatusCode::GONE,
        }
    }
}

fn millis(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// `Retry-After` as seconds from `now`: a number of seconds or an HTTP date.
fn retry_after_seconds(value: &str, now: DateTime<Utc>) -> Option<u64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds);
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    u64::try_from((at.with_timezone(&Utc) - now).num_seconds().max(0)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_ip_literal_is_checked_before_any_connection() {
        let sender = Sender::new(AddressPolicy::default(), Duration::from_secs(1))
            .unwrap_or_else(|e| panic!("{e}"));
        for url in [
            "http://127.0.0.1:9/",
            "http://0x7f.1:9/",
            "http://[::ffff:10.0.0.1]:9/",
        ] {
            let answer = sender
                .send(url, "id", "whsec_AAAA", b"{}".to_vec(), Utc::now())
                .await;
            assert!(
                matches!(&answer, Answer::Refused { failure, .. } if failure.error.contains("refused")),
                "{url}"
            );
        }
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_a_date() {
        let now = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        assert_eq!(retry_after_seconds("120", now), Some(120));
        assert_eq!(
            retry_after_seconds("Tue, 01 Dec 2026 10:02:00 GMT", now),
            Some(120)
        );
        assert_eq!(
            retry_after_seconds("Tue, 01 Dec 2026 09:00:00 GMT", now),
            Some(0)
        );
        assert_eq!(retry_after_seconds("soon", now), None);
        assert_eq!(retry_after_seconds("-5", now), None);
    }
}
