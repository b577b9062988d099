//! The REST API, `/api/v1`: bearer tokens, RFC 9457 problems, cursor paging, ETags, and an
//! OpenAPI 3.1 document generated from these handlers (`utoipa`: the derive the Rust field
//! uses, with `utoipa-axum` registering each route and its documentation in one place).
//!
//! Handlers are thin: each checks the token's role and calls the same domain service as the
//! console's server functions.

mod applications;
mod config;
mod directory;
pub mod extract;
mod problem;
mod providers;
mod roles;
mod sync;
mod tokens;

use std::sync::OnceLock;

use axum::{
    response::{Html, IntoResponse, Response},
    routing::get,
    Json, Router,
};
use http::{header, HeaderValue};
use portcullis_types::api::ProblemCode;
use serde::{Deserialize, Serialize};
use utoipa::{
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    IntoParams, Modify, OpenApi, ToSchema,
};
use utoipa_axum::{router::OpenApiRouter, routes};

pub use problem::Problem;

use crate::AppState;

/// A page of a list and where the next one starts.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1 to 500; default 50.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Portcullis API",
        description = "Identity providers, directory sync, role mappings, applications and their access policies, \
decisions and the audit log of a Portcullis console. Authenticate with `Authorization: Bearer pcat_…` (Settings → API tokens, \
or `portcullis api-token create`). Errors are RFC 9457 `application/problem+json` with a stable `type` \
(`urn:portcullis:problem:<code>`). Lists page with `limit` and `cursor`; resources carry an `ETag`, and `If-Match` on \
PUT and DELETE refuses (412) a change to something that changed since it was read.",
        license(name = "Apache-2.0")
    ),
    servers((url = "/api/v1")),
    tags(
        (name = "Identity providers", description = "Okta and OpenID Connect providers; secrets are write-only, and a save runs the wizard's checks."),
        (name = "Directory sync", description = "Runs, their progress and approval, and each provider's sync settings."),
        (name = "Role mappings", description = "Which provider group gives which console role (Admin only to change)."),
        (name = "Applications", description = "The hosts Portcullis protects."),
        (name = "Policies", description = "Each application's ordered Allow, Block and Bypass rules."),
        (name = "Directory", description = "The synchronized users and groups."),
        (name = "Decisions", description = "Test a person against an application, with the reasons."),
        (name = "Audit log", description = "Who did what, newest first."),
        (name = "Configuration", description = "Everything configured, as one document: export, plan, apply."),
        (name = "API tokens", description = "Tokens for this API (Admin only)."),
    ),
    modifiers(&Bearer),
    security(("bearer" = [])),
    components(schemas(ProblemCode))
)]
struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("pcat_ token")
                    .description(Some("An API token: Settings → API tokens"))
                    .build(),
            ),
        );
    }
}

fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(tokens::list, tokens::create))
        .routes(routes!(tokens::revoke))
        .routes(routes!(providers::list, providers::create))
        .routes(routes!(providers::get, providers::update, providers::delete))
        .routes(routes!(providers::test))
        .routes(routes!(providers::start_sync))
        .routes(routes!(providers::runs))
        .routes(routes!(providers::sync_settings, providers::save_sync_settings))
        .routes(routes!(sync::get))
        .routes(routes!(sync::approve))
        .routes(routes!(sync::discard))
        .routes(routes!(roles::list, roles::create))
        .routes(routes!(roles::get, roles::update, roles::delete))
        .routes(routes!(applications::list, applications::create))
        .routes(routes!(applications::get, applications::update, applications::delete))
        .routes(routes!(applications::policies, applications::create_policy))
        .routes(routes!(applications::get_policy, applications::update_policy, applications::delete_policy))
        .routes(routes!(applications::move_policy))
        .routes(routes!(directory::users))
        .routes(routes!(directory::user))
        .routes(routes!(directory::groups))
        .routes(routes!(directory::group))
        .routes(routes!(directory::test))
        .routes(routes!(directory::audit))
        .routes(routes!(config::export, config::apply))
        .routes(routes!(config::plan))
}

/// The OpenAPI document as served, built once: every operation also lists the problems any
/// request can meet (a bad token, a body too large, …), each as `application/problem+json`.
pub fn openapi() -> &'static serde_json::Value {
    static DOC: OnceLock<serde_json::Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(api().split_for_parts().1).unwrap_or_default();
        with_common_problems(&mut doc);
        unique_operation_ids(&mut doc);
        doc
    })
}

