//! Management API: users, groups, memberships, app assignments (okta-api.md §1, §3, §4).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use std::convert::Infallible;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::errors::OktaError;
use crate::filter::{json_val, Attrs, Dialect, Expr, Val, GROUP_FILTER, GROUP_SEARCH, USER_FILTER, USER_SEARCH};
use crate::fixture::{GroupType, UserStatus};
use crate::resource::{authorization, request_urls, validate, ResourceError, Scheme};
use crate::state::{AppState, Server};
use crate::store::{range_after, Group, Store, User};
use crate::switches::{LimitOverMax, ResourceErrorBody};
use crate::util::format_ts;

// ---------- authentication ----------

/// Who is calling.
pub(crate) enum Principal {
    /// An SSWS API token: the rights of the admin who made it.
    ApiToken,
    /// An OAuth access token from the org server.
    OAuth { admin_role: bool },
}

/// One Management API request, taken apart once for every handler: who asks (headers), how
/// (method, path) and for what (query).
pub(crate) struct Call {
    st: Arc<AppState>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    q: Query,
}

impl FromRequestParts<Arc<AppState>> for Call {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, st: &Arc<AppState>) -> Result<Call, Infallible> {
        Ok(Call {
            st: st.clone(),
            headers: parts.headers.clone(),
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            q: Query::new(parts.uri.query().map(str::to_owned)),
        })
    }
}

impl Call {
    fn path(&self) -> &str {
        self.uri.path()
    }

    /// A page of `items` with Okta's `Link` headers.
    fn list(&self, items: Vec<Value>, next: Option<&str>, limit: usize) -> Result<Response, Response> {
        Ok(json_list(items, links(&self.st, self.path(), &self.q, next, limit)))
    }
}

fn www_authenticate(
    st: &AppState,
    scheme: Scheme,
    scope: &str,
    error: &str,
    description: &str,
    resource: &str,
) -> String {
    let realm = st.realm();
    let algs = if scheme == Scheme::DPoP { format!("algs=\"{}\", ", crate::dpop::DPOP_ALGS) } else { String::new() };
    format!(
        "{} {algs}authorization_uri=\"{realm}/oauth2/v1/authorize\", realm=\"{realm}\", scope=\"{scope}\", error=\"{error}\", error_description=\"{description}\", resource=\"{resource}\"",
        scheme.as_str()
    )
}

