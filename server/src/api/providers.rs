//! `/api/v1/providers`: identity providers (secrets write-only), their test, sync runs and
//! sync settings. The same domain services as the console's wizard and Directory pages.

use axum::{
    extract::{Path, State},
    response::Response,
    Json,
};
use http::{HeaderMap, StatusCode};
use portcullis_domain::{
    providers::{
        service::{DirectoryInput, ProviderError, ProviderInput, ProviderView, SecretInput},
        AuthServer,
    },
    settings::Secret,
    store::{SyncRunRow, DEFAULT_SCOPES},
    sync::{Progress, SyncSettings, Trigger},
    Role,
};
use portcullis_types::{api::ProblemCode, provider::ProviderKind, provider::Report, RunKind};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    extract::{check_if_match, etag_of, page_of, tagged, Body, Query, Token},
    problem::{ApiResult, Problem},
    Page, PageQuery,
};
use crate::AppState;

/// A provider as created or replaced. Secrets are write-only: never in any answer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderBody {
    pub kind: ProviderKind,
    pub name: String,
    /// The org's URL (Okta) or the issuer (any OpenID Connect provider).
    pub base_url: String,
    pub client_id: String,
    /// Required to create; omit to keep the stored one (it must be sent again when the
    /// Base URL, authorization server or client ID change).
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Okta: `org` (default) or a custom authorization server's id, such as `default`.
    #[serde(default)]
    pub auth_server: Option<String>,
    /// Space-separated; default `openid profile email groups`.
    #[serde(default)]
    pub scopes: Option<String>,
    /// Default `groups`.
    #[serde(default)]
    pub groups_claim: Option<String>,
    #[serde(default = "yes")]
    pub pkce: bool,
    /// Whether the provider's emails count as verified; default: on for Okta.
    #[serde(default)]
    pub asserts_verified_email: Option<bool>,
    /// Directory synchronization credentials; omitted: off.
    #[serde(default)]
    pub directory: Option<DirectoryBody>,
    /// Connect the same app (issuer and client ID) a second time on purpose.
    #[serde(default)]
    pub connect_again: bool,
    /// Update only: enable or disable sign-in with it.
    #[serde(default)]
    pub enabled: Option<bool>,
}

fn yes() -> bool {
    true
}

/// How Portcullis reads the provider's directory.
#[derive(Debug, Deserialize, Serialize, ToSchema, Clone, PartialEq, Eq)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum DirectoryBody {
    Off,
    /// An Okta API service app (OAuth 2.0 client credentials with a private key).
    ServiceApp {
        client_id: String,
        /// PEM or JWK; write-only, omit to keep the stored key.
        #[serde(default, skip_serializing)]
        private_key: Option<String>,
    },
    /// An Okta API token (SSWS); write-only, omit to keep the stored token.
    ApiToken {
        #[serde(default, skip_serializing)]
        api_token: Option<String>,
    },
}

fn secret(value: &Option<String>) -> SecretInput {
    match value.as_deref().map(str::trim) {
        None | Some("") => SecretInput::Keep,
        Some(s) => SecretInput::Replace(Secret::new(s)),
    }
}

pub(super) fn input(body: &ProviderBody, dry_run: bool) -> ProviderInput {
    ProviderInput {
        kind: body.kind,
        name: body.name.clone(),
        base_url: body.base_url.clone(),
        client_id: body.client_id.clone(),
        client_secret: secret(&body.client_secret),
        auth_server: AuthServer::parse(body.auth_server.as_deref().unwrap_or("")),
        scopes: body.scopes.clone().unwrap_or_else(|| DEFAULT_SCOPES.to_string()),
        groups_claim: body.groups_claim.clone().unwrap_or_default(),
        pkce: body.pkce,
        asserts_verified_email: body.asserts_verified_email,
        directory: match &body.directory {
            None | Some(DirectoryBody::Off) => DirectoryInput::Off,
            Some(DirectoryBody::ServiceApp { client_id, private_key }) => {
                DirectoryInput::ServiceApp { client_id: client_id.clone(), private_key: secret(private_key) }
            }
            Some(DirectoryBody::ApiToken { api_token }) => DirectoryInput::ApiToken(secret(api_token)),
        },
        connect_again: body.connect_again,
        dry_run,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DryRun {
    /// Only run the checks; save nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// What a create or update answers: the provider as saved (absent for a dry run) and the report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderSaved {
    pub dry_run: bool,
    pub provider: Option<ProviderView>,
    pub report: Report,
    /// Directory synchronization's count of users, when it is set up.
    pub user_count: Option<u64>,
}

fn checks_failed(e: ProviderError) -> Problem {
    match e {
        ProviderError::ChecksFailed(report) => Problem::new(
            ProblemCode::ChecksFailed,
            format!("{}: nothing was saved. See the report's failed checks and their fixes.", report.summary()),
        )
        .with_report(serde_json::to_value(&*report).unwrap_or_default()),
        e => Problem::from_domain(e),
    }
}

#[utoipa::path(get, path = "/providers", tag = "Identity providers", params(PageQuery),
    responses((status = 200, body = Page<ProviderView>), (status = 401, body = Problem)))]
