//! Live feeds over Server-Sent Events and WebSocket: the caller's tenant's
//! events as they commit (an agent's: what concerns it), resumable from the
//! last position a client saw. What a feed holds is `agentledger_app::live`;
//! this is how it is written on the wire.

use std::convert::Infallible;
use std::time::Duration;

use agentledger_app::caller::Caller;
use agentledger_app::event_filter::comma_list;
use agentledger_app::live::{Credentials, Feed, FeedItem, FeedRequest};
use agentledger_store::{Position, RecordedEvent};
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, Stream, StreamExt};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::bearer_of;
use crate::extract::Query;
use crate::problem::Problem;
use crate::state::AppState;

/// How often an idle feed sends something, so proxies and the server's own
/// idle timeout keep the connection.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long a WebSocket client has to say what it wants.
const FIRST_MESSAGE: Duration = Duration::from_secs(10);
/// The largest message a WebSocket client may send: a Subscribe is small,
/// and the client sends nothing else that is read.
const MAX_CLIENT_MESSAGE: usize = 64 * 1024;
/// How long one message to a WebSocket client may take to go out: a client
/// that reads nothing for this long is let go (it resumes from its last
/// position), so it does not hold a feed slot for ever.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(stream))
        .routes(routes!(websocket))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// Comma-separated event types of the catalogue; all when absent.
    pub types: Option<String>,
    /// One stream, `<category>-<id>` (a task's: `task-{id}`).
    pub stream: Option<String>,
    /// Everything one request caused.
    pub correlation_id: Option<Uuid>,
    /// Start after this position (a previous event's `id`); the
    /// `Last-Event-ID` header, which browsers send when they reconnect,
    /// takes precedence. Without either, only events from now on.
    pub after: Option<Position>,
}

/// What the `behind` event and message carry: where to resume.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Behind {
    /// Reconnect with this as `Last-Event-ID`, `after` or `resume_after`.
    pub resume_after: Position,
    pub detail: &'static str,
}

const BEHIND: &str = "the client fell too far behind the log; reconnect from `resume_after`";

fn behind(resume_after: Position) -> Behind {
    Behind {
        resume_after,
        detail: BEHIND,
    }
}

/// The events of the caller's tenant as they commit, as Server-Sent
/// Events: each event's `id` is its log position and its `data` the event
/// as the log holds it. Reconnecting with `Last-Event-ID` (or `after`)
/// delivers every event after it exactly once, then live ones. An agent
/// sees its own stream, the commands issued to it and the tasks it holds.
/// A client that falls too far behind gets an event named `behind` with
/// where to resume, and the stream ends; an error ends it with an event
/// named `error` holding a problem. A comment is sent every 15 s when
/// nothing else is.
#[utoipa::path(
    get,
    path = "/api/v1/stream",
    operation_id = "live_stream",
    tag = "live",
    summary = "Live events (Server-Sent Events)",
    params(
        StreamQuery,
        ("Last-Event-ID" = Option<u64>, Header, description = "The last position the client has; overrides `after`."),
    ),
    responses(
        (status = 200, description = "An event stream; each `data` is a RecordedEvent, `behind` events a Behind, `error` events a Problem", content_type = "text/event-stream", body = String),
        crate::openapi::Problems,
    ),
    security(("operator_key" = []), ("agent_token" = [])),
)]
async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> Result<Response, Problem> {
    let after = match headers.get("last-event-id") {
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<Position>().ok())
                .ok_or_else(|| {
                    Problem::bad_request("`Last-Event-ID` must be a log position (an integer)")
                })?,
        ),
        None => q.after,
    };
    let types = comma_list(q.types.as_deref());
    let asked = FeedRequest {
        types,
        stream: q.stream.as_deref(),
        correlation_id: q.correlation_id,
        after,
        credentials: Credentials::Bearer(bearer_of(&headers).unwrap_or_default()),
    };
    let feed = state.open_feed(&caller, asked).await?;
    Ok(Sse::new(sse_events(feed))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response())
}

/// The feed as SSE events, ending after a `behind` or an `error`.
fn sse_events(feed: Feed) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold(Some(feed), |feed| async move {
        let mut feed = feed?;
        let event = match feed.next().await {
            Ok(FeedItem::Event(event)) => {
                let position = event.position;
                let event = Event::default()
                    .id(position.to_string())
                    .json_data(&*event)
                    .unwrap_or_else(|_| error_event(&Problem::internal()));
                return Some((Ok(event), Some(feed)));
            }
            Ok(FeedItem::Behind { resume_after }) => Event::default()
                .event("behind")
                .json_data(behind(resume_after))
                .unwrap_or_else(|_| error_event(&Problem::internal())),
            Err(e) => error_event(&Problem::from(e)),
        };
        Some((Ok(event), None))
    })
}

fn error_event(problem: &Problem) -> Event {
    Event::default()
        .event("error")
        .json_data(problem)
        .unwrap_or_default()
}

/// What a WebSocket client sends first: the same choices as the SSE
/// route's parameters.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Subscribe {
    /// Event types of the catalogue; all when absent or empty.
    #[serde(default)]
    pub types: Vec<String>,
    pub stream: Option<String>,
    pub correlation_id: Option<Uuid>,
    /// Start after this position; without it, only events from now on.
    pub resume_after: Option<Position>,
}

