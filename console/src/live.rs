//! Pages that move by themselves: a live feed of the tenant's events (the
//! same feed the API's SSE route serves), and after each burst of events a
//! part of the page rendered again and sent as a Server-Sent Event, which
//! htmx's SSE extension swaps in. A burst is gathered for [`SETTLE`] so that
//! a busy tenant costs one render per interval, not one per event.

use std::convert::Infallible;
use std::time::Duration;

use agentledger_api::state::AppState;
use agentledger_app::caller::Caller;
use agentledger_app::live::{Credentials, Feed, FeedItem, FeedRequest};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::future::BoxFuture;
use futures::{FutureExt, Stream};

use crate::page::PageError;
use crate::session::Signed;

/// How long a burst of events is gathered before the page is rendered.
pub const SETTLE: Duration = Duration::from_millis(300);

/// A part of a page to swap in, and the log position a browser that has it
/// has seen everything up to (the SSE event id it resumes from).
pub struct Fragment {
    pub html: String,
    pub seen_up_to: u64,
    /// Nothing will change any more (the task or execution ended): the
    /// stream sends [`DONE`] after it and ends, and the page's `sse-close`
    /// keeps the browser from opening it again.
    pub last: bool,
}

/// The event a stream ends with once its subject is over.
pub const DONE: &str = "done";

/// Renders a part of a page as of a log position (the models are first
/// brought there), or nothing when there is nothing new to show.
pub type Render =
    Box<dyn FnMut(u64) -> BoxFuture<'static, Result<Option<Fragment>, PageError>> + Send>;

/// A stream of `name` events carrying `render`'s HTML: once at once (what
/// changed between the page and the stream opening), then after every
/// burst of events. It ends when the session does or the client falls too
/// far behind (the browser reconnects).
pub async fn fragments(
    state: &AppState,
    signed: Signed,
    name: &'static str,
    render: Render,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>> + use<>>, PageError> {
    let caller = Caller::Operator(signed.session.operator);
    let feed = state
        .open_feed(
            &caller,
            FeedRequest {
                types: Vec::new(),
                stream: None,
                correlation_id: None,
                after: None,
                credentials: Credentials::ConsoleSession(&signed.token),
            },
        )
        .await?;
    let start = feed.last_position();
    let stream = futures::stream::unfold(
        Step::Render(Box::new(feed), render, Some(start)),
        move |step| async move {
            let (mut feed, mut render, ready) = match step {
                Step::Render(feed, render, ready) => (feed, render, ready),
                Step::Done => {
                    // An event without data is never dispatched (the SSE
                    // rules), so it says something.
                    return Some((Ok(Event::default().event(DONE).data(DONE)), Step::End));
                }
                Step::End => return None,
            };
            let position = match ready {
                Some(position) => position,
                None => next_burst(&mut feed).await?,
            };
            match render(position).await {
                Ok(Some(fragment)) => {
                    let event = Event::default()
                        .event(name)
                        .id(fragment.seen_up_to.to_string())
                        .data(fragment.html);
                    let next = if fragment.last {
                        Step::Done
                    } else {
                        Step::Render(feed, render, None)
                    };
                    Some((Ok(event), next))
                }
                Ok(None) => {
                    // Nothing to show: wait for the next burst without
                    // sending anything.
                    let position = next_burst(&mut feed).await?;
                    Some((
                        Ok(Event::default().comment("changed")),
                        Step::Render(feed, render, Some(position)),
                    ))
                }
                Err(err) => {
                    tracing::warn!(problem = %err.0, "a live console view stopped");
                    None
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Where a live stream is: rendering (at once at the position given, if
/// any), about to say it is done, or ended.
enum Step {
    Render(Box<Feed>, Render, Option<u64>),
    Done,
    End,
}

/// Waits for an event, then gathers those that follow within [`SETTLE`];
/// the position of the last. `None` when the feed ends.
async fn next_burst(feed: &mut Feed) -> Option<u64> {
    let mut last = match feed.next().await {
        Ok(FeedItem::Event(event)) => event.position,
        Ok(FeedItem::Behind { .. }) | Err(_) => return None,
    };
    let deadline = tokio::time::Instant::now() + SETTLE;
    while let Ok(next) = tokio::time::timeout_at(deadline, feed.next()).await {
        match next {
            Ok(FeedItem::Event(event)) => last = event.position,
            Ok(FeedItem::Behind { .. }) | Err(_) => return None,
        }
    }
    Some(last)
}

/// A render of a page part as a boxed closure.
pub fn render<F, Fut>(mut f: F) -> Render
where
    F: FnMut(u64) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Option<Fragment>, PageError>> + Send + 'static,
{
    Box::new(move |position| f(position).boxed())
}