pub async fn list(
    State(s): State<AppState>,
    token: Token,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<Page<ProviderView>>> {
    token.at_least(Role::Viewer)?;
    let all = s.services.providers.list().await?;
    let (items, next_cursor) = page_of(all, q.cursor.as_deref(), q.limit)?;
    Ok(Json(Page { items, next_cursor }))
}

#[utoipa::path(get, path = "/providers/{id}", tag = "Identity providers",
    responses((status = 200, body = ProviderView, headers(("ETag" = String))), (status = 404, body = Problem)))]
pub async fn get(State(s): State<AppState>, token: Token, Path(id): Path<String>) -> ApiResult<Response> {
    token.at_least(Role::Viewer)?;
    Ok(tagged(StatusCode::OK, &s.services.providers.get(&id).await?))
}

#[utoipa::path(post, path = "/providers", tag = "Identity providers", params(DryRun), request_body = ProviderBody,
    responses((status = 201, body = ProviderSaved), (status = 200, description = "A dry run's report", body = ProviderSaved),
        (status = 422, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn create(
    State(s): State<AppState>,
    token: Token,
    Query(q): Query<DryRun>,
    Body(body): Body<ProviderBody>,
) -> ApiResult<(StatusCode, Json<ProviderSaved>)> {
    let caller = token.at_least(Role::Editor)?;
    if matches!(secret(&body.client_secret), SecretInput::Keep) {
        return Err(Problem::new(ProblemCode::Invalid, "client_secret is required to connect a provider."));
    }
    let saved = s
        .services
        .providers
        .create(&caller.actor, caller.role, caller.ip(), input(&body, q.dry_run))
        .await
        .map_err(checks_failed)?;
    let provider = if q.dry_run { None } else { Some(s.services.providers.get(&saved.id).await?) };
    let status = if q.dry_run { StatusCode::OK } else { StatusCode::CREATED };
    Ok((
        status,
        Json(ProviderSaved { dry_run: q.dry_run, provider, report: saved.report, user_count: saved.user_count }),
    ))
}

#[utoipa::path(put, path = "/providers/{id}", tag = "Identity providers", params(DryRun), request_body = ProviderBody,
    responses((status = 200, body = ProviderSaved), (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(s): State<AppState>,
    token: Token,
    Path(id): Path<String>,
    Query(q): Query<DryRun>,
    headers: HeaderMap,
    Body(body): Body<ProviderBody>,
) -> ApiResult<Response> {
    let caller = token.at_least(Role::Editor)?;
    let current = s.services.providers.get(&id).await?;
    check_if_match(&headers, &etag_of(&current))?;
    // Refused before anything is saved: half an update is worse than none.
    if body.enabled == Some(true) && !current.enabled && caller.role < Role::Admin {
        return Err(Problem::new(ProblemCode::Forbidden, "Only an Admin can enable an identity provider."));
    }
    let saved = s
        .services
        .providers
        .update(&caller.actor, caller.role, caller.ip(), &id, input(&body, q.dry_run))
        .await
        .map_err(checks_failed)?;
    if !q.dry_run {
        if let Some(enabled) = body.enabled.filter(|e| *e != current.enabled) {
            s.services.providers.set_enabled(&caller.actor, caller.role, caller.ip(), &id, enabled).await?;
        }
    }
    let provider = if q.dry_run { None } else { Some(s.services.providers.get(&id).await?) };
    Ok(tagged(
        StatusCode::OK,
        &ProviderSaved { dry_run: q.dry_run, provider, report: saved.report, user_count: saved.user_count },
    ))
}

#[utoipa::path(delete, path = "/providers/{id}", tag = "Identity providers",
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn delete(
    State(s): State<AppState>,
    token: Token,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let caller = token.at_least(Role::Editor)?;
    check_if_match(&headers, &etag_of(&s.services.providers.get(&id).await?))?;
    s.services.providers.delete(&caller.actor, caller.role, caller.ip(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/providers/{id}/test", tag = "Identity providers",
    responses((status = 200, body = Report), (status = 404, body = Problem)))]
pub async fn test(State(s): State<AppState>, token: Token, Path(id): Path<String>) -> ApiResult<Json<Report>> {
    let caller = token.at_least(Role::Editor)?;
    Ok(Json(s.services.providers.test(&caller.actor, caller.ip(), &id).await?))
}

/// Which run to start.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartSync {
    /// `full` (default), `incremental` or `dry_run`.
    #[serde(default)]
    pub kind: Option<RunKind>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncStarted {
    pub run_id: String,
}

#[utoipa::path(post, path = "/providers/{id}/sync", tag = "Directory sync", request_body = StartSync,
    responses((status = 202, body = SyncStarted), (status = 409, body = Problem), (status = 404, body = Problem)))]
pub async fn start_sync(
    State(s): State<AppState>,
    token: Token,
    Path(id): Path<String>,
    Body(body): Body<StartSync>,
) -> ApiResult<(StatusCode, Json<SyncStarted>)> {
    let caller = token.at_least(Role::Editor)?;
    let kind = body.kind.unwrap_or(RunKind::Full);
    let run_id = s.services.sync.start(&id, kind, Trigger::Manual { caller }).await?;
    Ok((StatusCode::ACCEPTED, Json(SyncStarted { run_id })))
}

/// A provider's runs, newest first, and the running one's live progress.
#[derive(Debug, Serialize, ToSchema)]
pub struct Runs {
    pub items: Vec<SyncRunRow>,
    pub next_cursor: Option<String>,
    pub progress: Option<Progress>,
}

#[utoipa::path(get, path = "/providers/{id}/sync/runs", tag = "Directory sync", params(PageQuery),
    responses((status = 200, body = Runs), (status = 404, body = Problem)))]