/// Statuses every operation can answer, whatever its handler says.
const COMMON_PROBLEMS: [(&str, &str); 7] = [
    ("400", "The request is not valid"),
    ("401", "No token, or one that is malformed, unknown, expired, revoked or used from a refused address"),
    ("403", "The token's role does not allow this"),
    ("404", "Not found"),
    ("413", "The body is larger than 1 MiB"),
    ("415", "The body is not JSON"),
    ("500", "The server could not complete the request"),
];

fn with_common_problems(doc: &mut serde_json::Value) {
    let problem = serde_json::json!({"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}});
    let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) else { return };
    for item in paths.values_mut().filter_map(|i| i.as_object_mut()) {
        for operation in item.values_mut().filter_map(|o| o.as_object_mut()) {
            let Some(responses) = operation.get_mut("responses").and_then(|r| r.as_object_mut()) else { continue };
            for (status, response) in responses.iter_mut() {
                // Problems travel as application/problem+json, whatever the derive assumed.
                let is_problem = response.pointer("/content/application~1json/schema/$ref")
                    == Some(&serde_json::Value::from("#/components/schemas/Problem"));
                if is_problem || status.starts_with('4') || status.starts_with('5') {
                    if let Some(r) = response.as_object_mut() {
                        r.insert("content".into(), problem.clone());
                    }
                }
            }
            for (status, description) in COMMON_PROBLEMS {
                responses
                    .entry(status)
                    .or_insert_with(|| serde_json::json!({"description": description, "content": problem.clone()}));
            }
        }
    }
}

/// Operation ids are the handlers' names (`list`, `get`, …), the same in each resource's file:
/// a name used more than once gets its resource (`list_providers`, `get_applications`).
fn unique_operation_ids(doc: &mut serde_json::Value) {
    let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) else { return };
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for item in paths.values().filter_map(|i| i.as_object()) {
        for op in item.values() {
            if let Some(id) = op.get("operationId").and_then(|i| i.as_str()) {
                *seen.entry(id.to_string()).or_default() += 1;
            }
        }
    }
    for (path, item) in paths.iter_mut() {
        let resource = path.trim_start_matches('/').split('/').next().unwrap_or("").replace('-', "_");
        for op in item.as_object_mut().into_iter().flat_map(|i| i.values_mut()) {
            let Some(id) = op.get("operationId").and_then(|i| i.as_str()).map(str::to_string) else { continue };
            if seen.get(&id).copied().unwrap_or(0) > 1 {
                op["operationId"] = serde_json::Value::from(format!("{id}_{resource}"));
            }
        }
    }
}

async fn openapi_json() -> Json<&'static serde_json::Value> {
    Json(openapi())
}

async fn not_found() -> Problem {
    Problem::new(ProblemCode::NotFound, "No such API path: see /api/v1/openapi.json.")
}

/// `/api/v1/…` and the reference at `/api/docs`.
pub fn router() -> Router<AppState> {
    let (routes, _) = api().split_for_parts();
    let v1 = routes
        .route("/openapi.json", get(openapi_json))
        .route("/config.schema.json", get(config::schema_json))
        .fallback(not_found)
        .method_not_allowed_fallback(|| async {
            Problem::new(
                ProblemCode::MethodNotAllowed,
                "This path does not take this method: see /api/v1/openapi.json.",
            )
        });
    Router::new().nest("/api/v1", v1).route("/api/docs", get(docs)).route("/api/docs/{file}", get(docs_asset))
}

/// Swagger UI from the npm package `swagger-ui-dist`, copied into the site at build time:
/// served from here, so the reference works with no internet.
async fn docs() -> Html<&'static str> {
    Html(include_str!("docs.html"))
}

const START_JS: &str =
    "SwaggerUIBundle({ url: '/api/v1/openapi.json', dom_id: '#api-reference', deepLinking: true });\n";

async fn docs_asset(
    axum::extract::State(state): axum::extract::State<AppState>,
    axum::extract::Path(file): axum::extract::Path<String>,
) -> Response {
    if file == "start.js" {
        let mut response = START_JS.into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
        return response;
    }
    let content_type = match file.as_str() {
        "swagger-ui.css" => "text/css; charset=utf-8",
        "swagger-ui-bundle.js" => "text/javascript; charset=utf-8",
        _ => return not_found().await.into_response(),
    };
    let path = std::path::Path::new(&state.leptos.site_root.to_string()).join("api-docs").join(&file);
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let mut response = bytes.into_response();
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
            response
        }
        Err(_) => Problem::new(ProblemCode::NotFound, "The API reference's assets are not installed (make site).")
            .into_response(),
    }
}
