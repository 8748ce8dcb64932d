//! Serving HTTP/1.1 connections: our own accept loop in place of
//! `axum::serve`, which gives hyper no timer. Without one a client could
//! open connections and send nothing, or trickle a request head a byte at
//! a time (slowloris), and hold each connection (and its file) forever.
//! Here every request head must arrive within the request timeout, counted
//! from the connection's start or the end of its previous response;
//! hyper closes a connection that misses it. Bodies are bounded by the
//! edge (`edge::guard`), where the request is known.

use crate::metrics::{HttpRefusal, Metrics};
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::Service;

/// How long to wait before accepting again after the process ran out of
/// files (or another resource): retrying at once would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// What every connection is served with.
#[derive(Clone)]
pub struct Serving {
    pub router: Router,
    /// How long a request head may take to arrive.
    pub head_timeout: Duration,
    pub metrics: Arc<Metrics>,
}

/// Accepts and serves connections until `shutdown` completes, then stops
/// accepting, lets each connection finish the request it is serving
/// (idle ones close at once) and returns when all have ended. Upgraded
/// connections (websockets) are no longer hyper's and do not count.
pub async fn serve(
    listener: TcpListener,
    serving: Serving,
    tune: fn(&TcpStream),
    shutdown: impl Future<Output = ()>,
) {
    let (stop, stopping) = watch::channel(false);
    // Each connection holds a receiver; `closed()` waits for the last.
    let (open, holder) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = accept(&listener) => accepted,
            () = &mut shutdown => break,
        };
        tune(&tcp);
        let (serving, stopping, holder) = (serving.clone(), stopping.clone(), holder.clone());
        tokio::spawn(async move {
            serve_connection(tcp, peer, serving, stopping).await;
            drop(holder);
        });
    }
    drop(listener);
    drop(holder);
    let _ = stop.send(true);
    open.closed().await;
}

/// The next connection; errors that concern one connection are skipped,
/// others (no files left) are logged and retried after a pause.
async fn accept(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok(accepted) => return accepted,
            Err(error) if is_connection_error(&error) => {}
            Err(error) => {
                tracing::error!(%error, "cannot accept a connection");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Gives the request an owned copy of its URI. hyper's is a slice of the
/// connection's 8 KiB read buffer; axum copies it into the extensions
/// (`OriginalUri`), and Engine.IO keeps a session's request parts for the
/// session's life, so without the copy every websocket kept that buffer
/// after hyper let go of the connection (bench/README.md, S4).
fn detach_uri(request: &mut Request) {
    if let Ok(uri) = request.uri().to_string().parse() {
        *request.uri_mut() = uri;
    }
}

async fn serve_connection(
    tcp: TcpStream,
    peer: SocketAddr,
    serving: Serving,
    mut stopping: watch::Receiver<bool>,
) {
    let router = serving.router;
    // The edge counts connections by the peer address.
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(peer));
        detach_uri(&mut request);
        // A Router is always ready: no `poll_ready` needed.
        router.clone().call(request)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(serving.head_timeout);
    let connection = builder.serve_connection(TokioIo::new(tcp), service).with_upgrades();
    tokio::pin!(connection);
    let stop = async move {
        // Ends too if the sender is gone: nothing will stop us then.
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = stop => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    match result {
        Err(error) if error.is_timeout() => {
            tracing::debug!(%peer, "request head not received in time");
            serving.metrics.http_refused(HttpRefusal::HeadTimeout);
        }
        Err(error) => tracing::trace!(%peer, %error, "connection ended with an error"),
        Ok(()) => {}
    }
}