pub async fn runs(
    State(s): State<AppState>,
    token: Token,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<Runs>> {
    token.at_least(Role::Viewer)?;
    s.services.providers.get(&id).await?;
    let all = s.services.sync.runs(&id, 1000).await?;
    let (items, next_cursor) = page_of(all, q.cursor.as_deref(), q.limit)?;
    Ok(Json(Runs { items, next_cursor, progress: s.services.sync.progress(&id).await }))
}

#[utoipa::path(get, path = "/providers/{id}/sync/settings", tag = "Directory sync",
    responses((status = 200, body = SyncSettings, headers(("ETag" = String))), (status = 404, body = Problem)))]
pub async fn sync_settings(State(s): State<AppState>, token: Token, Path(id): Path<String>) -> ApiResult<Response> {
    token.at_least(Role::Viewer)?;
    s.services.providers.get(&id).await?;
    Ok(tagged(StatusCode::OK, &s.services.sync.settings(&id).await?))
}

#[utoipa::path(put, path = "/providers/{id}/sync/settings", tag = "Directory sync", request_body = SyncSettings,
    responses((status = 200, body = SyncSettings), (status = 400, body = Problem), (status = 403, body = Problem), (status = 412, body = Problem)))]
pub async fn save_sync_settings(
    State(s): State<AppState>,
    token: Token,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(body): Body<SyncSettings>,
) -> ApiResult<Response> {
    let caller = token.at_least(Role::Editor)?;
    s.services.providers.get(&id).await?;
    check_if_match(&headers, &etag_of(&s.services.sync.settings(&id).await?))?;
    s.services.sync.save_settings(&id, body, &caller).await?;
    Ok(tagged(StatusCode::OK, &s.services.sync.settings(&id).await?))
}
