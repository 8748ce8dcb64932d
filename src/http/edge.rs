//! The guard in front of everything the server answers: bounded URL and
//! header sizes for every request, and on the Socket.IO endpoint the
//! origin allow-list, the declared size of polling bodies, the time they
//! may take to arrive, and the number of connections per client address.
//! Refusals happen here, before Engine.IO creates a session or reads a
//! body.

use super::deadline::Deadline;
use super::origin::{OriginPolicy, Verdict};
use super::per_ip::{ConnectionsPerIp, Slot, client_ip};
use crate::config::Config;
use crate::metrics::{HttpRefusal, Metrics};
use axum::Router;
use axum::body::HttpBody;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::upgrade::OnUpgrade;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Longest request target (path and query) answered; longer gets 414.
/// Engine.IO URLs are under 100 bytes.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Most header bytes (names and values) answered; more gets 431. Below
/// this, hyper (HTTP/1.1 only: axum's `http2` feature is off) stops
/// reading a request head at about 400 KiB or 100 headers and closes the
/// connection, so no request head costs more memory than that.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Where socketioxide serves Engine.IO (its default path).
const ENGINE_IO_PATH: &str = "/socket.io";

/// The edge's settings and counters; cheap to clone.
#[derive(Clone)]
pub struct Edge {
    inner: Arc<EdgeInner>,
}

struct EdgeInner {
    origins: OriginPolicy,
    per_ip: Arc<ConnectionsPerIp>,
    trust_proxy: bool,
    max_payload: u64,
    /// How long a polling body may take to arrive, all of it.
    body_timeout: Duration,
    metrics: Arc<Metrics>,
}

impl Edge {
    pub fn new(config: &Config, metrics: Arc<Metrics>) -> Self {
        let inner = EdgeInner {
            origins: OriginPolicy::new(&config.allowed_origins),
            per_ip: ConnectionsPerIp::new(config.max_connections_per_ip),
            trust_proxy: config.trust_proxy,
            max_payload: config.max_payload,
            body_timeout: config.request_timeout(),
            metrics,
        };
        Self { inner: Arc::new(inner) }
    }

    /// Puts the guard in front of `app` (the Socket.IO layer included).
    /// Serve it with `into_make_service_with_connect_info::<SocketAddr>()`.
    pub fn wrap(self, app: Router) -> Router {
        app.layer(axum::middleware::from_fn_with_state(self, guard))
    }
}

