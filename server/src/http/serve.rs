//! The connection loop: HTTP/1.1 with upgrades (websockets), deadlines for slow clients,
//! and graceful shutdown. `axum::serve` sets no timer, so hyper's header timeout never
//! fires there and a client could trickle a request head, sit on an idle kept-alive
//! connection, or stop reading a response, forever; here none of them can.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tower::ServiceExt as _;

/// How long clients may take.
#[derive(Clone, Copy, Debug)]
pub struct Deadlines {
    /// To send a request's head, counted from the connection's start or the end of its
    /// previous response (so an idle kept-alive connection is closed after it too).
    pub head: Duration,
    /// To take any of a response (or websocket message) the server is writing.
    pub write_stall: Duration,
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting, lets every
/// open connection finish its request in hand, and returns once all are closed. Dropping
/// the returned future closes every connection still open.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    deadlines: Deadlines,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(());
    let (open_tx, open_rx) = tokio::sync::watch::channel(());
    let mut connections = tokio::task::JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(error = %err, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        while connections.try_join_next().is_some() {}
        // Small messages (live events, API answers) go out at once.
        let _ = stream.set_nodelay(true);
        let service = router.clone().map_request(
            move |mut request: axum::extract::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request.map(axum::body::Body::new)
            },
        );
        let mut stop = stop_rx.clone();
        let open = open_rx.clone();
        connections.spawn(async move {
            // HTTP/1.1 only: no protocol sniffing, whose first read would wait with no
            // deadline for a client that sends nothing.
            let io = WriteDeadline::new(stream, deadlines.write_stall);
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(deadlines.head)
                .serve_connection(TokioIo::new(io), TowerToHyperService::new(service))
                .with_upgrades();
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => log_end(result, peer),
                _ = stop.changed() => {
                    connection.as_mut().graceful_shutdown();
                    log_end(connection.await, peer);
                }
            }
            drop(open);
        });
    }
    drop(listener);
    drop(stop_tx);
    drop(open_rx);
    // Every connection task holds a receiver; this resolves when the last one ends.
    open_tx.closed().await;
}

fn log_end<E: std::fmt::Display>(result: Result<(), E>, peer: SocketAddr) {
    if let Err(err) = result {
        tracing::debug!(%peer, error = %err, "a connection ended with an error");
    }
}

/// A stream whose writes fail once the peer has taken nothing for `limit`: a client that
/// stops reading (or advertises a zero window) cannot hold its connection open.
struct WriteDeadline<T> {
    inner: T,
    limit: Duration,
    /// Armed while a write waits; disarmed when one makes progress.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<T> WriteDeadline<T> {
    fn new(inner: T, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            stalled: None,
        }
    }

    /// Called when the inner write is pending: fails once the wait passes the limit.
    fn waited_too_long(&mut self, cx: &mut Context<'_>) -> bool {
        let limit = self.limit;
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        sleep.as_mut().poll(cx).is_ready()
    }

    fn gate<R>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        match polled {
            Poll::Pending if self.waited_too_long(cx) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading",
            ))),
            Poll::Pending => Poll::Pending,
            ready => {
                self.stalled = None;
                ready
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WriteDeadline<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.gate(cx, polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.gate(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_flush(cx);
        this.gate(cx, polled)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_shutdown(cx);
        ready!(this.gate(cx, polled))?;
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt as _;

    #[tokio::test]
    async fn a_peer_that_stops_reading_fails_the_write() {
        // A pipe whose reader never reads: writes block once its buffer is full.
        let (writer, _reader) = tokio::io::duplex(1024);
        let mut io = WriteDeadline::new(writer, Duration::from_millis(100));
        let started = tokio::time::Instant::now();
        let err = io.write_all(&[0u8; 64 * 1024]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn a_slow_but_steady_reader_is_served() {
        let (writer, mut reader) = tokio::io::duplex(1024);
        let mut io = WriteDeadline::new(writer, Duration::from_millis(200));
        let drain = tokio::spawn(async move {
            let mut buf = [0u8; 512];
            let mut total = 0;
            while total < 16 * 1024 {
                tokio::time::sleep(Duration::from_millis(20)).await;
                total += tokio::io::AsyncReadExt::read(&mut reader, &mut buf)
                    .await
                    .unwrap();
            }
        });
        io.write_all(&[0u8; 16 * 1024]).await.unwrap();
        drain.await.unwrap();
    }
}
