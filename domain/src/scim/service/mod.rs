//! The SCIM endpoints' work, one method a request: authenticate the token, read the request
//! into a change of the directory, write it with its audit entry in one transaction, and answer
//! the resource. Sessions of a person deactivated here end before the answer is sent, so the
//! next `/verify` already refuses them.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use base64::Engine;
use serde_json::{json, Value};

mod groups;
mod users;

use groups::group_json;
use users::user_json;

use super::{
    discovery, parse_filter, Lookup, ScimError, ScimTokenError, ScimTokenView, ScimTokens, DEFAULT_COUNT, LIST_SCHEMA,
    MAX_COUNT,
};
use crate::{
    accounts::Role,
    audit::{Action, AuditLimiter, Caller, Event},
    store::{new_id, now_ms, ScimRequestRow, ScimWhere, Store, StoreError},
};

/// Requests one token may make: a burst of this many, refilled at [`RATE_PER_SECOND`].
pub const RATE_BURST: f64 = 1000.0;
pub const RATE_PER_SECOND: f64 = 100.0;
/// Deactivations are weighed against the removal threshold over this window.
pub(super) const BURST_WINDOW_MS: i64 = 10 * 60_000;

/// Where the endpoint is: the provider and the base URL locations are built on.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub provider_id: String,
    /// `{PUBLIC_URL}/scim/{provider_id}/v2`
    pub base: String,
}

impl Endpoint {
    fn user_location(&self, id: &str) -> String {
        format!("{}/Users/{id}", self.base)
    }

    fn group_location(&self, id: &str) -> String {
        format!("{}/Groups/{id}", self.base)
    }
}

/// A list request's paging and filter (RFC 7644 §3.4.2).
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub filter: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
}

/// An answer: status and body (`Location` is the body's `meta.location` on a 201).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: Option<Value>,
    /// What the provider's request log says of it.
    pub summary: String,
}

impl Answer {
    fn ok(body: Value, summary: impl Into<String>) -> Self {
        Self { status: 200, body: Some(body), summary: summary.into() }
    }
}

/// A request as the provider's log keeps it.
#[derive(Debug, Clone, Copy)]
pub struct Received<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    /// What was done, or why not.
    pub detail: &'a str,
}

/// A provider's provisioning as its page shows it.
#[derive(Debug, Clone)]
pub struct ScimStatus {
    pub enabled: bool,
    /// The deactivation alert and when it was raised.
    pub alert: Option<(String, i64)>,
    pub tokens: Vec<ScimTokenView>,
    /// Newest first.
    pub requests: Vec<ScimRequestRow>,
}

#[derive(Clone)]
pub struct ScimService {
    store: Store,
    tokens: ScimTokens,
    buckets: Arc<Mutex<HashMap<String, (f64, i64)>>>,
    refusals: AuditLimiter,
}

impl std::fmt::Debug for ScimService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScimService")
    }
}

impl From<StoreError> for ScimError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => ScimError::uniqueness(format!("There already is {what}.")),
            other => {
                tracing::error!(error = %other, "SCIM request failed in the database");
                ScimError { status: 500, scim_type: None, detail: "The request could not be stored; try again.".into() }
            }
        }
    }
}

impl ScimService {
    pub fn new(store: Store) -> Self {
        Self {
            tokens: ScimTokens::new(store.clone()),
            store,
            buckets: Default::default(),
            refusals: AuditLimiter::default(),
        }
    }

    pub fn tokens(&self) -> &ScimTokens {
        &self.tokens
    }

    /// What the provider's Provisioning (SCIM) page shows.
    pub async fn status(&self, provider_id: &str) -> Result<ScimStatus, ScimTokenError> {
        self.store.provider(provider_id).await?.ok_or(ScimTokenError::UnknownProvider)?;
        let settings = self.store.scim_settings(provider_id).await?;
        Ok(ScimStatus {
            enabled: settings.as_ref().is_some_and(|s| s.enabled),
            alert: settings.and_then(|s| s.alert.zip(s.alert_at)),
            tokens: self.tokens.list(provider_id).await?,
            requests: self.store.scim_requests(provider_id, 20).await?,
        })
    }

    /// The audit entry of a change to a provider's provisioning, once the caller may make it
    /// (Admins only: a token can create and remove people) and the provider exists.
    async fn settings_event(&self, by: &Caller, provider_id: &str) -> Result<Event, ScimTokenError> {
        if by.role < Role::Admin {
            return Err(ScimTokenError::AdminOnly);
        }
        let provider = self.store.provider(provider_id).await?.ok_or(ScimTokenError::UnknownProvider)?;
        Ok(Event::new(by.actor.clone(), Action::ScimSettingsChanged)
            .target(provider.name)
            .ip(by.ip())
            .detail("provider_id", provider_id))
    }