async fn guard(State(edge): State<Edge>, mut request: Request, next: Next) -> Response {
    let edge = &*edge.inner;
    if let Some(refusal) = oversized_head(request.uri(), request.headers()) {
        return edge.refuse(refusal);
    }
    if !is_engine_io(request.uri().path()) {
        return next.run(request).await;
    }
    let cross_site = match edge.origins.judge(request.headers(), request.uri()) {
        Verdict::Refused => {
            let headers = request.headers();
            let (origin, host) = (headers.get(header::ORIGIN), headers.get(header::HOST));
            tracing::debug!(?origin, ?host, "origin not allowed");
            return edge.refuse(HttpRefusal::Origin);
        }
        Verdict::SameSite => None,
        Verdict::CrossSite(origin) => Some(origin),
    };
    if request.method() == Method::POST && declared_length(request.headers()) > edge.max_payload {
        return edge.refuse(HttpRefusal::BodyTooLarge);
    }
    if is_handshake(request.uri()) {
        if !edge.take_place(&mut request) {
            return edge.refuse(HttpRefusal::ConnectionsPerIp);
        }
        keep_only_what_the_session_needs(&mut request);
    }
    let (request, expired) = with_deadline(request, edge.body_timeout);
    let mut response = next.run(request).await;
    // Engine.IO saw a broken body and closed the session; say why.
    if expired.is_some_and(|expired| expired.load(Ordering::Relaxed)) {
        return edge.refuse(HttpRefusal::BodyTimeout);
    }
    if let Some(origin) = cross_site {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

impl EdgeInner {
    /// Counts a new session under its client address, leaving the place
    /// in the request for Engine.IO to keep (see `per_ip`); false when
    /// the address has no place left.
    fn take_place(&self, request: &mut Request) -> bool {
        let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        // Served without connect info (not by `App`), every client is one.
        let peer = peer.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let ip = client_ip(request.headers(), peer, self.trust_proxy);
        let Some(slot) = self.per_ip.admit(ip) else {
            tracing::debug!(%ip, limit = self.per_ip.limit(), "too many connections");
            return false;
        };
        request.extensions_mut().insert(slot);
        true
    }

    fn refuse(&self, refusal: HttpRefusal) -> Response {
        self.metrics.http_refused(refusal);
        let (status, message) = match refusal {
            HttpRefusal::UriTooLong => (StatusCode::URI_TOO_LONG, "URL too long"),
            HttpRefusal::HeadersTooLarge => {
                (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "Request headers too large")
            }
            HttpRefusal::BodyTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "Payload too large"),
            HttpRefusal::Origin => (StatusCode::FORBIDDEN, "Forbidden: origin not allowed"),
            HttpRefusal::ConnectionsPerIp => {
                (StatusCode::TOO_MANY_REQUESTS, "Too many connections from this address")
            }
            HttpRefusal::BodyTimeout | HttpRefusal::HeadTimeout => {
                (StatusCode::REQUEST_TIMEOUT, "Request not received in time")
            }
        };
        // Engine.IO's error shape; code 4 is its "Forbidden".
        let body = serde_json::json!({ "code": 4, "message": message });
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::REQUEST_TIMEOUT {
            // The rest of the body may still come: nothing more is read.
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

fn oversized_head(uri: &Uri, headers: &HeaderMap) -> Option<HttpRefusal> {
    let target = uri.path_and_query().map_or(0, |p| p.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len());
    let head: usize = headers.iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    if target > MAX_URI_BYTES {
        Some(HttpRefusal::UriTooLong)
    } else if head > MAX_HEADER_BYTES {
        Some(HttpRefusal::HeadersTooLarge)
    } else {
        None
    }
}

/// Puts a deadline on the request's body, if it has one.
fn with_deadline(request: Request, limit: Duration) -> (Request, Option<Arc<AtomicBool>>) {
    if request.body().is_end_stream() {
        return (request, None);
    }
    let (parts, body) = request.into_parts();
    let (body, expired) = Deadline::wrap(body, limit);
    (Request::from_parts(parts, body), Some(expired))
}

/// Engine.IO keeps a handshake's request parts for its session's whole
/// life, though nothing of ours reads them once the session is open (the
/// edge has judged the origin and counted the address by now). Kept: the
/// address's place (`per_ip::Slot`, given back when the parts go), what
/// the websocket upgrade still reads (hyper's `OnUpgrade`, the
/// `Sec-WebSocket-Key`; Engine.IO drops both from what it keeps once it
/// has answered the upgrade, `vendor/PATCHES.md` 15) and the URI Engine.IO
/// routes by. Shed: the other headers and axum's extensions, ~1 KB per
/// idle connection (bench/README.md, S4).
fn keep_only_what_the_session_needs(request: &mut Request) {
    let key = request.headers_mut().remove(header::SEC_WEBSOCKET_KEY);
    let headers = request.headers_mut();
    *headers = HeaderMap::new();
    if let Some(key) = key {
        headers.insert(header::SEC_WEBSOCKET_KEY, key);
    }
    let extensions = request.extensions_mut();
    let (slot, upgrade) = (extensions.remove::<Slot>(), extensions.remove::<OnUpgrade>());
    *extensions = Extensions::new();
    if let Some(slot) = slot {
        extensions.insert(slot);
    }
    if let Some(upgrade) = upgrade {
        extensions.insert(upgrade);
    }
}

fn is_engine_io(path: &str) -> bool {
    path.strip_prefix(ENGINE_IO_PATH).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// A request without `sid` opens a session, exactly as Engine.IO decides
/// it (any `sid=` part, even a bad one, makes it a request of a session).
fn is_handshake(uri: &Uri) -> bool {
    !uri.query().unwrap_or_default().split('&').any(|part| part.starts_with("sid="))
}

/// The `Content-Length` a body announces; unparsable counts as too large
/// (hyper refuses those itself), absent (chunked) as 0: Engine.IO stops
/// reading a chunked body once it passes the maximum.
fn declared_length(headers: &HeaderMap) -> u64 {
    headers
        .get(header::CONTENT_LENGTH)
        .map_or(0, |length| length.to_str().ok().and_then(|l| l.parse().ok()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_requests_without_a_sid_open_sessions() {
        let uri = |raw: &'static str| Uri::from_static(raw);
        assert!(is_handshake(&uri("/socket.io/?EIO=4&transport=polling")));
        assert!(is_handshake(&uri("/socket.io/?EIO=4&transport=websocket&xsid=1")));
        assert!(!is_handshake(&uri("/socket.io/?EIO=4&transport=polling&sid=abc")));
        assert!(!is_handshake(&uri("/socket.io/?sid=&EIO=4&transport=polling")));
    }

    #[test]
    fn the_engine_io_path_and_nothing_beside_it_is_guarded() {
        assert!(is_engine_io("/socket.io/"));
        assert!(is_engine_io("/socket.io"));
        assert!(!is_engine_io("/socket.iox"));
        assert!(!is_engine_io("/r/socket.io"));
    }

    #[test]
    fn long_urls_and_large_heads_are_refused() {
        let long = format!("/?q={}", "a".repeat(MAX_URI_BYTES));
        let uri: Uri = long.parse().expect("a uri");
        assert_eq!(oversized_head(&uri, &HeaderMap::new()), Some(HttpRefusal::UriTooLong));
        let mut headers = HeaderMap::new();
        for i in 0..40 {
            let value = HeaderValue::from_str(&"v".repeat(1000)).expect("a value");
            headers.insert(format!("x-h{i}").parse::<header::HeaderName>().expect("a name"), value);
        }
        let root = Uri::from_static("/");
        assert_eq!(oversized_head(&root, &headers), Some(HttpRefusal::HeadersTooLarge));
        assert_eq!(oversized_head(&root, &HeaderMap::new()), None);
    }

    #[test]
    fn a_session_keeps_its_place_and_upgrade_key_and_nothing_else() {
        let table = ConnectionsPerIp::new(1);
        let slot = table.admit(IpAddr::V4(Ipv4Addr::LOCALHOST)).expect("a place");
        let mut request = Request::builder()
            .uri("/socket.io/?EIO=4&transport=websocket")
            .header(header::SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==")
            .header(header::ORIGIN, "http://localhost")
            .header(header::USER_AGENT, "test")
            .body(axum::body::Body::empty())
            .expect("a request");
        request.extensions_mut().insert(slot);
        request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 1))));
        keep_only_what_the_session_needs(&mut request);
        let key: Vec<_> = request.headers().keys().collect();
        assert_eq!(key, [header::SEC_WEBSOCKET_KEY]);
        assert!(request.extensions().get::<ConnectInfo<SocketAddr>>().is_none());
        assert_eq!(request.extensions().len(), 1);
        assert_eq!(table.open(IpAddr::V4(Ipv4Addr::LOCALHOST)), 1, "the place is still taken");
        drop(request);
        assert_eq!(table.open(IpAddr::V4(Ipv4Addr::LOCALHOST)), 0, "and given back with the parts");
    }
}