fn resource_error(call: &Call, scope: &str, e: ResourceError) -> Response {
    let sw = call.st.switches();
    let challenge = www_authenticate(&call.st, e.scheme, scope, e.error, &e.description, call.path());
    let mut resp = match e.status {
        StatusCode::UNAUTHORIZED if sw.invalid_token_body == ResourceErrorBody::Okta => {
            OktaError::invalid_token().into_response()
        }
        StatusCode::BAD_REQUEST => {
            (StatusCode::BAD_REQUEST, axum::Json(json!({"error": e.error, "error_description": e.description})))
                .into_response()
        }
        status => status.into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

/// Authenticates and checks that the caller holds one of `scopes` (the first is reported).
fn authorize(call: &Call, scopes: &[&str]) -> Result<Principal, Response> {
    let st = &*call.st;
    let needed = scopes.first().copied().unwrap_or_default();
    let Some((scheme, cred)) = authorization(&call.headers) else {
        return Err(OktaError::invalid_session().into_response());
    };
    let principal = match scheme.as_str() {
        "ssws" => {
            if st.store().api_tokens.contains_key(&cred) {
                Principal::ApiToken
            } else {
                return Err(OktaError::invalid_token().into_response());
            }
        }
        "bearer" | "dpop" => {
            let scheme = if scheme == "dpop" { Scheme::DPoP } else { Scheme::Bearer };
            let urls = request_urls(st, &call.headers, call.path());
            let record = validate(st, &call.headers, scheme, &cred, call.method.as_str(), &urls)
                .map_err(|e| resource_error(call, needed, e))?;
            if record.server != Server::Org {
                return Err(resource_error(
                    call,
                    needed,
                    ResourceError::invalid_token("The access token provided is not intended for Okta.", scheme),
                ));
            }
            let admin_role = st.store().service_apps.get(&record.client_id).is_some_and(|a| a.admin_role);
            let ok = |s: &str| {
                record.scopes.iter().any(|g| g == s)
                    || (st.switches().manage_implies_read
                        && s.ends_with(".read")
                        && record.scopes.iter().any(|g| *g == s.replace(".read", ".manage")))
            };
            if !scopes.iter().any(|s| ok(s)) {
                let mut resp = match st.switches().insufficient_scope_body {
                    ResourceErrorBody::Empty => StatusCode::FORBIDDEN.into_response(),
                    ResourceErrorBody::Okta => OktaError::no_permission().into_response(),
                };
                let challenge = www_authenticate(
                    st,
                    scheme,
                    needed,
                    "insufficient_scope",
                    "The access token provided does not contain the required scopes.",
                    call.path(),
                );
                if let Ok(v) = HeaderValue::from_str(&challenge) {
                    resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
                return Err(resp);
            }
            Principal::OAuth { admin_role }
        }
        _ => return Err(OktaError::invalid_session().into_response()),
    };
    if let Principal::OAuth { admin_role: false } = principal {
        return Err(OktaError::no_permission().into_response());
    }
    Ok(principal)
}

const USERS_READ: &[&str] = &["okta.users.read"];
const GROUPS_READ: &[&str] = &["okta.groups.read"];
const APPS_READ: &[&str] = &["okta.apps.read"];

// ---------- paging ----------

struct Query {
    pairs: Vec<(String, String)>,
    raw: Option<String>,
}

impl Query {
    fn new(raw: Option<String>) -> Query {
        let pairs = url::form_urlencoded::parse(raw.as_deref().unwrap_or_default().as_bytes()).into_owned().collect();
        Query { pairs, raw }
    }
    fn get(&self, k: &str) -> Option<&str> {
        self.pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }
    fn limit(&self, st: &AppState, default: usize, max: usize) -> Result<usize, OktaError> {
        let Some(raw) = self.get("limit") else {
            return Ok(default);
        };
        let n: usize = raw.parse().map_err(|_| OktaError::invalid_paging())?;
        if n == 0 {
            return Err(OktaError::invalid_paging());
        }
        if n > max {
            return match st.switches().limit_over_max {
                LimitOverMax::Cap => Ok(max),
                LimitOverMax::Reject => Err(OktaError::invalid_paging()),
            };
        }
        Ok(n)
    }
}

/// `Link` lines: `self` repeats the request; `next` has every original parameter plus `after`.
fn links(st: &AppState, path: &str, q: &Query, next_after: Option<&str>, limit: usize) -> Vec<HeaderValue> {
    let mut out = Vec::new();
    let self_url = match q.raw.as_deref().filter(|r| !r.is_empty()) {
        Some(r) => format!("{}{path}?{r}", st.base_url),
        None => format!("{}{path}", st.base_url),
    };
    if let Ok(v) = HeaderValue::from_str(&format!("<{self_url}>; rel=\"self\"")) {
        out.push(v);
    }
    if let Some(after) = next_after {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        ser.append_pair("after", after);
        let mut has_limit = false;
        for (k, v) in q.pairs.iter().filter(|(k, _)| k != "after") {
            has_limit |= k == "limit";
            ser.append_pair(k, v);
        }
        if !has_limit {
            ser.append_pair("limit", &limit.to_string());
        }
        let origin = st.switches().next_link_origin.clone();
        let origin = if origin.is_empty() { st.base_url.clone() } else { origin.trim_end_matches('/').to_owned() };
        if let Ok(v) = HeaderValue::from_str(&format!("<{origin}{path}?{}>; rel=\"next\"", ser.finish())) {
            out.push(v);
        }
    }
    out
}

fn json_list(items: Vec<Value>, link_values: Vec<HeaderValue>) -> Response {
    let mut r = (StatusCode::OK, axum::Json(Value::Array(items))).into_response();
    for l in link_values {
        r.headers_mut().append(header::LINK, l);
    }
    r
}

/// The first `limit` items after the cursor that pass `keep`, and the cursor for the next page.
fn page<'a, T: 'a>(
    iter: impl Iterator<Item = (&'a String, &'a T)>,
    limit: usize,
    mut keep: impl FnMut(&T) -> bool,
) -> (Vec<&'a T>, Option<String>) {
    let mut out = Vec::new();
    let mut last: Option<&String> = None;
    for (id, item) in iter {
        if !keep(item) {
            continue;
        }
        if out.len() == limit {
            return (out, last.cloned());
        }
        last = Some(id);
        out.push(item);
    }
    (out, None)
}

// ---------- rendering ----------

fn ts_opt(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |m| Value::from(format_ts(m)))
}

/// Lifecycle links valid in each status (okta-api.md §4.7); lists carry only `self`.
fn lifecycle_links(base: &str, u: &User) -> Vec<(&'static str, String, bool)> {
    let lc = |op: &str| format!("{base}/api/v1/users/{}/lifecycle/{op}", u.id);
    let mut v: Vec<(&'static str, String, bool)> = Vec::new();
    let mut push = |name: &'static str, href: String| v.push((name, href, true));
    match u.status {
        UserStatus::Staged => {
            push("activate", lc("activate"));
            push("deactivate", lc("deactivate"));
        }
        UserStatus::Provisioned => {
            push("reactivate", lc("reactivate"));
            push("deactivate", lc("deactivate"));
        }
        UserStatus::Active | UserStatus::Recovery | UserStatus::PasswordExpired => {
            push("suspend", lc("suspend"));
            push("resetPassword", lc("reset_password"));
            push("expirePassword", lc("expire_password"));
            push("forgotPassword", format!("{base}/api/v1/users/{}/credentials/forgot_password", u.id));
            push(
                "changeRecoveryQuestion",
                format!("{base}/api/v1/users/{}/credentials/change_recovery_question", u.id),
            );
            push("changePassword", format!("{base}/api/v1/users/{}/credentials/change_password", u.id));
            push("resetFactors", lc("reset_factors"));
            push("deactivate", lc("deactivate"));
        }
        UserStatus::LockedOut => {
            push("unlock", lc("unlock"));
            push("resetPassword", lc("reset_password"));
            push("deactivate", lc("deactivate"));
        }
        UserStatus::Suspended => {
            push("unsuspend", lc("unsuspend"));
            push("deactivate", lc("deactivate"));
        }
        UserStatus::Deprovisioned => push("activate", lc("activate")),
    }
    v
}

pub(crate) fn user_json(base: &str, type_id: &str, u: &User, full_links: bool) -> Value {
    let mut links = Map::new();
    links.insert("self".into(), json!({ "href": format!("{base}/api/v1/users/{}", u.id) }));
    if full_links {
        for (name, href, post) in lifecycle_links(base, u) {
            let mut l = json!({ "href": href });
            if post {
                l["method"] = Value::from("POST");
            }
            links.insert(name.into(), l);
        }
        links.insert("schema".into(), json!({ "href": format!("{base}/api/v1/meta/schemas/user/{type_id}") }));
        links.insert("type".into(), json!({ "href": format!("{base}/api/v1/meta/types/user/{type_id}") }));
    }
    json!({
        "id": u.id,
        "status": u.status.as_str(),
        "created": format_ts(u.created),
        "activated": ts_opt(u.activated),
        "statusChanged": ts_opt(u.status_changed),
        "lastLogin": ts_opt(u.last_login),
        "lastUpdated": format_ts(u.last_updated),
        "passwordChanged": ts_opt(u.password_changed),
        "type": { "id": type_id },
        "profile": u.profile,
        "credentials": { "password": {}, "provider": { "type": "OKTA", "name": "OKTA" } },
        "_links": links,
    })
}

fn group_json(base: &str, store: &Store, g: &Group, expand_stats: bool) -> Value {
    let mut links = json!({
        "logo": [
            {"name": "medium", "href": format!("{base}/img/logos/groups/okta-medium.png"), "type": "image/png"},
            {"name": "large", "href": format!("{base}/img/logos/groups/okta-large.png"), "type": "image/png"}
        ],
        "users": { "href": format!("{base}/api/v1/groups/{}/users", g.id) },
        "apps": { "href": format!("{base}/api/v1/groups/{}/apps", g.id) },
    });
    let mut v = json!({
        "id": g.id,
        "created": format_ts(g.created),
        "lastUpdated": format_ts(g.last_updated),
        "lastMembershipUpdated": format_ts(g.last_membership_updated),
        "objectClass": ["okta:user_group"],
        "type": g.group_type.as_str(),
        "profile": g.profile,
    });
    if let (GroupType::AppGroup, Some(src)) = (g.group_type, &g.source) {
        v["source"] = json!({ "id": src });
        links["source"] = json!({ "href": format!("{base}/api/v1/apps/{src}") });
    }
    v["_links"] = links;
    if expand_stats {
        v["_embedded"] = json!({ "stats": {
            "usersCount": store.member_count(&g.id),
            "appsCount": store.apps_of_group(&g.id),
            "groupPushMappingsCount": 0,
            "hasAdminPrivilege": false,
        }});
    }
    v
}

struct UserAttrs<'a>(&'a User, &'a str);

impl Attrs for UserAttrs<'_> {
    fn attr(&self, path: &str) -> Val<'_> {
        let u = self.0;
        match path {
            "id" => Val::Str(Cow::Borrowed(&u.id)),
            "status" => Val::Str(Cow::Borrowed(u.status.as_str())),
            "created" => Val::Time(u.created),
            "activated" => u.activated.map_or(Val::Missing, Val::Time),
            "statusChanged" => u.status_changed.map_or(Val::Missing, Val::Time),
            "lastUpdated" => Val::Time(u.last_updated),
            "type.id" => Val::Str(Cow::Borrowed(self.1)),
            p => match p.strip_prefix("profile.") {
                Some(k) => json_val(u.profile.get(k)),
                None => Val::Missing,
            },
        }
    }
}

struct GroupAttrs<'a>(&'a Group);

