//! Serving the router over TCP with the bounds a public server needs; used
//! by `omnicase serve` and by the tests that attack a real socket.
//!
//! - **Header read timeout** (hyper): a client that does not send a whole
//!   request head in time, including the next one on an idle keep-alive
//!   connection, is disconnected.
//! - **Body timeout** and **request timeout** (tower-http, in
//!   [`crate::server::Instance::router`]): a body that stalls, or a request that
//!   takes too long, is answered and ended.
//! - **Connection cap**: at most `max_connections` connections (WebSockets
//!   included: an upgraded socket keeps its slot); past it a small
//!   headroom is still served, one request per connection with a short
//!   header timeout, so health checks get through while the server is
//!   full; past the headroom a connection is closed at once. The cap is
//!   lowered to fit the process's open-file limit.

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// Connections served past the cap, one request each.
pub const HEADROOM: usize = 64;
/// File descriptors kept for everything else (database pools, files, the
/// broker, the listener).
const FD_RESERVE: usize = 256;
/// The header timeout of a connection accepted in the headroom.
const HEADROOM_HEADER_TIMEOUT: Duration = Duration::from_secs(2);

/// The connection-level bounds.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
}

/// A connection's slot; held by the connection's task and, after a
/// WebSocket upgrade, by the socket (through [`graphql::ConnectionSlot`]).
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The process's soft limit on open files, where the platform tells.
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The cap that fits the open-file limit.
pub fn effective_cap(configured: usize) -> usize {
    match open_file_limit() {
        Some(fds) => configured
            .min(fds.saturating_sub(FD_RESERVE + HEADROOM))
            .max(1),
        None => configured.max(1),
    }
}

/// Serves until `shutdown` resolves, then lets open requests finish (at
/// most 10 s).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let cap = effective_cap(limits.max_connections);
    if cap < limits.max_connections {
        tracing::warn!(
            configured = limits.max_connections,
            cap,
            "server.max_connections lowered to fit the open-file limit"
        );
    }
    let live = Arc::new(AtomicUsize::new(0));
    // Shutdown: `stop` tells every connection to finish its request and
    // close; `done` closes when the last connection task has ended.
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let (done, _) = tokio::sync::watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or a connection reset before it was
                    // taken: wait a moment rather than spin.
                    tracing::debug!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let n = live.fetch_add(1, Ordering::AcqRel);
        let slot = Arc::new(Slot(live.clone()));
        if n >= cap + HEADROOM {
            metrics::counter!("omnicase_http_connections_refused_total").increment(1);
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder.timer(TokioTimer::new());
        if n >= cap {
            metrics::counter!("omnicase_http_connections_headroom_total").increment(1);
            builder
                .keep_alive(false)
                .header_read_timeout(HEADROOM_HEADER_TIMEOUT);
        } else {
            builder.header_read_timeout(limits.header_read_timeout);
        }
        let connection_slot = graphql::ConnectionSlot(slot.clone());
        let service = router.clone().map_request(
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req.extensions_mut().insert(connection_slot.clone());
                req.map(axum::body::Body::new)
            },
        );
        let connection = builder
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
            .with_upgrades();
        let mut stopping = stopping.clone();
        let finished = done.subscribe();
        tokio::spawn(async move {
            let _slot = slot;
            let _finished = finished;
            tokio::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                _ = async { let _ = stopping.wait_for(|s| *s).await; } => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    if tokio::time::timeout(Duration::from_secs(10), done.closed())
        .await
        .is_err()
    {
        tracing::warn!("open connections did not finish within 10 s of shutdown");
    }
    Ok(())
}
