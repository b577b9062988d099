//! `/api/v1/sync/runs/{id}`: one run, and the approval of a run held for its removals.

use axum::{
    extract::{Path, State},
    Json,
};
use portcullis_domain::{store::SyncRunRow, sync::Progress, Role};
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    extract::Token,
    problem::{ApiResult, Problem},
};
use crate::AppState;

/// A run with the live progress of its provider's running run, if it is that one.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunDetail {
    pub run: SyncRunRow,
    pub provider_name: String,
    pub progress: Option<Progress>,
}

async fn detail(s: &AppState, id: &str) -> Result<RunDetail, Problem> {
    let (run, provider_name) = s.services.sync.run_with_provider(id).await?;
    let progress = s.services.sync.progress(&run.provider_id).await.filter(|p| p.run_id == run.id);
    Ok(RunDetail { run, provider_name, progress })
}

#[utoipa::path(get, path = "/sync/runs/{id}", tag = "Directory sync",
    responses((status = 200, body = RunDetail), (status = 404, body = Problem)))]
pub async fn get(State(s): State<AppState>, token: Token, Path(id): Path<String>) -> ApiResult<Json<RunDetail>> {
    token.at_least(Role::Viewer)?;
    Ok(Json(detail(&s, &id).await?))
}

#[utoipa::path(post, path = "/sync/runs/{id}/approve", tag = "Directory sync",
    responses((status = 200, body = RunDetail), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn approve(State(s): State<AppState>, token: Token, Path(id): Path<String>) -> ApiResult<Json<RunDetail>> {
    // Approving applies removals held for review: Admins only, as in the console.
    let caller = token.at_least(Role::Admin)?;
    s.services.sync.approve(&id, &caller).await?;
    Ok(Json(detail(&s, &id).await?))
}

#[utoipa::path(post, path = "/sync/runs/{id}/discard", tag = "Directory sync",
    responses((status = 200, body = RunDetail), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn discard(State(s): State<AppState>, token: Token, Path(id): Path<String>) -> ApiResult<Json<RunDetail>> {
    let caller = token.at_least(Role::Editor)?;
    s.services.sync.discard(&id, &caller).await?;
    Ok(Json(detail(&s, &id).await?))
}
