//! Okta's two error shapes: the Management API error object and the OAuth error body.

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::util::error_id;

/// `{"errorCode","errorSummary","errorLink","errorId","errorCauses"}` (okta-api.md §1).
#[derive(Debug)]
pub(crate) struct OktaError {
    pub status: StatusCode,
    pub code: String,
    pub summary: String,
    pub causes: Vec<String>,
    pub headers: HeaderMap,
}

impl OktaError {
    pub fn new(status: StatusCode, code: &str, summary: impl Into<String>) -> OktaError {
        OktaError { status, code: code.to_owned(), summary: summary.into(), causes: vec![], headers: HeaderMap::new() }
    }

    pub fn invalid_session() -> OktaError {
        OktaError::new(StatusCode::FORBIDDEN, "E0000005", "Invalid session")
    }
    pub fn no_permission() -> OktaError {
        OktaError::new(StatusCode::FORBIDDEN, "E0000006", "You do not have permission to perform the requested action")
    }
    pub fn invalid_token() -> OktaError {
        OktaError::new(StatusCode::UNAUTHORIZED, "E0000011", "Invalid token provided")
    }
    pub fn not_found(id: &str, kind: &str) -> OktaError {
        OktaError::new(StatusCode::NOT_FOUND, "E0000007", format!("Not found: Resource not found: {id} ({kind})"))
    }
    pub fn path_not_found() -> OktaError {
        OktaError::new(StatusCode::NOT_FOUND, "E0000008", "The requested path was not found")
    }
    pub fn method_not_allowed() -> OktaError {
        OktaError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "E0000022",
            "The endpoint does not support the provided HTTP method",
        )
    }
    pub fn invalid_search() -> OktaError {
        OktaError::new(StatusCode::BAD_REQUEST, "E0000031", "Invalid search criteria.")
    }
    pub fn search_and_filter() -> OktaError {
        OktaError::new(
            StatusCode::BAD_REQUEST,
            "E0000033",
            "Bad request. Can't specify a search query and filter in the same request.",
        )
    }
    pub fn invalid_paging() -> OktaError {
        OktaError::new(StatusCode::BAD_REQUEST, "E0000054", "Invalid pagination properties.")
    }
    pub fn rate_limited() -> OktaError {
        OktaError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "E0000047",
            "API call exceeded rate limit due to too many requests.",
        )
    }
    pub fn internal() -> OktaError {
        OktaError::new(StatusCode::INTERNAL_SERVER_ERROR, "E0000009", "Internal Server Error")
    }
}

impl IntoResponse for OktaError {
    fn into_response(self) -> Response {
        let causes: Vec<_> = self.causes.iter().map(|c| json!({ "errorSummary": c })).collect();
        let body = json!({
            "errorCode": self.code,
            "errorSummary": self.summary,
            "errorLink": self.code,
            "errorId": error_id(),
            "errorCauses": causes,
        });
        let mut resp = (self.status, axum::Json(body)).into_response();
        resp.headers_mut().extend(self.headers);
        resp
    }
}

/// `{"error","error_description"}` for `/oauth2/*` protocol errors (okta-api.md §2.6).
#[derive(Debug)]
pub(crate) struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
    pub headers: HeaderMap,
}

impl OAuthError {
    pub fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> OAuthError {
        OAuthError { status, error, description: description.into(), headers: HeaderMap::new() }
    }
    pub fn bad(error: &'static str, description: impl Into<String>) -> OAuthError {
        OAuthError::new(StatusCode::BAD_REQUEST, error, description)
    }
    pub fn client(description: impl Into<String>) -> OAuthError {
        OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }
    pub fn client_generic() -> OAuthError {
        OAuthError::client("Client authentication failed. Either the client or the client credentials are invalid.")
    }
    pub fn grant(description: impl Into<String>) -> OAuthError {
        OAuthError::bad("invalid_grant", description)
    }
    pub fn dpop(description: impl Into<String>) -> OAuthError {
        OAuthError::bad("invalid_dpop_proof", description)
    }
    pub fn with_header(mut self, name: HeaderName, value: &str) -> OAuthError {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.insert(name, v);
        }
        self
    }
}

pub(crate) const JSON_UTF8: &str = "application/json;charset=UTF-8";

pub(crate) fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.error, "error_description": self.description });
        let mut resp = (self.status, body.to_string()).into_response();
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
        no_store(h);
        h.extend(self.headers);
        resp
    }
}
