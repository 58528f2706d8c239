//! How the server holds its TCP connections. Without limits, 1000 silent
//! connections stayed open for ever and, under a 1024 file limit, the server
//! stopped accepting (`/health` dead) until they went. So:
//!
//! - a client has `header_read_timeout` from connecting (or from the end of
//!   its previous answer) to send a request's whole head;
//! - a connection with no request in flight and no byte moving for
//!   `idle_timeout` is closed;
//! - at most `max_connections` are served at once; past that, up to
//!   `OVERFLOW` more are answered `503` with `Retry-After` and closed (a
//!   client learns why, rather than meeting a refused connect), and beyond
//!   those a connection is closed at once;
//! - at start, the process's file limit must hold all of them
//!   (`fit_file_limit`), raised to the hard limit when it does not.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use axum::response::IntoResponse;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower_service::Service;

use crate::problem::Problem;

/// Connections past the maximum that are still answered 503 at once.
pub const OVERFLOW: usize = 64;
/// Files the process needs besides its connections: database pools, logs,
/// exports being written, the listener.
pub const RESERVED_FILES: u64 = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error(
        "the file limit ({limit}) cannot hold {wanted} connections: they need {needed} files \
         with the {overflow} answered 503 and {reserved} for the rest; raise `ulimit -n` \
         (the hard limit is {hard}) or lower --max-connections"
    )]
    FileLimit {
        limit: u64,
        hard: u64,
        wanted: usize,
        needed: u64,
        overflow: usize,
        reserved: u64,
    },
    #[error("cannot read or raise the file limit: {0}")]
    Os(std::io::Error),
}

/// Files `max_connections` need, with the overflow and the reserve.
fn files_for(max_connections: usize) -> u64 {
    (max_connections as u64).saturating_add(OVERFLOW as u64 + RESERVED_FILES)
}

/// Makes sure the file limit holds `wanted` connections (raising the soft
/// limit up to the hard one if needed), or, when no maximum was asked for,
/// returns the most the limit holds, at most the default.
pub fn fit_file_limit(wanted: Option<usize>) -> Result<usize, LimitError> {
    let target = wanted.unwrap_or(Limits::default().max_connections);
    let needed = files_for(target);
    let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).map_err(LimitError::Os)?;
    let limit = if soft >= needed {
        soft
    } else {
        // The kernel may refuse even below the hard limit (`nr_open`): then
        // the soft limit stands and is judged below.
        let raised = needed.min(hard);
        match rlimit::setrlimit(rlimit::Resource::NOFILE, raised, hard) {
            Ok(()) => raised,
            Err(e) => {
                tracing::warn!(error = %e, "cannot raise the file limit");
                soft
            }
        }
    };
    if limit >= needed {
        return Ok(target);
    }
    let fits = limit.saturating_sub(OVERFLOW as u64 + RESERVED_FILES) as usize;
    match wanted {
        None if fits > 0 => {
            tracing::warn!(
                file_limit = limit,
                max_connections = fits,
                "the file limit holds fewer connections than the default; serving at most {fits}"
            );
            Ok(fits)
        }
        _ => Err(LimitError::FileLimit {
            limit,
            hard,
            wanted: target,
            needed,
            overflow: OVERFLOW,
            reserved: RESERVED_FILES,
        }),
    }
}

/// When the connection last moved a byte, and how many requests it has in
/// flight: it is idle when none is and nothing moved for the timeout.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let now = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(now, Ordering::Relaxed);
    }

    fn quiet_for(&self) -> Duration {
        let now = self.start.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }

    /// Resolves once the connection has been idle for `timeout`.
    async fn idle(&self, timeout: Duration) {
        loop {
            let quiet = self.quiet_for();
            if quiet >= timeout && self.in_flight.load(Ordering::Relaxed) == 0 {
                return;
            }
            tokio::time::sleep(
                timeout
                    .saturating_sub(quiet)
                    .max(Duration::from_millis(100)),
            )
            .await;
        }
    }
}

/// A request in flight until dropped (its answer's head was produced).
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        activity.touch();
        Self(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The TCP stream, noting every byte that moves.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Accepts and serves connections until `shutdown` completes, then stops
/// accepting and waits for every connection to finish its requests.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let served = Arc::new(Semaphore::new(limits.max_connections));
    let refused = Arc::new(Semaphore::new(OVERFLOW));
    let mut shutdown = std::pin::pin!(shutdown);
    let busy = busy_router();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of files or a connection reset before accept:
                    // pause rather than spin, and keep accepting.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        if let Ok(permit) = served.clone().try_acquire_owned() {
            let connection = connection(stream, peer, app.clone(), limits, true);
            let watched = graceful.watch(connection.0);
            let activity = connection.1;
            let idle_timeout = limits.idle_timeout;
            tokio::spawn(async move {
                tokio::select! {
                    _ = watched => {}
                    () = activity.idle(idle_timeout) => {}
                }
                drop(permit);
            });
        } else if let Ok(permit) = refused.clone().try_acquire_owned() {
            let (connection, _) = connection(stream, peer, busy.clone(), limits, false);
            tokio::spawn(async move {
                let _ = tokio::time::timeout(limits.header_read_timeout * 2, connection).await;
                drop(permit);
            });
        } else {
            drop(stream);
        }
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// What a connection past the maximum is told, whatever it asks.
fn busy_router() -> Router {
    Router::new().fallback(|| async {
        let mut response = Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too-many-connections",
            "Too many connections",
        )
        .detail("the server holds as many connections as it may; retry shortly")
        .into_response();
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("1"),
        );
        response
    })
}

/// One connection's HTTP/1.1 exchange, and its activity.
fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: Limits,
    keep_alive: bool,
) -> (
    impl hyper_util::server::graceful::GracefulConnection + Send + 'static,
    Arc<Activity>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        stream,
        activity: activity.clone(),
    });
    let requests = activity.clone();
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let in_flight = InFlight::start(&requests);
        let mut app = app.clone();
        async move {
            let response = app.call(request).await;
            drop(in_flight);
            response
        }
    });
    // HTTP/1.1 only, through the builder whose connections can be upgraded
    // (WebSocket feeds take theirs over after the 101) and still be watched
    // for a graceful shutdown.
    let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(keep_alive);
    let connection = builder
        .serve_connection_with_upgrades(io, service)
        .into_owned();
    (connection, activity)
}