impl Attrs for GroupAttrs<'_> {
    fn attr(&self, path: &str) -> Val<'_> {
        let g = self.0;
        match path {
            "id" => Val::Str(Cow::Borrowed(&g.id)),
            "type" => Val::Str(Cow::Borrowed(g.group_type.as_str())),
            "created" => Val::Time(g.created),
            "lastUpdated" => Val::Time(g.last_updated),
            "lastMembershipUpdated" => Val::Time(g.last_membership_updated),
            "source.id" => g.source.as_deref().map_or(Val::Missing, |s| Val::Str(Cow::Borrowed(s))),
            p => match p.strip_prefix("profile.") {
                Some(k) => json_val(g.profile.get(k)),
                None => Val::Missing,
            },
        }
    }
}

fn expression(
    q: &Query,
    filter: &'static Dialect,
    search: &'static Dialect,
) -> Result<Option<(Expr, &'static Dialect)>, OktaError> {
    match (q.get("filter"), q.get("search"), q.get("q")) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => Err(OktaError::search_and_filter()),
        (Some(f), None, None) => filter.parse(f).map(|e| Some((e, filter))).map_err(|_| OktaError::invalid_search()),
        (None, Some(s), None) => search.parse(s).map(|e| Some((e, search))).map_err(|_| OktaError::invalid_search()),
        _ => Ok(None),
    }
}

