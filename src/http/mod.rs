//! The HTTP side: the web app's files, `/healthz` and `/metrics`, each
//! response carrying the security headers; the sticky-session cookie for a
//! proxy in front of several processes; the edge guard in front of it
//! all and of Socket.IO (origins, connections per address, sizes, body
//! deadlines); and the accept loop that bounds how long a request head
//! may take.

mod assets;
mod deadline;
pub mod edge;
mod ops;
pub mod sticky;

pub use sticky::NodeName;
pub mod origin;
pub mod per_ip;
pub mod serve;

use crate::metrics::Metrics;
use crate::realtime::presence::Presence;
use crate::store::Store;
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::get;
use std::sync::Arc;

/// The handles the HTTP handlers read.
#[derive(Clone)]
pub struct HttpState {
    pub store: Arc<dyn Store>,
    pub metrics: Arc<Metrics>,
    pub presence: Arc<Presence>,
}

/// Scripts and styles only from this origin, never inline; no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; \
    frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/", get(assets::app))
        .route("/r/{room}", get(assets::app))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/{file}", get(assets::file))
        .with_state(state)
        .layer(axum::middleware::map_response(secure))
}

async fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers
        .insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}