    /// Turns provisioning on or off.
    pub async fn set_enabled(&self, by: &Caller, provider_id: &str, enabled: bool) -> Result<(), ScimTokenError> {
        let event = self.settings_event(by, provider_id).await?.detail("enabled", enabled);
        self.store.set_scim_enabled(provider_id, enabled, &event.into_record()).await?;
        Ok(())
    }

    /// Clears the deactivation alert, once an administrator has looked.
    pub async fn dismiss_alert(&self, by: &Caller, provider_id: &str) -> Result<(), ScimTokenError> {
        let event = self.settings_event(by, provider_id).await?.detail("alert", "dismissed");
        self.store.set_scim_alert(provider_id, None, now_ms(), &event.into_record()).await?;
        Ok(())
    }

    /// The token of a request, from `Authorization: Bearer …` or as the Basic password; the
    /// provider's provisioning must be on, and the token within its rate.
    pub async fn authorize(&self, provider_id: &str, authorization: Option<&str>) -> Result<ScimTokenView, ScimError> {
        let unauthorized = || ScimError {
            status: 401,
            scim_type: None,
            detail: "A valid SCIM token is required (Authorization: Bearer <token>).".into(),
        };
        let presented = authorization.and_then(presented_token).ok_or_else(unauthorized)?;
        let token = self.tokens.authenticate(provider_id, &presented).await?.ok_or_else(unauthorized)?;
        let enabled = self.store.scim_settings(provider_id).await?.is_some_and(|s| s.enabled);
        if !enabled {
            return Err(ScimError {
                status: 403,
                scim_type: None,
                detail: "SCIM provisioning is turned off for this provider: turn it on in Portcullis under \
                         Settings → External identity providers → Provisioning (SCIM)."
                    .into(),
            });
        }
        if !self.admit(&token.id, now_ms()) {
            return Err(ScimError {
                status: 429,
                scim_type: None,
                detail: format!("More than {RATE_PER_SECOND} requests a second with this token: slow down."),
            });
        }
        Ok(token)
    }

