//! Serving the receiver: the accept loop and one HTTP/1.1 connection per socket (hyper), with
//! the bounds of [`ReceiverLimits`]:
//!
//! - a request head must arrive within `header_read_timeout` (also the longest wait for the
//!   next request on a kept-alive connection), so slow or silent clients lose their socket;
//! - a connection with no request in progress and no byte moving for `idle_timeout` is closed
//!   (a client that stops reading its answer, say);
//! - at most `max_connections` are open; one more is accepted, answered `503` with
//!   `Connection: close` if the socket takes it at once, and closed, so that the process never
//!   runs out of file descriptors and the queue behind a flood stays short; at most
//!   `max_connections_per_peer` of them from one address, likewise, so that a client that
//!   keeps reconnecting its sockets leaves room for others (a health probe);
//! - on cancellation the listener closes, idle connections close, requests in progress get
//!   `shutdown_timeout` to finish, and whatever is left is then dropped.
//!
//! Handlers are bounded by `request_timeout` in the router (`limits`). This module does not
//! know any route.

use std::collections::HashMap;
use std::io::IoSlice;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{router, ReceiverLimits, ReceiverState};

/// What a connection beyond the cap is told before it is closed.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\
Retry-After: 1\r\nContent-Length: 0\r\n\r\n";
/// How long to wait before accepting again when the system refuses (no file descriptors left).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves the receiver on `listener` until `cancel` fires, then shuts down within
/// `shutdown_timeout` (see the module comment).
pub async fn serve(listener: TcpListener, state: ReceiverState, cancel: CancellationToken) {
    let limits = state.config().limits.clone();
    let app = router(state.clone());
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let peers = Peers::new(limits.max_connections_per_peer);
    let tracker = TaskTracker::new();
    let abort = CancellationToken::new();
    loop {
        let (stream, peer) = tokio::select! {
            () = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(&e, &cancel).await;
                    continue;
                }
            },
        };
        let slots = permits
            .clone()
            .try_acquire_owned()
            .ok()
            .zip(peers.take(peer.ip()));
        let Some((permit, peer_slot)) = slots else {
            state.inner.metrics.connection_refused();
            // Best effort, never waiting: the socket is closed either way.
            let _ = stream.try_write(BUSY);
            continue;
        };
        let conn = Conn {
            limits: limits.clone(),
            cancel: cancel.clone(),
            abort: abort.clone(),
            open: OpenGuard::new(state.clone(), permit, peer_slot),
        };
        tracker.spawn(conn.run(stream, app.clone()));
    }
    drop(listener);
    tracker.close();
    if tokio::time::timeout(limits.shutdown_timeout, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            connections = tracker.len(),
            "Requests still in progress at the shutdown deadline are dropped"
        );
        abort.cancel();
        tracker.wait().await;
    }
}

/// Per-connection errors (the peer gave up before we accepted) are ignored; anything else,
/// such as running out of file descriptors, is logged and retried after a pause.
async fn accept_failed(e: &std::io::Error, cancel: &CancellationToken) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(stage = "receiving", error = %e, "Cannot accept a connection");
    tokio::select! {
        () = cancel.cancelled() => {}
        () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
    }
}

/// Connections open per peer address, each at most `max`.
#[derive(Clone)]
struct Peers {
    open: Arc<std::sync::Mutex<HashMap<IpAddr, usize>>>,
    max: usize,
}

impl Peers {
    fn new(max: usize) -> Self {
        Peers {
            open: Default::default(),
            max: max.max(1),
        }
    }

    /// A slot for one more connection from `ip`, if it has fewer than `max` open.
    fn take(&self, ip: IpAddr) -> Option<PeerSlot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(ip).or_default();
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(PeerSlot {
            peers: self.clone(),
            ip,
        })
    }
}

/// One open connection of a peer, given back when dropped.
struct PeerSlot {
    peers: Peers,
    ip: IpAddr,
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut open = self.peers.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Counts an open connection and holds its slots until dropped.
struct OpenGuard {
    state: ReceiverState,
    _permit: OwnedSemaphorePermit,
    _peer: PeerSlot,
}

impl OpenGuard {
    fn new(state: ReceiverState, permit: OwnedSemaphorePermit, peer: PeerSlot) -> Self {
        state.inner.metrics.connection_opened();
        Self {
            state,
            _permit: permit,
            _peer: peer,
        }
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.state.inner.metrics.connection_closed();
    }
}

/// One accepted connection.
struct Conn {
    limits: ReceiverLimits,
    /// Finish what is in progress, then close.
    cancel: CancellationToken,
    /// Close now.
    abort: CancellationToken,
    open: OpenGuard,
}

impl Conn {
    async fn run(self, stream: TcpStream, app: Router) {
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Tracked {
            inner: stream,
            activity: activity.clone(),
        });
        let tower = TowerToHyperService::new(app);
        let busy_on = activity.clone();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let busy = Busy::start(busy_on.clone());
            let answer = hyper::service::Service::call(&tower, req);
            async move {
                let resp = answer.await;
                drop(busy);
                resp
            }
        });
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_read_timeout);
        let conn = builder.serve_connection(io, service);
        tokio::pin!(conn);
        let idle = self.limits.idle_timeout;
        let mut draining = false;
        loop {
            tokio::select! {
                done = conn.as_mut() => {
                    if let Err(e) = done {
                        tracing::debug!(error = %e, "Connection closed");
                    }
                    break;
                }
                () = self.cancel.cancelled(), if !draining => {
                    conn.as_mut().graceful_shutdown();
                    draining = true;
                }
                () = self.abort.cancelled() => break,
                () = tokio::time::sleep_until(activity.idle_deadline(idle)) => {
                    if activity.idle_for() >= idle {
                        tracing::debug!("Closing an idle connection");
                        break;
                    }
                }
            }
        }
        drop(self.open);
    }
}

/// When a connection last moved a byte, and how many of its requests are in progress.
struct Activity {
    origin: Instant,
    /// Milliseconds after `origin`.
    last: AtomicU64,
    busy: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Self {
            origin: Instant::now(),
            last: AtomicU64::new(0),
            busy: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.origin + Duration::from_millis(self.last.load(Ordering::Relaxed))
    }

    /// How long nothing has happened (zero while a request is in progress).
    fn idle_for(&self) -> Duration {
        if self.busy.load(Ordering::Acquire) > 0 {
            return Duration::ZERO;
        }
        self.last().elapsed()
    }

    /// When to look again whether the connection has been idle for `idle`.
    fn idle_deadline(&self, idle: Duration) -> Instant {
        if self.busy.load(Ordering::Acquire) > 0 {
            return Instant::now() + idle;
        }
        self.last() + idle
    }
}

/// A request in progress; idle time counts from its end.
struct Busy(Arc<Activity>);

impl Busy {
    fn start(activity: Arc<Activity>) -> Self {
        activity.busy.fetch_add(1, Ordering::AcqRel);
        Self(activity)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A socket that records when it last moved a byte.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl Tracked {
    fn moved<T>(&self, polled: &Poll<std::io::Result<T>>, bytes: bool) {
        if bytes && matches!(polled, Poll::Ready(Ok(_))) {
            self.activity.touch();
        }
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        self.moved(&polled, buf.filled().len() > before);
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        let wrote = matches!(polled, Poll::Ready(Ok(n)) if n > 0);
        self.moved(&polled, wrote);
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        let wrote = matches!(polled, Poll::Ready(Ok(n)) if n > 0);
        self.moved(&polled, wrote);
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
