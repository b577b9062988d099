//! `/api/v1/tokens`: API tokens, Admin only.

use axum::{
    extract::{Path, State},
    Json,
};
use http::StatusCode;
use portcullis_domain::{
    api_tokens::{NewToken, TokenView},
    Role,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    extract::{page_of, Body, Query, Token},
    problem::{ApiResult, Problem},
    Page, PageQuery,
};
use crate::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    pub name: String,
    pub role: Role,
    /// 1 to 366; default 90.
    #[serde(default)]
    pub expires_days: Option<u32>,
    /// Address ranges it may be used from (`10.0.0.0/8`, `192.0.2.7`); empty: any.
    #[serde(default)]
    pub allowed_cidrs: Vec<String>,
}

/// The token itself is in this answer only: store it now.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    pub token: String,
    #[serde(flatten)]
    pub view: TokenView,
}

#[utoipa::path(get, path = "/tokens", tag = "API tokens", params(PageQuery),
    responses((status = 200, body = Page<TokenView>), (status = 403, body = Problem)))]
pub async fn list(
    State(s): State<AppState>,
    token: Token,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<Page<TokenView>>> {
    token.at_least(Role::Admin)?;
    let (items, next_cursor) = page_of(s.services.tokens.list().await?, q.cursor.as_deref(), q.limit)?;
    Ok(Json(Page { items, next_cursor }))
}

#[utoipa::path(post, path = "/tokens", tag = "API tokens", request_body = TokenBody,
    responses((status = 201, body = CreatedToken), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn create(
    State(s): State<AppState>,
    token: Token,
    Body(body): Body<TokenBody>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let caller = token.at_least(Role::Admin)?;
    let new = NewToken {
        name: body.name,
        role: Some(body.role),
        expires_days: body.expires_days,
        allowed_cidrs: body.allowed_cidrs,
    };
    let (token, view) = s.services.tokens.create(&caller, new).await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { token, view })))
}

#[utoipa::path(delete, path = "/tokens/{prefix}", tag = "API tokens",
    params(("prefix" = String, Path, description = "The token's prefix (pcat_…) or id")),
    responses((status = 200, body = TokenView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn revoke(State(s): State<AppState>, token: Token, Path(prefix): Path<String>) -> ApiResult<Json<TokenView>> {
    let caller = token.at_least(Role::Admin)?;
    Ok(Json(s.services.tokens.revoke(&caller, &prefix).await?))
}
