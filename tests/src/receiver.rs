//! A webhook receiver on loopback for the delivery tests: it records every
//! request and answers as its script says (204 when the script is empty),
//! and checks signatures with its own HMAC-SHA256, written from the
//! Standard Webhooks specification rather than taken from the sender.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

/// What the receiver answers to one request.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    /// The status with `Retry-After: seconds`.
    RetryAfter(u16, u64),
    /// 302 to this path of the receiver.
    Redirect(&'static str),
    /// No answer for this long.
    Hang(Duration),
    /// The status with this JSON body.
    Json(u16, Value),
    /// [`Reply::Json`] after this long.
    LateJson(Duration, u16, Value),
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// What the receiver answered (after the wait, for a hang).
    pub answered: StatusCode,
}

impl Received {
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }

    /// Whether `webhook-signature` holds a `v1` signature of
    /// `id.timestamp.body` under `secret` (`whsec_` and base64).
    pub fn signed_with(&self, secret: &str) -> bool {
        let Some(key) = secret
            .strip_prefix("whsec_")
            .and_then(|k| STANDARD.decode(k).ok())
        else {
            return false;
        };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else {
            return false;
        };
        mac.update(self.header("webhook-id").as_bytes());
        mac.update(b".");
        mac.update(self.header("webhook-timestamp").as_bytes());
        mac.update(b".");
        mac.update(&self.body);
        let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
        self.header("webhook-signature")
            .split(' ')
            .any(|signature| signature == expected)
    }
}

#[derive(Clone, Default)]
pub struct Receiver {
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
}

impl Receiver {
    /// Starts one on a free loopback port: it and its base URL.
    pub async fn start() -> (Self, String) {
        let receiver = Self::default();
        let app = axum::Router::new().fallback({
            let receiver = receiver.clone();
            move |uri: Uri, headers: HeaderMap, body: Bytes| {
                let receiver = receiver.clone();
                async move { receiver.answer(uri, headers, body).await }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let address = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (receiver, format!("http://{address}"))
    }

    /// Answers the next requests as `replies` say, in order.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.script
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(replies);
    }

    pub fn received(&self) -> Vec<Received> {
        self.received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits (at most 20 s) until `count` requests have come.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} of {count} deliveries came",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn answer(&self, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
        let reply = self
            .script
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front()
            .unwrap_or(Reply::Status(204));
        let status = |code: u16| StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT);
        let answered = match reply {
            Reply::Status(code)
            | Reply::RetryAfter(code, _)
            | Reply::Json(code, _)
            | Reply::LateJson(_, code, _) => status(code),
            Reply::Redirect(_) => StatusCode::FOUND,
            Reply::Hang(_) => StatusCode::NO_CONTENT,
        };
        self.received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Received {
                path: uri.path().to_owned(),
                headers,
                body: body.to_vec(),
                answered,
            });
        match reply {
            Reply::Status(_) => answered.into_response(),
            Reply::Json(_, body) => (answered, axum::Json(body)).into_response(),
            Reply::LateJson(time, _, body) => {
                tokio::time::sleep(time).await;
                (answered, axum::Json(body)).into_response()
            }
            Reply::RetryAfter(_, seconds) => {
                (answered, [("retry-after", seconds.to_string())]).into_response()
            }
            Reply::Redirect(path) => (answered, [("location", path)]).into_response(),
            Reply::Hang(time) => {
                tokio::time::sleep(time).await;
                answered.into_response()
            }
        }
    }
}
