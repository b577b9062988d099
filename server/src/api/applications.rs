//! `/api/v1/applications` and their ordered policies.

use axum::{
    extract::{Path, State},
    response::Response,
    Json,
};
use http::{HeaderMap, StatusCode};
use portcullis_domain::{
    policies::{Application, ApplicationInput, Policy, PolicyInput},
    Role,
};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{
    extract::{check_if_match, etag_of, page_of, tagged, Body, Query, Token},
    problem::{ApiResult, Problem},
    Page, PageQuery,
};
use crate::AppState;
use portcullis_types::api::ProblemCode;

#[utoipa::path(get, path = "/applications", tag = "Applications", params(PageQuery),
    responses((status = 200, body = Page<Application>)))]
pub async fn list(
    State(s): State<AppState>,
    token: Token,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<Page<Application>>> {
    token.at_least(Role::Viewer)?;
    let (items, next_cursor) = page_of(s.services.policies.applications().await?, q.cursor.as_deref(), q.limit)?;
    Ok(Json(Page { items, next_cursor }))
}

#[utoipa::path(get, path = "/applications/{id}", tag = "Applications",
    responses((status = 200, body = Application, headers(("ETag" = String))), (status = 404, body = Problem)))]
pub async fn get(State(s): State<AppState>, token: Token, Path(id): Path<String>) -> ApiResult<Response> {
    token.at_least(Role::Viewer)?;
    Ok(tagged(StatusCode::OK, &s.services.policies.application(&id).await?))
}

#[utoipa::path(post, path = "/applications", tag = "Applications", request_body = ApplicationInput,
    responses((status = 201, body = Application), (status = 400, body = Problem), (status = 409, body = Problem)))]
pub async fn create(
    State(s): State<AppState>,
    token: Token,
    Body(body): Body<ApplicationInput>,
) -> ApiResult<(StatusCode, Json<Application>)> {
    let caller = token.at_least(Role::Editor)?;
    let app = s.services.policies.create_application(&caller.actor, caller.ip(), &body).await?;
    Ok((StatusCode::CREATED, Json(app)))
}

#[utoipa::path(put, path = "/applications/{id}", tag = "Applications", request_body = ApplicationInput,
    responses((status = 200, body = Application), (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn update(
    State(s): State<AppState>,
    token: Token,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(body): Body<ApplicationInput>,
) -> ApiResult<Response> {
    let caller = token.at_least(Role::Editor)?;
    check_if_match(&headers, &etag_of(&s.services.policies.application(&id).await?))?;
    let app = s.services.policies.update_application(&caller.actor, caller.ip(), &id, &body).await?;
    Ok(tagged(StatusCode::OK, &app))
}

#[utoipa::path(delete, path = "/applications/{id}", tag = "Applications",
    responses((status = 204), (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn delete(
    State(s): State<AppState>,
    token: Token,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let caller = token.at_least(Role::Editor)?;
    check_if_match(&headers, &etag_of(&s.services.policies.application(&id).await?))?;
    s.services.policies.delete_application(&caller.actor, caller.ip(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/applications/{id}/policies", tag = "Policies", params(PageQuery),
    responses((status = 200, description = "In the administrator's order", body = Page<Policy>), (status = 404, body = Problem)))]
pub async fn policies(
    State(s): State<AppState>,
    token: Token,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<Page<Policy>>> {
    token.at_least(Role::Viewer)?;
    s.services.policies.application(&id).await?;
    let (items, next_cursor) = page_of(s.services.policies.policies(&id).await?, q.cursor.as_deref(), q.limit)?;
    Ok(Json(Page { items, next_cursor }))
}

#[utoipa::path(post, path = "/applications/{id}/policies", tag = "Policies", request_body = PolicyInput,
    responses((status = 201, description = "Added last", body = Policy), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn create_policy(
    State(s): State<AppState>,
    token: Token,
    Path(id): Path<String>,
    Body(body): Body<PolicyInput>,
) -> ApiResult<(StatusCode, Json<Policy>)> {
    let caller = token.at_least(Role::Editor)?;
    let policy = s.services.policies.create_policy(&caller.actor, caller.ip(), &id, &body).await?;
    Ok((StatusCode::CREATED, Json(policy)))
}

#[utoipa::path(get, path = "/policies/{id}", tag = "Policies",
    responses((status = 200, body = Policy, headers(("ETag" = String))), (status = 404, body = Problem)))]
pub async fn get_policy(State(s): State<AppState>, token: Token, Path(id): Path<String>) -> ApiResult<Response> {
    token.at_least(Role::Viewer)?;
    Ok(tagged(StatusCode::OK, &s.services.policies.policy(&id).await?))
}

#[utoipa::path(put, path = "/policies/{id}", tag = "Policies", request_body = PolicyInput,
    responses((status = 200, body = Policy), (status = 400, body = Problem), (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn update_policy(
    State(s): State<AppState>,
    token: Token,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(body): Body<PolicyInput>,
) -> ApiResult<Response> {
    let caller = token.at_least(Role::Editor)?;
    check_if_match(&headers, &etag_of(&s.services.policies.policy(&id).await?))?;
    let policy = s.services.policies.update_policy(&caller.actor, caller.ip(), &id, &body).await?;
    Ok(tagged(StatusCode::OK, &policy))
}

#[utoipa::path(delete, path = "/policies/{id}", tag = "Policies",
    responses((status = 204), (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn delete_policy(
    State(s): State<AppState>,
    token: Token,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let caller = token.at_least(Role::Editor)?;
    check_if_match(&headers, &etag_of(&s.services.policies.policy(&id).await?))?;
    s.services.policies.delete_policy(&caller.actor, caller.ip(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Where the policy goes in its application's order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveTo {
    /// 1-based position among the application's policies.
    pub position: u32,
}

#[utoipa::path(post, path = "/policies/{id}/move", tag = "Policies", request_body = MoveTo,
    responses((status = 200, description = "The application's policies in their new order", body = Vec<Policy>),
        (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn move_policy(
    State(s): State<AppState>,
    token: Token,
    Path(id): Path<String>,
    Body(body): Body<MoveTo>,
) -> ApiResult<Json<Vec<Policy>>> {
    let caller = token.at_least(Role::Editor)?;
    let policy = s.services.policies.policy(&id).await?;
    let mut ids: Vec<String> =
        s.services.policies.policies(&policy.application_id).await?.into_iter().map(|p| p.id).collect();
    let count = ids.len() as u32;
    if body.position == 0 || body.position > count {
        return Err(Problem::new(ProblemCode::Invalid, format!("position must be 1 to {count}.")));
    }
    ids.retain(|p| *p != id);
    ids.insert(body.position as usize - 1, id);
    let order = s.services.policies.reorder_policies(&caller.actor, caller.ip(), &policy.application_id, &ids).await?;
    Ok(Json(order))
}
