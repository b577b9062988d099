//! RFC 9457 problem details: every `/api/v1` error, with a stable `type` per code.

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};
use portcullis_domain::{api_tokens::Refusal, Classify, Fault};
use portcullis_types::api::ProblemCode;
use serde::Serialize;

/// `application/problem+json`. `type` is `urn:portcullis:problem:<code>`: stable, so scripts
/// match on it rather than on the words.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The check report, when a provider's checks failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<portcullis_types::provider::Report>)]
    pub report: Option<serde_json::Value>,
    #[serde(skip)]
    #[schema(ignore)]
    www_authenticate: bool,
}

impl Problem {
    pub fn new(code: ProblemCode, detail: impl Into<String>) -> Self {
        Self {
            kind: code.type_uri(),
            title: code.title().into(),
            status: code.status(),
            detail: detail.into(),
            report: None,
            www_authenticate: false,
        }
    }

    pub fn with_report(mut self, report: serde_json::Value) -> Self {
        self.report = Some(report);
        self
    }

    pub fn unauthorized(refusal: Refusal) -> Self {
        let code = match refusal {
            Refusal::Missing => ProblemCode::TokenMissing,
            Refusal::Malformed => ProblemCode::TokenMalformed,
            Refusal::Unknown => ProblemCode::TokenUnknown,
            Refusal::Expired => ProblemCode::TokenExpired,
            Refusal::Revoked => ProblemCode::TokenRevoked,
            Refusal::SourceRefused => ProblemCode::TokenSourceRefused,
        };
        Self { www_authenticate: true, ..Self::new(code, refusal.to_string()) }
    }

    /// A domain error, as every front door maps it: the detail stays in the log when it is ours.
    pub fn from_domain<E: Classify>(e: E) -> Self {
        let code = match e.fault() {
            Fault::Invalid => ProblemCode::Invalid,
            Fault::Forbidden => ProblemCode::Forbidden,
            Fault::NotFound => ProblemCode::NotFound,
            Fault::Conflict => ProblemCode::Conflict,
            Fault::Upstream => ProblemCode::Upstream,
            Fault::Internal => {
                tracing::error!(error = %e, "API request failed");
                return Self::new(ProblemCode::Internal, portcullis_domain::error::INTERNAL_MESSAGE);
            }
        };
        Self::new(code, e.message())
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "API request failed");
        Self::new(ProblemCode::Internal, portcullis_domain::error::INTERNAL_MESSAGE)
    }
}

impl<E: Classify> From<E> for Problem {
    fn from(e: E) -> Self {
        Problem::from_domain(e)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if self.www_authenticate {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"portcullis\""));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, Problem>;
