//! `/scim/{provider_id}/v2`: the SCIM 2.0 endpoints Okta provisions through. Routing, the
//! body and the answer's media type are here; what a request means is
//! [`portcullis_domain::scim::ScimService`]'s.

use axum::{
    body::Bytes,
    extract::{DefaultBodyLimit, Path, RawQuery, State},
    response::{IntoResponse, Response},
    routing::any,
    Extension, Router,
};
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use portcullis_domain::{
    scim::{Answer, Endpoint, ListQuery, Received, ScimError, ScimTokenView, MAX_BODY_BYTES, SCIM_JSON},
    ClientInfo,
};
use serde_json::Value;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/scim/{provider_id}/v2", any(handle_base))
        .route("/scim/{provider_id}/v2/{*rest}", any(handle))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

async fn handle_base(
    state: State<AppState>,
    Path(provider_id): Path<String>,
    client: Extension<ClientInfo>,
    method: Method,
    headers: HeaderMap,
    query: RawQuery,
    body: Bytes,
) -> Response {
    handle(state, Path((provider_id, String::new())), client, method, headers, query, body).await
}

async fn handle(
    State(state): State<AppState>,
    Path((provider_id, rest)): Path<(String, String)>,
    Extension(client): Extension<ClientInfo>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let scim = &state.services.scim;
    let path = format!("/{}", rest.trim_matches('/'));
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let token = match scim.authorize(&provider_id, authorization).await {
        Ok(token) => token,
        Err(e) => {
            let received = Received { method: method.as_str(), path: &path, status: e.status, detail: &e.detail };
            scim.log(&provider_id, &received, None, client.ip.as_deref()).await;
            return error(&e);
        }
    };
    let at = Endpoint {
        base: format!("{}/scim/{provider_id}/v2", state.services.settings.public_base()),
        provider_id: provider_id.clone(),
    };
    let result = dispatch(&state, &at, &token, &method, &path, query.as_deref(), &body).await;
    let (status, detail) = match &result {
        Ok(a) => (a.status, a.summary.clone()),
        Err(e) => (e.status, e.detail.clone()),
    };
    let received = Received { method: method.as_str(), path: &path, status, detail: &detail };
    scim.log(&provider_id, &received, Some(&token), client.ip.as_deref()).await;
    match result {
        Ok(answer) => answered(answer),
        Err(e) => error(&e),
    }
}

async fn dispatch(
    state: &AppState,
    at: &Endpoint,
    token: &ScimTokenView,
    method: &Method,
    path: &str,
    query: Option<&str>,
    body: &Bytes,
) -> Result<Answer, ScimError> {
    let scim = &state.services.scim;
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let q = || list_query(query);
    match (segments.as_slice(), method) {
        ([".search"], &Method::POST) => scim.search(at, None, &json(body)?).await,
        ([what @ ("Users" | "Groups"), ".search"], &Method::POST) => scim.search(at, Some(what), &json(body)?).await,
        (["Users"], &Method::GET) => scim.list_users(at, &q()?).await,
        (["Users"], &Method::POST) => scim.create_user(at, token, &json(body)?).await,
        (["Users", id], &Method::GET) => scim.get_user(at, id, &q()?).await,
        (["Users", id], &Method::PUT) => scim.replace_user(at, token, id, &json(body)?).await,
        (["Users", id], &Method::PATCH) => scim.patch_user(at, token, id, &json(body)?).await,
        (["Users", id], &Method::DELETE) => scim.delete_user(at, token, id).await,
        (["Groups"], &Method::GET) => scim.list_groups(at, &q()?).await,
        (["Groups"], &Method::POST) => scim.create_group(at, token, &json(body)?).await,
        (["Groups", id], &Method::GET) => scim.get_group(at, id, &q()?).await,
        (["Groups", id], &Method::PUT) => scim.replace_group(at, token, id, &json(body)?).await,
        (["Groups", id], &Method::PATCH) => scim.patch_group(at, token, id, &json(body)?).await,
        (["Groups", id], &Method::DELETE) => scim.delete_group(at, token, id).await,
        (["ServiceProviderConfig"], &Method::GET) => Ok(scim.service_provider_config(at)),
        ([what @ ("ResourceTypes" | "Schemas")], &Method::GET) => scim.discovery(at, what, None),
        ([what @ ("ResourceTypes" | "Schemas"), id], &Method::GET) => scim.discovery(at, what, Some(id)),
        (["ServiceProviderConfig" | "ResourceTypes" | "Schemas", ..], _)
        | (["Users" | "Groups"] | ["Users" | "Groups", _], _) => {
            Err(ScimError { status: 405, scim_type: None, detail: format!("{method} is not allowed on {path}.") })
        }
        _ => Err(ScimError { status: 404, scim_type: None, detail: format!("There is no SCIM resource at {path}.") }),
    }
}

/// The body as JSON, whatever its Content-Type says (Okta's own test sends none).
fn json(body: &Bytes) -> Result<Value, ScimError> {
    serde_json::from_slice(body).map_err(|e| ScimError::invalid_syntax(format!("The body is not JSON: {e}")))
}

fn list_query(raw: Option<&str>) -> Result<ListQuery, ScimError> {
    let mut q = ListQuery::default();
    let number = |name: &str, v: &str| {
        v.trim().parse::<i64>().map_err(|_| ScimError::invalid_value(format!("{name} must be an integer, not {v:?}.")))
    };
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match k.to_ascii_lowercase().as_str() {
            "filter" => q.filter = Some(v.into_owned()),
            "startindex" => q.start_index = Some(number("startIndex", &v)?),
            "count" => q.count = Some(number("count", &v)?),
            "attributes" => q.attributes = Some(v.into_owned()),
            "excludedattributes" => q.excluded_attributes = Some(v.into_owned()),
            _ => {}
        }
    }
    Ok(q)
}

fn answered(answer: Answer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let Some(body) = answer.body else { return status.into_response() };
    let location = (status == StatusCode::CREATED)
        .then(|| body["meta"]["location"].as_str().and_then(|l| HeaderValue::from_str(l).ok()))
        .flatten();
    let mut response =
        (status, [(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON))], body.to_string()).into_response();
    if let Some(l) = location {
        response.headers_mut().insert(header::LOCATION, l);
    }
    response
}

fn error(e: &ScimError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response =
        (status, [(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON))], e.body().to_string()).into_response();
    match status {
        StatusCode::UNAUTHORIZED => {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"SCIM\""));
        }
        StatusCode::TOO_MANY_REQUESTS => {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        _ => {}
    }
    response
}
