//! Request bodies bounded by the packet limit, refused as soon as their
//! headers say so: a polling client sends at most one payload of
//! `--max-payload` bytes, and nothing else here takes a body. Without
//! this, a request announcing a huge `Content-Length` was read (or waited
//! for) until the client gave up.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Answers 413 to a request whose declared body exceeds `limit` bytes.
pub async fn refuse_oversized(State(limit): State<u64>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n").into_response();
    }
    next.run(request).await
}
