//! `/api/v1/directory`: the synchronized users and groups (read and search), decisions for a
//! person on an application, and the audit log.

use axum::{
    extract::{Path, State},
    Json,
};
use portcullis_domain::{
    audit::AuditFilter,
    policies::{service::TestPerson, Decision},
    store::{DirectoryGroupView, DirectoryQuery, DirectorySort, DirectoryUserView},
    Role,
};
use portcullis_types::api::ProblemCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    extract::{decode_cursor, encode_cursor, limit, offset_from, Body, Query, Token},
    problem::{ApiResult, Problem},
    Page,
};
use crate::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DirectoryParams {
    /// Part of a name, email or login (users) or of a name (groups), any case.
    pub search: Option<String>,
    /// Users only: `active`, `disabled` or `kept`.
    pub state: Option<String>,
    pub provider_id: Option<String>,
    /// A column (`name`, `email`, `status`, `state`, `provider`, `members`, `updated`), `-` first for descending.
    pub sort: Option<String>,
    /// 1 to 500; default 50.
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

fn query(p: &DirectoryParams) -> Result<DirectoryQuery, Problem> {
    if let Some(state) = p.state.as_deref().filter(|s| !s.is_empty()) {
        if !matches!(state, "active" | "disabled" | "kept") {
            return Err(Problem::new(ProblemCode::BadQuery, "state must be active, disabled or kept."));
        }
    }
    Ok(DirectoryQuery {
        provider_id: p.provider_id.clone().filter(|s| !s.is_empty()),
        search: p.search.clone().filter(|s| !s.is_empty()),
        state: p.state.clone().filter(|s| !s.is_empty()),
        sort: DirectorySort::parse(p.sort.as_deref().unwrap_or("")),
        offset: u32::try_from(offset_from(p.cursor.as_deref())?).unwrap_or(u32::MAX),
        limit: limit(p.limit)?,
    })
}

/// A page and the total across pages.
#[derive(Debug, Serialize, ToSchema)]
pub struct CountedPage<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub next_cursor: Option<String>,
}

fn counted<T>(items: Vec<T>, total: i64, q: &DirectoryQuery) -> CountedPage<T> {
    let end = i64::from(q.offset) + items.len() as i64;
    let next_cursor = (end < total && !items.is_empty()).then(|| encode_cursor(&format!("o:{end}")));
    CountedPage { items, total, next_cursor }
}

#[utoipa::path(get, path = "/directory/users", tag = "Directory", params(DirectoryParams),
    responses((status = 200, body = CountedPage<DirectoryUserView>), (status = 400, body = Problem)))]
pub async fn users(
    State(s): State<AppState>,
    token: Token,
    Query(p): Query<DirectoryParams>,
) -> ApiResult<Json<CountedPage<DirectoryUserView>>> {
    token.at_least(Role::Viewer)?;
    let q = query(&p)?;
    let page = s.services.directory.users(&q).await.map_err(Problem::internal)?;
    Ok(Json(counted(page.items, page.total, &q)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserDetail {
    pub user: DirectoryUserView,
    pub groups: Vec<DirectoryGroupView>,
}

#[utoipa::path(get, path = "/directory/users/{id}", tag = "Directory",
    responses((status = 200, body = UserDetail), (status = 404, body = Problem)))]
pub async fn user(State(s): State<AppState>, token: Token, Path(id): Path<String>) -> ApiResult<Json<UserDetail>> {
    token.at_least(Role::Viewer)?;
    let (user, groups) = s
        .services
        .directory
        .user(&id)
        .await
        .map_err(Problem::internal)?
        .ok_or_else(|| Problem::new(ProblemCode::NotFound, "No such directory user."))?;
    Ok(Json(UserDetail { user, groups }))
}

#[utoipa::path(get, path = "/directory/groups", tag = "Directory", params(DirectoryParams),
    responses((status = 200, body = CountedPage<DirectoryGroupView>), (status = 400, body = Problem)))]