    /// A token bucket per token.
    fn admit(&self, token_id: &str, now: i64) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let (level, at) = buckets.entry(token_id.to_string()).or_insert((RATE_BURST, now));
        *level = (*level + (now - *at).max(0) as f64 / 1000.0 * RATE_PER_SECOND).min(RATE_BURST);
        *at = now;
        if *level >= 1.0 {
            *level -= 1.0;
            true
        } else {
            false
        }
    }

    /// Records a request in the provider's log. Refused ones are logged once a minute per
    /// address, so nobody floods the log with bad tokens.
    pub async fn log(
        &self,
        provider_id: &str,
        request: &Received<'_>,
        token: Option<&ScimTokenView>,
        ip: Option<&str>,
    ) {
        let Received { method, path, status, detail } = *request;
        if token.is_none() && self.refusals.admit(&[provider_id, ip.unwrap_or("")], now_ms()).is_none() {
            return;
        }
        if self.store.provider(provider_id).await.ok().flatten().is_none() {
            return;
        }
        let row = ScimRequestRow {
            id: new_id(),
            provider_id: provider_id.to_string(),
            at: now_ms(),
            method: method.to_string(),
            path: path.chars().take(300).collect(),
            status: i64::from(status),
            token_prefix: token.map(|t| t.prefix.clone()),
            detail: Some(detail.chars().take(300).collect()),
        };
        if let Err(e) = self.store.log_scim_request(&row).await {
            tracing::warn!(error = %e, "could not log a SCIM request");
        }
    }

    /// `POST /.search` (RFC 7644 §3.4.3) on `Users`, `Groups`, or both at the root (people
    /// first, then groups, one numbering).
    pub async fn search(&self, at: &Endpoint, resource: Option<&str>, body: &Value) -> Result<Answer, ScimError> {
        let query = search_query(body)?;
        match resource {
            Some("Users") => return self.list_users(at, &query).await,
            Some(_) => return self.list_groups(at, &query).await,
            None => {}
        }
        let filter = filter_of(&query)?;
        let (start, count) = paging(&query);
        let (users_total, _) = self.store.scim_users(&at.provider_id, &filter, 0, 0).await?;
        let (groups_total, _) = self.store.scim_groups(&at.provider_id, &filter, 0, 0).await?;
        let offset = start - 1;
        let mut resources = Vec::new();
        if offset < users_total {
            let (_, rows) = self.store.scim_users(&at.provider_id, &filter, offset, count).await?;
            resources.extend(rows.iter().map(|r| project(user_json(at, r), &query)));
        }
        let left = count - resources.len() as i64;
        if left > 0 {
            let from = (offset - users_total).max(0);
            let (_, rows) = self.store.scim_groups(&at.provider_id, &filter, from, left).await?;
            let members = if excludes(&query, "members") { HashMap::new() } else { self.members_of(&rows).await? };
            resources.extend(rows.iter().map(|r| {
                project(group_json(at, r, members.get(&r.group_id).map(Vec::as_slice).unwrap_or(&[])), &query)
            }));
        }
        let total = users_total + groups_total;
        Ok(Answer::ok(list(total, start, resources), format!("searched {total} resources")))
    }

    // ---------- discovery ----------

    pub fn service_provider_config(&self, at: &Endpoint) -> Answer {
        Answer::ok(discovery::service_provider_config(&at.base), "read ServiceProviderConfig")
    }

    /// `/ResourceTypes` or `/Schemas`, whole or one by id.
    pub fn discovery(&self, at: &Endpoint, what: &str, id: Option<&str>) -> Result<Answer, ScimError> {
        let all = if what == "Schemas" { discovery::schemas(&at.base) } else { discovery::resource_types(&at.base) };
        match id {
            None => {
                let n = all.len() as i64;
                Ok(Answer::ok(list(n, 1, all), format!("read {what}")))
            }
            Some(id) => all
                .into_iter()
                .find(|v| v["id"] == id)
                .map(|v| Answer::ok(v, format!("read {what}/{id}")))
                .ok_or_else(|| ScimError::not_found(what.trim_end_matches('s'), id)),
        }
    }
}
/// The token in an `Authorization` header: `Bearer <token>`, or `Basic` with it as the password.
pub(super) fn presented_token(header: &str) -> Option<String> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.to_string());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD.decode(rest).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (_, password) = text.split_once(':')?;
        return Some(password.to_string());
    }
    None
}

/// A SearchRequest's parameters; attribute lists as arrays or comma-separated strings.
pub(super) fn search_query(body: &Value) -> Result<ListQuery, ScimError> {
    let Some(object) = body.as_object() else {
        return Err(ScimError::invalid_syntax("A search is a SearchRequest JSON object."));
    };
    let text = |name: &str| -> Result<Option<String>, ScimError> {
        match super::resource::attribute(object, name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Array(items)) => Ok(Some(items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","))),
            Some(other) => Err(ScimError::invalid_value(format!("{name} cannot be {other}."))),
        }
    };
    let number = |name: &str| -> Result<Option<i64>, ScimError> {
        match super::resource::attribute(object, name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => {
                v.as_i64().map(Some).ok_or_else(|| ScimError::invalid_value(format!("{name} must be an integer.")))
            }
        }
    };
    Ok(ListQuery {
        filter: text("filter")?,
        start_index: number("startIndex")?,
        count: number("count")?,
        attributes: text("attributes")?,
        excluded_attributes: text("excludedAttributes")?,
    })
}

pub(super) fn filter_of(query: &ListQuery) -> Result<ScimWhere, ScimError> {
    let Some(raw) = query.filter.as_deref().filter(|f| !f.trim().is_empty()) else { return Ok(ScimWhere::All) };
    Ok(match parse_filter(raw)? {
        Lookup::UserName(v) => ScimWhere::UserName(v),
        Lookup::ExternalId(v) => ScimWhere::ExternalId(v),
        Lookup::DisplayName(v) => ScimWhere::DisplayName(v),
        Lookup::Id(v) => ScimWhere::Id(v),
    })
}

/// 1-based `startIndex` (below 1 is 1) and `count` (default 100, at most 500; below 0 is 0).
pub(super) fn paging(query: &ListQuery) -> (i64, i64) {
    let start = query.start_index.unwrap_or(1).max(1);
    let count = query.count.unwrap_or(i64::from(DEFAULT_COUNT)).clamp(0, i64::from(MAX_COUNT));
    (start, count)
}

