//! `/api/v1/role-mappings`: which provider group gives which console role. Admin only to
//! change: a mapping decides who becomes an Admin.

use axum::{
    extract::{Path, State},
    response::Response,
    Json,
};
use http::{HeaderMap, StatusCode};
use portcullis_domain::{sso::roles::RoleMappingView, Role};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{
    extract::{check_if_match, etag_of, page_of, tagged, Body, Query, Token},
    problem::{ApiResult, Problem},
    Page, PageQuery,
};
use crate::AppState;
use portcullis_types::api::ProblemCode;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMapping {
    pub provider_id: String,
    /// The group's id at the provider (Okta: `00g…`) or its name.
    pub group: String,
    pub role: Role,
    /// Map a name the directory does not know (a groups claim name).
    #[serde(default)]
    pub anyway: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingRole {
    pub role: Role,
}

async fn find(s: &AppState, id: &str) -> Result<RoleMappingView, Problem> {
    s.services
        .roles
        .list()
        .await
        .map_err(Problem::internal)?
        .into_iter()
        .find(|m| m.id == id)
        .ok_or_else(|| Problem::new(ProblemCode::NotFound, "No such mapping: it may have been removed."))
}

#[utoipa::path(get, path = "/role-mappings", tag = "Role mappings", params(PageQuery),
    responses((status = 200, body = Page<RoleMappingView>)))]
pub async fn list(
    State(s): State<AppState>,
    token: Token,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<Page<RoleMappingView>>> {
    token.at_least(Role::Viewer)?;
    let all = s.services.roles.list().await.map_err(Problem::internal)?;
    let (items, next_cursor) = page_of(all, q.cursor.as_deref(), q.limit)?;
    Ok(Json(Page { items, next_cursor }))
}

#[utoipa::path(get, path = "/role-mappings/{id}", tag = "Role mappings",
    responses((status = 200, body = RoleMappingView, headers(("ETag" = String))), (status = 404, body = Problem)))]
pub async fn get(State(s): State<AppState>, token: Token, Path(id): Path<String>) -> ApiResult<Response> {
    token.at_least(Role::Viewer)?;
    Ok(tagged(StatusCode::OK, &find(&s, &id).await?))
}

#[utoipa::path(post, path = "/role-mappings", tag = "Role mappings", request_body = NewMapping,
    responses((status = 201, body = RoleMappingView), (status = 400, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn create(
    State(s): State<AppState>,
    token: Token,
    Body(body): Body<NewMapping>,
) -> ApiResult<(StatusCode, Json<RoleMappingView>)> {
    let caller = token.at_least(Role::Admin)?;
    let view = s.services.roles.add(&caller, &body.provider_id, &body.group, body.role.as_str(), body.anyway).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(put, path = "/role-mappings/{id}", tag = "Role mappings", request_body = MappingRole,
    responses((status = 200, body = RoleMappingView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn update(
    State(s): State<AppState>,
    token: Token,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(body): Body<MappingRole>,
) -> ApiResult<Response> {
    let caller = token.at_least(Role::Admin)?;
    check_if_match(&headers, &etag_of(&find(&s, &id).await?))?;
    s.services.roles.set_role(&caller, &id, body.role.as_str()).await?;
    Ok(tagged(StatusCode::OK, &find(&s, &id).await?))
}

#[utoipa::path(delete, path = "/role-mappings/{id}", tag = "Role mappings",
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn delete(
    State(s): State<AppState>,
    token: Token,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let caller = token.at_least(Role::Admin)?;
    check_if_match(&headers, &etag_of(&find(&s, &id).await?))?;
    s.services.roles.remove(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