fn err(e: OktaError) -> Response {
    e.into_response()
}

// ---------- handlers ----------

pub(crate) async fn list_users(call: Call) -> Result<Response, Response> {
    let (st, q) = (&call.st, &call.q);
    authorize(&call, USERS_READ)?;
    let expr = expression(q, &USER_FILTER, &USER_SEARCH).map_err(err)?;
    let store = st.store();
    let type_id = store.org.user_type_id.clone();
    let base = &st.base_url;

    if let Some(term) = q.get("q") {
        // Simple prefix match, not paginated, DEPROVISIONED left out (okta-api.md §4.2).
        let limit = q.limit(st, 10, 200).map_err(err)?;
        let term = term.to_lowercase();
        let hit = |u: &User| {
            u.status != UserStatus::Deprovisioned
                && ["firstName", "lastName", "email"]
                    .iter()
                    .any(|k| u.profile_str(k).is_some_and(|v| v.to_lowercase().starts_with(&term)))
        };
        let items: Vec<Value> =
            store.users.values().filter(|u| hit(u)).take(limit).map(|u| user_json(base, &type_id, u, false)).collect();
        return call.list(items, None, limit);
    }

    let limit = q.limit(st, 200, 200).map_err(err)?;
    let (users, next) = page(range_after(&store.users, q.get("after")), limit, |u: &User| match &expr {
        Some((e, dialect)) => dialect.matches(e, &UserAttrs(u, &type_id)),
        None => u.status != UserStatus::Deprovisioned,
    });
    let items = users.into_iter().map(|u| user_json(base, &type_id, u, false)).collect();
    call.list(items, next.as_deref(), limit)
}

pub(crate) async fn get_user(call: Call, Path(id): Path<String>) -> Result<Response, Response> {
    let st = &call.st;
    authorize(&call, USERS_READ)?;
    let store = st.store();
    match store.find_user(&id) {
        Some(u) => Ok(axum::Json(user_json(&st.base_url, &store.org.user_type_id, u, true)).into_response()),
        None => Err(err(OktaError::not_found(&id, "User"))),
    }
}