pub async fn groups(
    State(s): State<AppState>,
    token: Token,
    Query(p): Query<DirectoryParams>,
) -> ApiResult<Json<CountedPage<DirectoryGroupView>>> {
    token.at_least(Role::Viewer)?;
    let q = query(&DirectoryParams { state: None, ..p })?;
    let page = s.services.directory.groups(&q).await.map_err(Problem::internal)?;
    Ok(Json(counted(page.items, page.total, &q)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupDetail {
    pub group: DirectoryGroupView,
    /// The first members (up to 500), and how many there are.
    pub members: CountedPage<DirectoryUserView>,
}

#[utoipa::path(get, path = "/directory/groups/{id}", tag = "Directory",
    responses((status = 200, body = GroupDetail), (status = 404, body = Problem)))]
pub async fn group(State(s): State<AppState>, token: Token, Path(id): Path<String>) -> ApiResult<Json<GroupDetail>> {
    token.at_least(Role::Viewer)?;
    let q = DirectoryQuery { limit: 500, ..DirectoryQuery::default() };
    let (group, members) = s
        .services
        .directory
        .group(&id, &q)
        .await
        .map_err(Problem::internal)?
        .ok_or_else(|| Problem::new(ProblemCode::NotFound, "No such directory group."))?;
    Ok(Json(GroupDetail { group, members: counted(members.items, members.total, &q) }))
}

/// Whom to test on which application.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    pub application_id: String,
    /// A directory user's id, or an email that finds exactly one active user.
    pub user: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestAnswer {
    pub person: TestPerson,
    pub decision: Decision,
}

#[utoipa::path(post, path = "/decisions/test", tag = "Decisions", request_body = TestRequest,
    responses((status = 200, description = "The same explanation as the console's Test a user", body = TestAnswer),
        (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn test(
    State(s): State<AppState>,
    token: Token,
    Body(body): Body<TestRequest>,
) -> ApiResult<Json<TestAnswer>> {
    token.at_least(Role::Viewer)?;
    let person = s.services.policies.test_person(&body.user).await?;
    let decision = s.services.policies.test_user(&person.id, &body.application_id).await?;
    Ok(Json(TestAnswer { person, decision }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// An action's stable name, such as `policy.updated`.
    pub action: Option<String>,
    /// Part of who did it, any case.
    pub actor: Option<String>,
    /// Part of what it was done to, any case.
    pub target: Option<String>,
    /// First day, `YYYY-MM-DD` (UTC).
    pub from: Option<String>,
    /// Last day, inclusive.
    pub to: Option<String>,
    /// 1 to 500; default 50.
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// One entry of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: String,
    /// Epoch milliseconds.
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
    pub ip: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

#[utoipa::path(get, path = "/audit", tag = "Audit log", params(AuditParams),
    responses((status = 200, description = "Newest first", body = Page<AuditEntry>), (status = 400, body = Problem)))]
pub async fn audit(
    State(s): State<AppState>,
    token: Token,
    Query(p): Query<AuditParams>,
) -> ApiResult<Json<Page<AuditEntry>>> {
    token.at_least(Role::Viewer)?;
    let filter = AuditFilter { action: p.action, actor: p.actor, target: p.target, from: p.from, to: p.to };
    let before = decode_cursor(p.cursor.as_deref())?;
    let page = s.services.audit.page(&filter, before, limit(p.limit)?).await?;
    let items = page
        .records
        .into_iter()
        .map(|r| AuditEntry {
            details: serde_json::from_str(&r.details).unwrap_or(serde_json::Value::Null),
            id: r.id,
            at: r.at,
            actor: r.actor,
            action: r.action,
            target: r.target,
            outcome: r.outcome,
            ip: r.ip,
        })
        .collect();
    Ok(Json(Page { items, next_cursor: page.next_before.map(|b| encode_cursor(&b)) }))
}

/// `/api/v1/audit` pages by entry id; an `o:` cursor belongs to another list.
#[cfg(test)]
mod tests {
    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        let c = super::encode_cursor("o:100");
        assert_eq!(super::offset_from(Some(&c)).ok(), Some(100));
        assert!(super::offset_from(Some("%%%")).is_err());
        assert!(super::offset_from(Some(&super::encode_cursor("0193-id"))).is_err());
    }
}
