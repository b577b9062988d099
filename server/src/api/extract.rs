//! What every `/api/v1` handler takes: the token's caller, a JSON body that refuses unknown
//! fields, query strings, cursors and entity tags, each failing as a problem.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    response::{IntoResponse, Response},
};
use base64::Engine;
use http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode};
use portcullis_domain::{api_tokens::Refusal, audit::Caller, ClientInfo, Role};
use portcullis_types::api::ProblemCode;
use serde::{de::DeserializeOwned, Serialize};
use sha2::{Digest, Sha256};

use super::problem::Problem;
use crate::AppState;

/// The caller behind `Authorization: Bearer pcat_…`.
pub struct Token(pub Caller);

impl Token {
    /// The caller, if the token's role is `role` or better; else 403.
    pub fn at_least(self, role: Role) -> Result<Caller, Problem> {
        if self.0.role < role {
            return Err(Problem::new(
                ProblemCode::Forbidden,
                format!("This needs a token with the {} role; this token is {}.", role.label(), self.0.role.label()),
            ));
        }
        Ok(self.0)
    }
}

impl FromRequestParts<AppState> for Token {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let Some(token) = bearer(&parts.headers) else {
            return Err(Problem::unauthorized(Refusal::Missing));
        };
        let ip = parts.extensions.get::<ClientInfo>().and_then(|c| c.ip.clone());
        match state.services.tokens.authenticate(token, ip.as_deref()).await {
            Ok(Ok(caller)) => Ok(Token(caller)),
            Ok(Err(refusal)) => {
                tracing::info!(reason = refusal.code(), ip = ip.as_deref().unwrap_or("-"), "API token refused");
                Err(Problem::unauthorized(refusal))
            }
            Err(e) => Err(Problem::internal(e)),
        }
    }
}

/// A JSON body: `application/json` (or none said), unknown fields refused by the types.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Body<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Problem> {
        let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
        if let Some(ct) = content_type {
            let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            if essence != "application/json" && !essence.ends_with("+json") {
                return Err(Problem::new(
                    ProblemCode::UnsupportedMediaType,
                    format!("Send the body as application/json, not {}.", essence.chars().take(60).collect::<String>()),
                ));
            }
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Problem::new(ProblemCode::PayloadTooLarge, "The body is larger than 1 MiB.")
            } else {
                Problem::new(ProblemCode::BadBody, e.body_text())
            }
        })?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut de)
            .map_err(|e| Problem::new(ProblemCode::BadBody, body_error(e.path().to_string(), e.inner())))?;
        de.end()
            .map_err(|e| Problem::new(ProblemCode::BadBody, format!("Trailing characters after the JSON: {e}.")))?;
        Ok(Body(value))
    }
}

fn body_error(path: String, e: &serde_json::Error) -> String {
    if path.is_empty() || path == "." {
        format!("The body is not valid: {e}.")
    } else {
        format!("The body is not valid at {path}: {e}.")
    }
}

/// A query string, each parameter typed; unknown parameters refused.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str(query)
            .map(Query)
            .map_err(|e| Problem::new(ProblemCode::BadQuery, format!("The query is not valid: {e}.")))
    }
}

/// An opaque cursor: where the next page starts. Clients pass back what they got.
/// The credential of `Authorization: Bearer …` (the scheme in any case).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

pub fn encode_cursor(position: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(position.as_bytes())
}

pub fn decode_cursor(cursor: Option<&str>) -> Result<Option<String>, Problem> {
    let Some(cursor) = cursor.filter(|c| !c.is_empty()) else { return Ok(None) };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|s| s.len() <= 200)
        .map(Some)
        .ok_or_else(|| {
            Problem::new(ProblemCode::BadCursor, "Pass back the next_cursor of the previous page, as given.")
        })
}

/// An offset cursor (`o:<n>`), for lists read whole from small tables.
pub fn offset_from(cursor: Option<&str>) -> Result<usize, Problem> {
    match decode_cursor(cursor)? {
        None => Ok(0),
        Some(c) => c.strip_prefix("o:").and_then(|n| n.parse().ok()).ok_or_else(|| {
            Problem::new(ProblemCode::BadCursor, "Pass back the next_cursor of the previous page, as given.")
        }),
    }
}

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;

pub fn limit(asked: Option<u32>) -> Result<u32, Problem> {
    match asked {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(Problem::new(ProblemCode::BadQuery, format!("limit must be 1 to {MAX_LIMIT}."))),
    }
}

/// One page of a list read whole, with the cursor of the next.
pub fn page_of<T>(all: Vec<T>, cursor: Option<&str>, limit: Option<u32>) -> Result<(Vec<T>, Option<String>), Problem> {
    let start = offset_from(cursor)?;
    let limit = self::limit(limit)? as usize;
    let end = start.saturating_add(limit);
    let next = (end < all.len()).then(|| encode_cursor(&format!("o:{end}")));
    Ok((all.into_iter().skip(start).take(limit).collect(), next))
}

/// A strong entity tag over the resource's JSON: any change to what GET shows changes it.
pub fn etag_of<T: Serialize>(value: &T) -> String {
    let json = serde_json::to_vec(value).unwrap_or_default();
    format!("\"{}\"", &hex::encode(Sha256::digest(&json))[..32])
}

/// `If-Match`: absent passes (scripts that do not care), `*` passes, else one of the listed
/// tags must be the current one: 412 otherwise, and nothing is changed.
pub fn check_if_match(headers: &HeaderMap, current: &str) -> Result<(), Problem> {
    let Some(value) = headers.get(header::IF_MATCH) else { return Ok(()) };
    let value = value.to_str().unwrap_or("");
    let matches = value.split(',').map(|t| t.trim().trim_start_matches("W/")).any(|t| t == "*" || t == current);
    if matches {
        Ok(())
    } else {
        Err(Problem::new(
            ProblemCode::PreconditionFailed,
            "It changed since you read it (If-Match does not match its ETag): read it again and reapply your change.",
        ))
    }
}

/// A JSON answer with its ETag.
pub fn tagged<T: Serialize>(status: StatusCode, value: &T) -> Response {
    let etag = etag_of(value);
    let mut response = (status, axum::Json(value)).into_response();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}
