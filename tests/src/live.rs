//! Reading the live feeds as a client would: SSE through an independent
//! parser (`eventsource-stream`), and the log as the store holds it to
//! compare with.

use std::pin::Pin;
use std::time::Duration;

use agentledger_store::EventFilter;
use eventsource_stream::{Event, Eventsource};
use futures::{Stream, StreamExt};
use reqwest::StatusCode;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::TestServer;

type Events = Pin<Box<dyn Stream<Item = Event> + Send>>;

/// An open SSE feed, read with an independent parser.
pub struct Sse(Events);

impl Sse {
    pub async fn open(server: &TestServer, token: &str, query: &str, last_id: Option<u64>) -> Self {
        let mut request = server
            .http
            .get(server.url(&format!("/api/v1/stream{query}")))
            .bearer_auth(token);
        if let Some(id) = last_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            crate::header(&response, "content-type"),
            "text/event-stream"
        );
        let events = response
            .bytes_stream()
            .eventsource()
            .map(|e| e.unwrap_or_else(|e| panic!("malformed SSE: {e}")));
        Self(Box::pin(events))
    }

    /// The next event, or `None` when none comes within `wait` or the stream ended.
    pub async fn next(&mut self, wait: Duration) -> Option<Event> {
        tokio::time::timeout(wait, self.0.next())
            .await
            .ok()
            .flatten()
    }

    /// Events until one matches `done`; fails after 20 s.
    pub async fn until(&mut self, done: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut got = Vec::new();
        loop {
            let event = self
                .next(Duration::from_secs(20))
                .await
                .unwrap_or_else(|| panic!("no matching event; got {got:?}"));
            assert_eq!(event.event, "message", "{event:?}");
            let data: Value = serde_json::from_str(&event.data).unwrap_or_default();
            assert_eq!(event.id, data["position"].to_string());
            let last = done(&data);
            got.push(data);
            if last {
                return got;
            }
        }
    }
}

/// An event's log position.
pub fn position(event: &Value) -> u64 {
    event["position"].as_u64().unwrap_or_default()
}

/// Positions of the tenant's events after `after`, as the store holds them.
pub async fn tenant_positions(server: &TestServer, tenant_id: &str, after: u64) -> Vec<u64> {
    let filter = EventFilter {
        tenant_id: tenant_id.parse().ok(),
        ..EventFilter::default()
    };
    let events = server
        .state
        .store
        .read_all(after + 1, 1_000_000, &filter)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    events.iter().map(|e| e.position).collect()
}

/// An open WebSocket feed, spoken with `tokio-tungstenite`.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens the WebSocket feed with `token`.
pub async fn websocket(server: &TestServer, token: &str) -> Socket {
    let url = server.url("/api/v1/ws").replacen("http", "ws", 1);
    let mut request = url.into_client_request().unwrap_or_else(|e| panic!("{e}"));
    let bearer = format!("Bearer {token}");
    request.headers_mut().insert(
        "authorization",
        bearer.parse().unwrap_or_else(|e| panic!("{e}")),
    );
    let (socket, response) = tokio_tungstenite::connect_async(request)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status().as_u16(), 101);
    socket
}

/// The next JSON message, skipping pings; `None` when the socket closed.
pub async fn receive(socket: &mut Socket) -> Option<Value> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(20), socket.next())
            .await
            .unwrap_or_else(|_| panic!("no message within 20 s"))?;
        match message.unwrap_or_else(|e| panic!("{e}")) {
            Message::Text(text) => return serde_json::from_str(text.as_str()).ok(),
            Message::Close(_) => return None,
            _ => {}
        }
    }
}