pub(crate) async fn user_groups(call: Call, Path(id): Path<String>) -> Result<Response, Response> {
    let (st, q) = (&call.st, &call.q);
    authorize(&call, USERS_READ)?;
    let store = st.store();
    let Some(user) = store.find_user(&id) else {
        return Err(err(OktaError::not_found(&id, "User")));
    };
    let ids = store.groups_of(&user.id);
    let groups: Vec<(&String, &Group)> = ids.iter().filter_map(|g| store.groups.get_key_value(g)).collect();
    if st.switches().user_groups_paged {
        let limit = q.limit(st, 200, 10_000).map_err(err)?;
        let after = q.get("after");
        let iter = groups.into_iter().filter(|(k, _)| after.is_none_or(|a| k.as_str() > a));
        let (page_items, next) = page(iter, limit, |_| true);
        let items = page_items.into_iter().map(|g| group_json(&st.base_url, &store, g, false)).collect();
        return call.list(items, next.as_deref(), limit);
    }
    // Unpaged by default (okta-api.md §4.4, §8.5): `limit` accepted and ignored, only `self`.
    let items = groups.into_iter().map(|(_, g)| group_json(&st.base_url, &store, g, false)).collect();
    call.list(items, None, 0)
}

pub(crate) async fn list_groups(call: Call) -> Result<Response, Response> {
    let (st, q) = (&call.st, &call.q);
    authorize(&call, GROUPS_READ)?;
    let expr = expression(q, &GROUP_FILTER, &GROUP_SEARCH).map_err(err)?;
    let stats = q.get("expand").is_some_and(|e| e.split(',').any(|x| x == "stats"));
    let store = st.store();
    let base = &st.base_url;

    if let Some(term) = q.get("q") {
        // Name prefix, exact matches first, no paging (okta-api.md §4.5).
        let limit = q.limit(st, 300, 10_000).map_err(err)?;
        let term = term.to_lowercase();
        let mut hits: Vec<&Group> =
            store.groups.values().filter(|g| g.name().to_lowercase().starts_with(&term)).collect();
        hits.sort_by_key(|g| g.name().to_lowercase() != term);
        let items = hits.into_iter().take(limit).map(|g| group_json(base, &store, g, stats)).collect();
        return call.list(items, None, limit);
    }

    let default = st.switches().groups_default_limit.max(1) as usize;
    let limit = q.limit(st, default, 10_000).map_err(err)?;
    if st.switches().empty_group_list {
        return call.list(Vec::new(), None, limit);
    }
    let (groups, next) = page(range_after(&store.groups, q.get("after")), limit, |g: &Group| match &expr {
        Some((e, dialect)) => dialect.matches(e, &GroupAttrs(g)),
        None => true,
    });
    let items = groups.into_iter().map(|g| group_json(base, &store, g, stats)).collect();
    call.list(items, next.as_deref(), limit)
}

fn group_not_found(st: &AppState, id: &str) -> Response {
    err(OktaError::not_found(id, &st.switches().group_not_found_type))
}

pub(crate) async fn get_group(call: Call, Path(id): Path<String>) -> Result<Response, Response> {
    let (st, q) = (&call.st, &call.q);
    authorize(&call, GROUPS_READ)?;
    let stats = q.get("expand").is_some_and(|e| e.split(',').any(|x| x == "stats"));
    let store = st.store();
    match store.groups.get(&id) {
        Some(g) => Ok(axum::Json(group_json(&st.base_url, &store, g, stats)).into_response()),
        None => Err(group_not_found(st, &id)),
    }
}

pub(crate) async fn group_users(call: Call, Path(id): Path<String>) -> Result<Response, Response> {
    let (st, q) = (&call.st, &call.q);
    authorize(&call, GROUPS_READ)?;
    let limit = q.limit(st, 1000, 10_000).map_err(err)?;
    let store = st.store();
    if !store.groups.contains_key(&id) || st.switches().group_members_not_found {
        return Err(group_not_found(st, &id));
    }
    let (users, more) = store.members_page(&id, q.get("after"), limit);
    let next = if more { users.last().map(|u| u.id.clone()) } else { None };
    let type_id = &store.org.user_type_id;
    let items = users.into_iter().map(|u| user_json(&st.base_url, type_id, u, false)).collect();
    call.list(items, next.as_deref(), limit)
}

