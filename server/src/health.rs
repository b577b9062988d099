use axum::{extract::State, response::IntoResponse, Json};
use http::StatusCode;
use serde_json::json;

use crate::AppState;

/// The process is up.
pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// The process can serve: the database answers. Also says which replica this is and whether
/// it holds the background runner's lock (scheduled syncs, key rotation, housekeeping).
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let replica = &state.services.replica;
    let backend = match state.store.backend() {
        portcullis_domain::store::Backend::Sqlite => "sqlite",
        portcullis_domain::store::Backend::Postgres => "postgresql",
    };
    let runner = if replica.is_runner() { "held" } else { "another replica" };
    let (code, status, database) = match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready", "ok"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "unreachable")
        }
    };
    let body = json!({
        "status": status, "database": database, "backend": backend,
        "replica": replica.id(), "runner_lock": runner,
    });
    (code, Json(body))
}
