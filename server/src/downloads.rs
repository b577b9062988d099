//! Files the console hands out in one click (a plain link, so it works without JavaScript):
//! an application's policy export, the audit log's filtered rows. Same roles and messages as
//! the server functions.

use axum::{
    extract::{rejection::QueryRejection, Path, Query, State},
    response::{IntoResponse, Response},
    Extension,
};
use http::{header, HeaderValue, StatusCode};
use portcullis_domain::{audit::AuditFilter, error, Classify, Role, SignedIn};

use crate::AppState;

/// `GET /policies/apps/{id}/export.json`: the application's policies as a versioned document.
pub async fn policy_export(
    State(state): State<AppState>,
    user: Option<Extension<SignedIn>>,
    Path(id): Path<String>,
) -> Response {
    if let Some(refused) = refusal(user.as_deref(), Role::Viewer) {
        return refused;
    }
    match state.services.policies.export(&id).await {
        Ok(doc) => attachment(&doc.file_name(), "application/json", doc.to_json().into_bytes()),
        Err(e) => failure(&e),
    }
}

/// `GET /audit/export.csv` and `/audit/export.json`: the rows the page's filters match.
pub async fn audit_export(
    State(state): State<AppState>,
    user: Option<Extension<SignedIn>>,
    Path(format): Path<String>,
    filter: Result<Query<AuditFilter>, QueryRejection>,
) -> Response {
    if let Some(refused) = refusal(user.as_deref(), Role::Viewer) {
        return refused;
    }
    let Ok(Query(filter)) = filter else {
        return (StatusCode::BAD_REQUEST, "The filters in this address could not be read.").into_response();
    };
    let export = match state.services.audit.export(&filter).await {
        Ok(export) => export,
        Err(e) => return failure(&e),
    };
    match format.as_str() {
        "export.csv" => attachment(&export.file_name("csv"), "text/csv; charset=utf-8", export.to_csv()),
        "export.json" => attachment(&export.file_name("json"), "application/json", export.to_json()),
        _ => (StatusCode::NOT_FOUND, "Exports are export.csv and export.json.").into_response(),
    }
}

/// 401 without a session, 403 below `role`; `None` lets the caller through.
fn refusal(user: Option<&SignedIn>, role: Role) -> Option<Response> {
    match user {
        None => Some((StatusCode::UNAUTHORIZED, error::SESSION_ENDED).into_response()),
        Some(user) if user.role < role => {
            Some((StatusCode::FORBIDDEN, error::role_needed(role, user.role)).into_response())
        }
        Some(_) => None,
    }
}

fn failure<E: Classify>(e: &E) -> Response {
    if e.is_internal() {
        tracing::error!(error = %e, "download failed");
        return (StatusCode::INTERNAL_SERVER_ERROR, error::INTERNAL_MESSAGE).into_response();
    }
    let status = StatusCode::from_u16(e.fault().http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    (status, e.message()).into_response()
}

/// A download: the browser saves it under `file_name` instead of showing it.
pub(crate) fn attachment(file_name: &str, content_type: &'static str, body: Vec<u8>) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The name is built from [a-z0-9.-] only, so it needs no quoting rules beyond these quotes.
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