/// The start of both app listings: the caller may read apps, the page size is allowed, the
/// app exists.
fn app_listing(call: &Call, id: &str, default: usize, max: usize) -> Result<usize, Response> {
    authorize(call, APPS_READ)?;
    let limit = call.q.limit(&call.st, default, max).map_err(err)?;
    if !call.st.store().app_exists(id) {
        return Err(err(OktaError::not_found(id, "AppInstance")));
    }
    Ok(limit)
}

pub(crate) async fn app_users(call: Call, Path(id): Path<String>) -> Result<Response, Response> {
    let (st, q) = (&call.st, &call.q);
    let limit = app_listing(&call, &id, 50, 500)?;
    let store = st.store();
    let embed = q.get("expand").is_some_and(|e| e == "user");
    let base = &st.base_url;
    let (rows, more) = store.app_users_page(&id, q.get("after"), limit);
    let next = if more { rows.last().map(|(u, _, _)| u.id.clone()) } else { None };
    let items = rows
        .into_iter()
        .map(|(u, scope, assigned)| {
            let mut v = json!({
                "id": u.id,
                "externalId": null,
                "created": format_ts(assigned),
                "lastUpdated": format_ts(assigned.max(u.last_updated)),
                "scope": scope,
                "status": if u.status == UserStatus::Deprovisioned { "INACTIVE" } else { "ACTIVE" },
                "statusChanged": format_ts(assigned),
                "passwordChanged": null,
                "syncState": "DISABLED",
                "credentials": { "userName": u.login() },
                "profile": {},
                "_links": {
                    "app": { "href": format!("{base}/api/v1/apps/{id}") },
                    "user": { "href": format!("{base}/api/v1/users/{}", u.id) },
                },
            });
            if embed {
                v["_embedded"] = json!({ "user": user_json(base, &store.org.user_type_id, u, false) });
            }
            v
        })
        .collect();
    call.list(items, next.as_deref(), limit)
}

pub(crate) async fn app_groups(call: Call, Path(id): Path<String>) -> Result<Response, Response> {
    let (st, q) = (&call.st, &call.q);
    let limit = app_listing(&call, &id, 20, 200)?;
    let store = st.store();
    let embed = q.get("expand").is_some_and(|e| e == "group");
    let base = &st.base_url;
    let empty = std::collections::BTreeMap::new();
    let assigned = store.app_group_assignments(&id).unwrap_or(&empty);
    let priorities: HashMap<&String, usize> = assigned.keys().enumerate().map(|(i, k)| (k, i)).collect();
    let mut rows: Vec<(&String, &i64)> = range_after(assigned, q.get("after")).take(limit + 1).collect();
    let next = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|(k, _)| (*k).clone())
    } else {
        None
    };
    let items = rows
        .into_iter()
        .filter_map(|(gid, at)| {
            let g = store.groups.get(gid)?;
            let mut v = json!({
                "id": gid,
                "lastUpdated": format_ts(*at),
                "priority": priorities.get(gid).copied().unwrap_or(0),
                "profile": {},
                "_links": {
                    "app": { "href": format!("{base}/api/v1/apps/{id}") },
                    "group": { "href": format!("{base}/api/v1/groups/{gid}") },
                },
            });
            if embed {
                v["_embedded"] = json!({ "group": group_json(base, &store, g, false) });
            }
            Some(v)
        })
        .collect();
    call.list(items, next.as_deref(), limit)
}

/// Unknown `/api/v1/*` paths.
pub(crate) async fn not_found() -> Response {
    err(OktaError::path_not_found())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_reports_the_last_id_only_when_more_items_remain() {
        let m: std::collections::BTreeMap<String, u32> = (0..5).map(|i| (format!("k{i}"), i)).collect();
        let (items, next) = page(m.iter(), 2, |_| true);
        assert_eq!(items, vec![&0, &1]);
        assert_eq!(next.as_deref(), Some("k1"));
        let (items, next) = page(range_after(&m, Some("k2")), 2, |_| true);
        assert_eq!(items, vec![&3, &4]);
        assert_eq!(next, None);
        let (items, next) = page(m.iter(), 10, |v| v % 2 == 0);
        assert_eq!(items, vec![&0, &2, &4]);
        assert_eq!(next, None);
    }
}
