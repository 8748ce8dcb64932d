//! Endpoints for operators: health and metrics.

use super::HttpState;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

/// 200 when the database answers, 503 when it does not.
pub async fn healthz(State(state): State<HttpState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, axum::Json(json!({ "status": "ok" }))),
        Err(error) => {
            tracing::warn!(%error, "health check failed");
            let body = json!({ "status": "unavailable", "reason": "database unreachable" });
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body))
        }
    }
}

pub async fn metrics(State(state): State<HttpState>) -> impl IntoResponse {
    // When the directory cannot answer (Redis down), the gauges read 0 and
    // the cluster series say why.
    let users = state.presence.user_count().await.unwrap_or_default();
    let rooms = state.presence.rooms(usize::MAX).await.map(|r| r.len()).unwrap_or_default();
    let body = state.metrics.render(users, rooms);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
