//! `/userinfo` (okta-api.md §2.10).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::{groups_claim, has, profile_claims, user_is_usable, Form};
use crate::errors::JSON_UTF8;
use crate::resource::{authorization, request_urls, validate, ResourceError, Scheme};
use crate::state::{AppState, Server};

pub(crate) async fn handler(
    server: Server,
    State(st): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    userinfo(&st, &server, &method, &uri, &headers, &body)
}

fn challenge(e: &ResourceError) -> Response {
    let mut r = e.status.into_response();
    let v = format!("{} error=\"{}\", error_description=\"{}\"", e.scheme.as_str(), e.error, e.description);
    if let Ok(v) = HeaderValue::from_str(&v) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

fn userinfo(
    st: &Arc<AppState>,
    server: &Server,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let (scheme, token) = match authorization(headers) {
        Some((s, t)) if s == "bearer" => (Scheme::Bearer, t),
        Some((s, t)) if s == "dpop" => (Scheme::DPoP, t),
        _ => match Form::parse(body).value("access_token") {
            Some(t) if *method == Method::POST => (Scheme::Bearer, t.to_owned()),
            _ => {
                return challenge(&ResourceError {
                    status: StatusCode::UNAUTHORIZED,
                    error: "invalid_request",
                    description: "The access token is missing.".to_owned(),
                    scheme: Scheme::Bearer,
                })
            }
        },
    };
    let urls = request_urls(st, headers, uri.path());
    let record = match validate(st, headers, scheme, &token, method.as_str(), &urls) {
        Ok(r) => r,
        Err(e) => return challenge(&e),
    };
    let store = st.store();
    let user = record.user_id.as_ref().and_then(|u| store.users.get(u)).filter(|u| user_is_usable(u));
    let (Some(user), true) = (user, record.server == *server) else {
        return challenge(&ResourceError::invalid_token("The access token is invalid.", scheme));
    };
    if !["profile", "email", "address", "phone"].iter().any(|s| has(&record.scopes, s)) {
        return challenge(&ResourceError {
            status: StatusCode::FORBIDDEN,
            error: "insufficient_scope",
            description:
                "The access token must provide access to at least one of these scopes - profile, email, address or phone"
                    .to_owned(),
            scheme,
        });
    }
    let mut claims = serde_json::Map::new();
    claims.insert("sub".into(), Value::from(user.id.clone()));
    claims.extend(profile_claims(user, &record.scopes));
    if st.switches().email_unverified && claims.contains_key("email_verified") {
        claims.insert("email_verified".into(), Value::from(false));
    }
    if let Some(app) = store.oidc_apps.get(&record.client_id) {
        match groups_claim(&store, app, &user.id, &record.scopes, server, &st.switches()) {
            Ok(Some((name, v))) => {
                claims.insert(name, v);
            }
            Ok(None) => {}
            Err(e) => return e.into_response(),
        }
    }
    let mut r = (StatusCode::OK, Value::Object(claims).to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
    r
}
