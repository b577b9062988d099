//! `/api/v1/config`: the whole configuration as one document (YAML or JSON), its plan, and
//! applying it. The JSON Schema of the document is at `/api/v1/config.schema.json`.

use axum::{
    body::Bytes,
    extract::State,
    response::{IntoResponse, Response},
    Json,
};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use portcullis_domain::{
    config::{ConfigDocument, Plan, Syntax},
    Role,
};
use portcullis_types::api::ProblemCode;
use serde::Deserialize;
use utoipa::IntoParams;

use super::{
    extract::{Query, Token},
    problem::{ApiResult, Problem},
};
use crate::AppState;

fn wants_yaml(headers: &HeaderMap, format: Option<&str>) -> bool {
    match format {
        Some(f) => f.eq_ignore_ascii_case("yaml"),
        None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("yaml") && !a.contains("application/json")),
    }
}

/// A document in the body: YAML when the Content-Type says so, else JSON.
fn document(headers: &HeaderMap, body: &Bytes) -> Result<ConfigDocument, Problem> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let syntax = match essence.as_str() {
        "application/yaml" | "application/x-yaml" | "text/yaml" => Syntax::Yaml,
        "application/json" | "" => Syntax::Json,
        other => {
            return Err(Problem::new(
                ProblemCode::UnsupportedMediaType,
                format!(
                    "Send the document as application/json or application/yaml, not {}.",
                    other.chars().take(60).collect::<String>()
                ),
            ))
        }
    };
    let text =
        std::str::from_utf8(body).map_err(|_| Problem::new(ProblemCode::BadBody, "The document is not UTF-8."))?;
    ConfigDocument::parse(text, syntax).map_err(|e| Problem::new(ProblemCode::BadBody, e.to_string()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `json` (default) or `yaml`; `Accept: application/yaml` works too.
    pub format: Option<String>,
}

#[utoipa::path(get, path = "/config", tag = "Configuration", params(ExportParams),
    responses((status = 200, description = "JSON, or YAML when asked", body = ConfigDocument)))]
pub async fn export(
    State(s): State<AppState>,
    token: Token,
    headers: HeaderMap,
    Query(q): Query<ExportParams>,
) -> ApiResult<Response> {
    token.at_least(Role::Viewer)?;
    if let Some(f) = q.format.as_deref().filter(|f| !f.eq_ignore_ascii_case("json") && !f.eq_ignore_ascii_case("yaml"))
    {
        return Err(Problem::new(
            ProblemCode::BadQuery,
            format!("format must be json or yaml, not {}.", f.chars().take(20).collect::<String>()),
        ));
    }
    let doc = s.services.config.export().await?;
    if wants_yaml(&headers, q.format.as_deref()) {
        let mut response = doc.to_yaml().into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/yaml"));
        return Ok(response);
    }
    Ok(Json(doc).into_response())
}

#[utoipa::path(post, path = "/config/plan", tag = "Configuration",
    request_body(content = ConfigDocument, content_type = "application/json"),
    responses((status = 200, description = "What applying would do; nothing is changed", body = Plan),
        (status = 400, body = Problem)))]
pub async fn plan(State(s): State<AppState>, token: Token, headers: HeaderMap, body: Bytes) -> ApiResult<Json<Plan>> {
    token.at_least(Role::Viewer)?;
    let doc = document(&headers, &body)?;
    Ok(Json(s.services.config.plan(&doc).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ApplyParams {
    /// Delete what the document lacks; without it a plan that deletes anything is refused (409).
    #[serde(default)]
    pub prune: bool,
}

#[utoipa::path(put, path = "/config", tag = "Configuration", params(ApplyParams),
    request_body(content = ConfigDocument, content_type = "application/json"),
    responses((status = 200, description = "The plan that was applied", body = Plan),
        (status = 400, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn apply(
    State(s): State<AppState>,
    token: Token,
    headers: HeaderMap,
    Query(q): Query<ApplyParams>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Plan>)> {
    let caller = token.at_least(Role::Admin)?;
    let doc = document(&headers, &body)?;
    Ok((StatusCode::OK, Json(s.services.config.apply(&caller, &doc, q.prune).await?)))
}

/// The document's JSON Schema (2020-12), from the same types as the OpenAPI document.
pub fn schema() -> serde_json::Value {
    let openapi = super::openapi();
    let defs = openapi.pointer("/components/schemas").cloned().unwrap_or_default();
    let mut root = defs.get("ConfigDocument").cloned().unwrap_or_default();
    let text = serde_json::to_string(&defs).unwrap_or_default().replace("#/components/schemas/", "#/$defs/");
    if let Some(obj) = root.as_object_mut() {
        obj.insert("$schema".into(), "https://json-schema.org/draft/2020-12/schema".into());
        obj.insert("$id".into(), "urn:portcullis:config:1".into());
        obj.insert("title".into(), "Portcullis configuration".into());
        obj.insert("$defs".into(), serde_json::from_str(&text).unwrap_or_default());
    }
    let text = serde_json::to_string(&root).unwrap_or_default().replace("#/components/schemas/", "#/$defs/");
    serde_json::from_str(&text).unwrap_or_default()
}

pub async fn schema_json() -> Response {
    static SCHEMA: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    let mut response = Json(SCHEMA.get_or_init(schema)).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/schema+json"));
    response
}
