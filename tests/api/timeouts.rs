//! Requests that arrive too slowly: a head or a polling body trickled in,
//! or a connection that sends nothing, is cut off at `--request-timeout`
//! (1 s here), while a slow but steady client is served.

use crate::helpers::{TestApp, spawn_app_with};
use crate::sio::polling_session;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout};

const TIMEOUT: Duration = Duration::from_secs(1);

/// Cut off later than this is not "at the timeout" (a busy machine).
const LATEST: Duration = Duration::from_millis(3500);

/// What a trickled exchange came to.
#[derive(Debug)]
struct Exchange {
    /// The response's status code, if one came.
    status: Option<u16>,
    /// The response, as text.
    text: String,
    /// When the server closed the connection, from the first byte sent;
    /// `None` if it was still open after [`LATEST`] and a second more.
    closed_after: Option<Duration>,
}

/// Opens a connection and writes `pieces`, `pause` apart (stopping if the
/// server closes), while reading whatever comes back until it closes.
async fn trickle(app: &TestApp, pieces: Vec<Vec<u8>>, pause: Duration) -> Exchange {
    let address = app.address.trim_start_matches("http://");
    let tcp = TcpStream::connect(address).await.expect("the server accepts");
    let (mut reader, mut writer) = tcp.into_split();
    let started = Instant::now();
    let writing = tokio::spawn(async move {
        for (i, piece) in pieces.iter().enumerate() {
            if i > 0 {
                sleep(pause).await;
            }
            if writer.write_all(piece).await.is_err() {
                return;
            }
        }
        // Holds the connection open (the body unfinished) until aborted.
        std::future::pending::<()>().await;
    });
    let mut received = Vec::new();
    let read = async {
        let mut buffer = [0u8; 4096];
        while let Ok(n @ 1..) = reader.read(&mut buffer).await {
            received.extend_from_slice(&buffer[..n]);
        }
        started.elapsed()
    };
    let closed_after = timeout(LATEST + Duration::from_secs(1), read).await.ok();
    writing.abort();
    let text = String::from_utf8_lossy(&received).to_string();
    let status = text.strip_prefix("HTTP/1.1 ").and_then(|rest| rest.get(..3)?.parse().ok());
    Exchange { status, text, closed_after }
}

/// Asserts the connection was closed at the timeout, give or take.
fn assert_closed_at_the_timeout(exchange: &Exchange) {
    let after = exchange.closed_after.unwrap_or_else(|| panic!("still open: {exchange:?}"));
    assert!(after >= TIMEOUT - Duration::from_millis(100), "closed early, after {after:?}");
    assert!(after <= LATEST, "closed late, after {after:?}");
}

/// Splits `text` into pieces of `size` bytes.
fn pieces(text: &str, size: usize) -> Vec<Vec<u8>> {
    text.as_bytes().chunks(size).map(<[u8]>::to_vec).collect()
}

fn polling_post(sid: &str, length: usize) -> String {
    format!(
        "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: localhost\r\n\
         Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {length}\r\n\r\n"
    )
}

async fn refused(app: &TestApp, reason: &str) -> u64 {
    let metrics = app.get("/metrics").await.text().await.expect("metrics");
    let line = format!("baatchit_http_refused_total{{reason=\"{reason}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&line)?.parse().ok())
        .unwrap_or_else(|| panic!("{line} missing from {metrics}"))
}

async fn spawn() -> TestApp {
    spawn_app_with(&["--request-timeout", "1"]).await
}

#[tokio::test]
async fn a_polling_body_that_never_comes_gets_408_and_its_connection_and_session_closed() {
    let app = spawn().await;
    let sid = polling_session(&app.address).await;
    let head = polling_post(&sid, 10);
    let exchange = trickle(&app, vec![head.into_bytes(), b"40".to_vec()], Duration::ZERO).await;
    assert_eq!(exchange.status, Some(408), "{exchange:?}");
    assert!(exchange.text.to_ascii_lowercase().contains("connection: close"), "{exchange:?}");
    assert_closed_at_the_timeout(&exchange);
    let poll = app.get(&format!("/socket.io/?EIO=4&transport=polling&sid={sid}")).await;
    assert_eq!(poll.status(), 400, "the session was closed");
    assert_eq!(refused(&app, "body_timeout").await, 1);
}

#[tokio::test]
async fn a_polling_body_sent_a_byte_at_a_time_is_cut_off_at_the_timeout() {
    let app = spawn().await;
    let sid = polling_session(&app.address).await;
    let body = "3\u{1e}".repeat(50);
    let mut sent = vec![polling_post(&sid, body.len()).into_bytes()];
    sent.extend(pieces(&body, 1));
    // All of it would take 10 s; a byte every 100 ms never goes quiet.
    let exchange = trickle(&app, sent, Duration::from_millis(100)).await;
    assert_eq!(exchange.status, Some(408), "{exchange:?}");
    assert_closed_at_the_timeout(&exchange);
}

#[tokio::test]
async fn a_request_head_sent_a_byte_at_a_time_is_closed_at_the_timeout() {
    let app = spawn().await;
    let head =
        format!("GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: {}\r\n\r\n", "a".repeat(100));
    let exchange = trickle(&app, pieces(&head, 1), Duration::from_millis(100)).await;
    assert_eq!(exchange.status, None, "answered: {exchange:?}");
    assert_closed_at_the_timeout(&exchange);
    assert_eq!(refused(&app, "head_timeout").await, 1);
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_at_the_timeout() {
    let app = spawn().await;
    let exchange = trickle(&app, vec![Vec::new()], Duration::ZERO).await;
    assert_closed_at_the_timeout(&exchange);
}

#[tokio::test]
async fn a_request_body_nobody_reads_does_not_hold_its_connection() {
    let app = spawn().await;
    let head = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n";
    let exchange = trickle(&app, vec![head.as_bytes().to_vec()], Duration::ZERO).await;
    assert_eq!(exchange.status, Some(200), "{exchange:?}");
    let after = exchange.closed_after.unwrap_or_else(|| panic!("still open: {exchange:?}"));
    assert!(after <= LATEST, "closed late, after {after:?}");
}

#[tokio::test]
async fn a_slow_but_steady_client_is_served() {
    let app = spawn().await;
    let sid = polling_session(&app.address).await;
    // Pongs: valid packets that change nothing. Head and body each take
    // about 0.6 s in pieces 100 ms apart, under the 1 s each may take.
    let body = "3\u{1e}3\u{1e}3\u{1e}3\u{1e}3\u{1e}3";
    let head = polling_post(&sid, body.len()).replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n");
    let mut sent = pieces(&head, head.len() / 6 + 1);
    sent.extend(pieces(body, 2));
    let exchange = trickle(&app, sent, Duration::from_millis(100)).await;
    assert_eq!(exchange.status, Some(200), "{exchange:?}");
    assert!(exchange.text.ends_with("ok"), "{exchange:?}");
    assert_eq!(refused(&app, "body_timeout").await + refused(&app, "head_timeout").await, 0);
}