/// What the server sends over the WebSocket, one JSON text message each.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LiveMessage {
    /// The feed is open: events follow.
    Subscribed {
        after: Option<Position>,
    },
    Event {
        event: Box<RecordedEvent>,
    },
    /// The client fell too far behind; the server closes after this.
    Behind {
        /// Reconnect with this as `resume_after`.
        resume_after: Position,
        detail: &'static str,
    },
    /// The request or the feed failed; the server closes after this.
    Error {
        problem: Problem,
    },
}

/// The same feed as `/api/v1/stream` over a WebSocket: the client's first
/// message (a Subscribe, within 10 s) chooses the filters and where to
/// resume (at most 64 KiB); every message after is a LiveMessage. Sends are
/// awaited, so a slow client slows its own feed and nothing else; one that
/// takes no message for 60 s is disconnected (it resumes from its last
/// position). The server pings every 15 s.
#[utoipa::path(
    get,
    path = "/api/v1/ws",
    operation_id = "live_websocket",
    tag = "live",
    summary = "Live events (WebSocket)",
    responses(
        (status = 101, description = "Switched to WebSocket: send a Subscribe, receive LiveMessages", body = LiveMessage),
        (status = 426, description = "Not a WebSocket handshake", body = Problem, content_type = "application/problem+json"),
        crate::openapi::Problems,
    ),
    security(("operator_key" = []), ("agent_token" = [])),
)]
async fn websocket(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, Problem> {
    let credentials = bearer_of(&headers).unwrap_or_default().to_owned();
    Ok(upgrade?
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| serve_socket(state, caller, credentials, socket)))
}

async fn serve_socket(state: AppState, caller: Caller, credentials: String, socket: WebSocket) {
    let (mut sink, mut incoming) = socket.split();
    let first = tokio::time::timeout(FIRST_MESSAGE, incoming.next()).await;
    let asked = match first {
        Ok(Some(Ok(Message::Text(text)))) => serde_json::from_str::<Subscribe>(text.as_str())
            .map_err(|e| {
                Problem::bad_request(format!("the first message must be a Subscribe: {e}"))
            }),
        Ok(Some(Ok(Message::Close(_)) | Err(_)) | None) => return,
        Ok(Some(Ok(_))) => Err(Problem::bad_request(
            "the first message must be a Subscribe as JSON text",
        )),
        Err(_) => Err(Problem::bad_request(
            "no Subscribe message within 10 seconds",
        )),
    };
    let opened = match asked {
        Ok(asked) => {
            let request = FeedRequest {
                types: asked.types,
                stream: asked.stream.as_deref(),
                correlation_id: asked.correlation_id,
                after: asked.resume_after,
                credentials: Credentials::Bearer(&credentials),
            };
            let after = request.after;
            state
                .open_feed(&caller, request)
                .await
                .map(|feed| (feed, after))
                .map_err(Problem::from)
        }
        Err(problem) => Err(problem),
    };
    let mut feed = match opened {
        Ok((feed, after)) => {
            if send(&mut sink, &LiveMessage::Subscribed { after })
                .await
                .is_err()
            {
                return;
            }
            feed
        }
        Err(problem) => {
            let _ = send(&mut sink, &LiveMessage::Error { problem }).await;
            let _ = sink.close().await;
            return;
        }
    };
    // The client's messages after the first are read only to notice it
    // closing (pongs and the like are answered by the library).
    let closed = async move {
        while let Some(Ok(message)) = incoming.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    };
    tokio::pin!(closed);
    let mut ping = tokio::time::interval(KEEP_ALIVE);
    ping.tick().await;
    loop {
        // `Feed::next` is cancel-safe: a ping or a close between two events
        // loses none.
        let message = tokio::select! {
            item = feed.next() => match item {
                Ok(FeedItem::Event(event)) => LiveMessage::Event { event },
                Ok(FeedItem::Behind { resume_after }) => LiveMessage::Behind {
                    resume_after,
                    detail: BEHIND,
                },
                Err(e) => LiveMessage::Error { problem: Problem::from(e) },
            },
            _ = ping.tick() => {
                if deliver(&mut sink, Message::Ping(Vec::new().into())).await.is_err() {
                    return;
                }
                continue;
            }
            () = &mut closed => return,
        };
        let last = !matches!(message, LiveMessage::Event { .. });
        if send(&mut sink, &message).await.is_err() {
            return;
        }
        if last {
            let _ = sink.close().await;
            return;
        }
    }
}

type Sink = futures::stream::SplitSink<WebSocket, Message>;

async fn send(sink: &mut Sink, message: &LiveMessage) -> Result<(), Gone> {
    let text = serde_json::to_string(message).unwrap_or_default();
    deliver(sink, Message::Text(text.into())).await
}

/// The client is gone, or took more than [`SEND_TIMEOUT`] to take a message.
struct Gone;

async fn deliver(sink: &mut Sink, message: Message) -> Result<(), Gone> {
    match tokio::time::timeout(SEND_TIMEOUT, sink.send(message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) | Err(_) => Err(Gone),
    }
}