pub(super) fn list(total: i64, start: i64, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

pub(super) fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// The attribute names a parameter lists, lower-cased, schema URNs taken off.
pub(super) fn attribute_names(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(|a| {
            let a = a.trim();
            let a = match a.to_ascii_lowercase().starts_with("urn:") {
                true => a.rsplit_once(':').map_or(a, |(_, name)| name),
                false => a,
            };
            a.to_ascii_lowercase()
        })
        .filter(|a| !a.is_empty())
        .collect()
}

pub(super) fn excludes(query: &ListQuery, name: &str) -> bool {
    query.excluded_attributes.as_deref().is_some_and(|e| attribute_names(e).iter().any(|a| a == name))
}

/// `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5): `id`, `schemas` and `meta` are
/// always returned; `name.givenName` selects a sub-attribute.
pub(super) fn project(mut body: Value, query: &ListQuery) -> Value {
    const ALWAYS: [&str; 3] = ["id", "schemas", "meta"];
    let Some(object) = body.as_object_mut() else { return body };
    if let Some(raw) = query.attributes.as_deref() {
        let wanted = attribute_names(raw);
        if !wanted.is_empty() {
            object.retain(|k, v| {
                let k = k.to_ascii_lowercase();
                if ALWAYS.contains(&k.as_str()) || wanted.contains(&k) {
                    return true;
                }
                let subs: Vec<&str> = wanted.iter().filter_map(|w| w.strip_prefix(&format!("{k}."))).collect();
                if subs.is_empty() {
                    return false;
                }
                if let Some(inner) = v.as_object_mut() {
                    inner.retain(|s, _| subs.contains(&s.to_ascii_lowercase().as_str()));
                }
                true
            });
        }
    }
    if let Some(raw) = query.excluded_attributes.as_deref() {
        let excluded = attribute_names(raw);
        object.retain(|k, v| {
            let k = k.to_ascii_lowercase();
            if ALWAYS.contains(&k.as_str()) {
                return true;
            }
            if excluded.contains(&k) {
                return false;
            }
            let subs: Vec<&str> = excluded.iter().filter_map(|w| w.strip_prefix(&format!("{k}."))).collect();
            if let (false, Some(inner)) = (subs.is_empty(), v.as_object_mut()) {
                inner.retain(|s, _| !subs.contains(&s.to_ascii_lowercase().as_str()));
            }
            true
        });
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_comes_as_bearer_or_as_the_basic_password() {
        assert_eq!(presented_token("Bearer pcst_abc").as_deref(), Some("pcst_abc"));
        assert_eq!(presented_token("bearer  pcst_abc ").as_deref(), Some("pcst_abc"));
        let basic = base64::engine::general_purpose::STANDARD.encode("okta:pcst_xyz");
        assert_eq!(presented_token(&format!("Basic {basic}")).as_deref(), Some("pcst_xyz"));
        assert_eq!(presented_token("Basic !!!"), None);
        assert_eq!(presented_token("pcst_abc"), None);
    }

    #[test]
    fn paging_is_one_based_and_capped() {
        let q = |s, c| ListQuery { start_index: s, count: c, ..ListQuery::default() };
        assert_eq!(paging(&q(None, None)), (1, 100));
        assert_eq!(paging(&q(Some(0), Some(10_000))), (1, 500));
        assert_eq!(paging(&q(Some(7), Some(-3))), (7, 0));
    }

    #[test]
    fn projection_keeps_id_schemas_and_meta_and_selects_sub_attributes() {
        let body = json!({"id": "1", "schemas": [], "meta": {}, "userName": "a", "name": {"givenName": "A", "familyName": "B"}, "active": true});
        let q = ListQuery { attributes: Some("userName,name.givenName".into()), ..ListQuery::default() };
        assert_eq!(
            project(body.clone(), &q),
            json!({"id": "1", "schemas": [], "meta": {}, "userName": "a", "name": {"givenName": "A"}})
        );
        let q = ListQuery {
            excluded_attributes: Some("urn:ietf:params:scim:schemas:core:2.0:User:active,id".into()),
            ..ListQuery::default()
        };
        let out = project(body, &q);
        assert!(out.get("active").is_none() && out.get("id").is_some());
    }

    #[tokio::test]
    async fn a_token_has_a_burst_then_its_rate() {
        let service = ScimService::new(Store::in_memory().await.unwrap());
        let admitted = (0..(RATE_BURST as usize + 100)).filter(|_| service.admit("t", 1_000)).count();
        assert_eq!(admitted, RATE_BURST as usize);
        assert!(!service.admit("t", 1_000));
        assert!(service.admit("t", 1_100), "a tenth of a second later ten more are admitted");
        assert!(service.admit("other", 1_000), "each token has its own bucket");
    }
}
