//! The SCIM endpoints' work, one method a request: authenticate the token, read the request
//! into a change of the directory, write it with its audit entry in one transaction, and answer
//! the resource. Sessions of a person deactivated here end before the answer is sent, so the
//! next `/verify` already refuses them.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, Mutex, PoisonError},
};

use base64::Engine;
use serde_json::{json, Value};

use super::{
    discovery, group_patch, parse_filter, user_patch, GroupChange, GroupResource, Lookup, MemberRef, ScimError,
    ScimTokenError, ScimTokenView, ScimTokens, UserResource, DEFAULT_COUNT, LIST_SCHEMA, MAX_COUNT,
};
use crate::{
    accounts::Role,
    audit::{Action, AuditLimiter, Caller, Event},
    store::{new_id, now_ms, ScimGroupRow, ScimRemoval, ScimRequestRow, ScimUserRow, ScimWhere, Store, StoreError},
    sync::{DeprovisionAction, SyncSettings},
};

/// Requests one token may make: a burst of this many, refilled at [`RATE_PER_SECOND`].
pub const RATE_BURST: f64 = 1000.0;
pub const RATE_PER_SECOND: f64 = 100.0;
/// Deactivations are weighed against the removal threshold over this window.
const BURST_WINDOW_MS: i64 = 10 * 60_000;

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

    /// Turns provisioning on or off (Admins only: a token can create and remove people).
    pub async fn set_enabled(&self, by: &Caller, provider_id: &str, enabled: bool) -> Result<(), ScimTokenError> {
        if by.role < Role::Admin {
            return Err(ScimTokenError::AdminOnly);
        }
        let provider = self.store.provider(provider_id).await?.ok_or(ScimTokenError::UnknownProvider)?;
        let event = Event::new(by.actor.clone(), Action::ScimSettingsChanged)
            .target(provider.name)
            .ip(by.ip())
            .detail("provider_id", provider_id)
            .detail("enabled", enabled);
        self.store.set_scim_enabled(provider_id, enabled, &event.into_record()).await?;
        Ok(())
    }

    /// Clears the deactivation alert, once an administrator has looked.
    pub async fn dismiss_alert(&self, by: &Caller, provider_id: &str) -> Result<(), ScimTokenError> {
        if by.role < Role::Admin {
            return Err(ScimTokenError::AdminOnly);
        }
        let provider = self.store.provider(provider_id).await?.ok_or(ScimTokenError::UnknownProvider)?;
        let event = Event::new(by.actor.clone(), Action::ScimSettingsChanged)
            .target(provider.name)
            .ip(by.ip())
            .detail("provider_id", provider_id)
            .detail("alert", "dismissed");
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
        method: &str,
        path: &str,
        status: u16,
        token: Option<&ScimTokenView>,
        detail: &str,
        ip: Option<&str>,
    ) {
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

    // ---------- users ----------

    pub async fn list_users(&self, at: &Endpoint, query: &ListQuery) -> Result<Answer, ScimError> {
        let filter = filter_of(query)?;
        let (start, count) = paging(query);
        let (total, rows) = self.store.scim_users(&at.provider_id, &filter, start - 1, count).await?;
        let resources: Vec<Value> = rows.iter().map(|r| project(user_json(at, r), query)).collect();
        Ok(Answer::ok(list(total, start, resources), format!("listed {total} people")))
    }

    pub async fn get_user(&self, at: &Endpoint, id: &str, query: &ListQuery) -> Result<Answer, ScimError> {
        let row = self.user(at, id).await?;
        Ok(Answer::ok(project(user_json(at, &row), query), format!("read {}", row.login)))
    }

    async fn user(&self, at: &Endpoint, id: &str) -> Result<ScimUserRow, ScimError> {
        self.store.scim_user(&at.provider_id, id).await?.ok_or_else(|| ScimError::not_found("user", id))
    }

    /// POST: a new person, or the provider's person with this externalId (else userName) made a
    /// SCIM resource; a userName another SCIM person has is 409.
    pub async fn create_user(&self, at: &Endpoint, token: &ScimTokenView, body: &Value) -> Result<Answer, ScimError> {
        let user = UserResource::from_body(body)?;
        check_lengths(&user)?;
        let found = self.store.scim_user_match(&at.provider_id, user.external_id.as_deref(), &user.user_name).await?;
        let (mut row, insert) = match found {
            Some(row) if row.scim_created_at.is_some() => {
                return Err(ScimError::uniqueness(format!(
                    "A person with the userName {} (or this externalId) is already provisioned: id {}.",
                    row.login, row.id
                )));
            }
            Some(row) => (row, false),
            None => {
                let id = new_id();
                let external_id = user.external_id.clone().unwrap_or_else(|| format!("scim:{id}"));
                (ScimUserRow { id, provider_id: at.provider_id.clone(), external_id, ..ScimUserRow::default() }, true)
            }
        };
        if !insert && self.store.scim_login_taken(&at.provider_id, &user.user_name, &row.id).await? {
            return Err(ScimError::uniqueness(format!("Another person already has the userName {}.", user.user_name)));
        }
        let was_active = !insert && row.state == "active";
        apply_user(&mut row, &user);
        row.scim_created_at = Some(now_ms());
        let action = if insert || user.active { Action::ScimUserCreated } else { Action::ScimUserDeactivated };
        let event = Event::new(token.actor(), action)
            .target(row.login.clone())
            .detail("provider_id", at.provider_id.clone())
            .detail("person_id", row.id.clone())
            .detail("joined", if insert { "new" } else { "existing directory person" });
        self.store.scim_save_user(&row, insert, &event.into_record()).await?;
        if was_active && !user.active {
            self.after_deactivation(at, &row).await?;
        }
        let saved = self.user(at, &row.id).await?;
        Ok(Answer { status: 201, body: Some(user_json(at, &saved)), summary: format!("provisioned {}", saved.login) })
    }

    /// PUT: the whole person as sent (Okta's "PUT everything" apps deactivate this way too).
    pub async fn replace_user(
        &self,
        at: &Endpoint,
        token: &ScimTokenView,
        id: &str,
        body: &Value,
    ) -> Result<Answer, ScimError> {
        let current = self.user(at, id).await?;
        let mut user = UserResource::from_body(body)?;
        user.id = current.id.clone();
        self.save_user(at, token, current, user).await
    }

    /// PATCH, in either of Okta's shapes; answered with 200 and the person.
    pub async fn patch_user(
        &self,
        at: &Endpoint,
        token: &ScimTokenView,
        id: &str,
        body: &Value,
    ) -> Result<Answer, ScimError> {
        let current = self.user(at, id).await?;
        let user = user_patch(&resource_of(&current), body)?;
        self.save_user(at, token, current, user).await
    }

    async fn save_user(
        &self,
        at: &Endpoint,
        token: &ScimTokenView,
        current: ScimUserRow,
        user: UserResource,
    ) -> Result<Answer, ScimError> {
        check_lengths(&user)?;
        if !user.user_name.eq_ignore_ascii_case(&current.login)
            && self.store.scim_login_taken(&at.provider_id, &user.user_name, &current.id).await?
        {
            return Err(ScimError::uniqueness(format!("Another person already has the userName {}.", user.user_name)));
        }
        let mut row = current.clone();
        apply_user(&mut row, &user);
        // A person pushed without an externalId takes the one sent later, when it is free.
        if let Some(e) = &user.external_id {
            if row.external_id.starts_with("scim:")
                && !self.store.scim_external_id_taken(&at.provider_id, e, &row.id).await?
            {
                row.external_id = e.clone();
            }
        }
        let was_active = current.state == "active";
        let changed = changed_fields(&current, &row);
        if changed.is_empty() {
            return Ok(Answer::ok(user_json(at, &current), format!("{} unchanged", current.login)));
        }
        let action = match (was_active, user.active) {
            (true, false) => Action::ScimUserDeactivated,
            (false, true) => Action::ScimUserReactivated,
            _ => Action::ScimUserUpdated,
        };
        let event = Event::new(token.actor(), action)
            .target(row.login.clone())
            .detail("provider_id", at.provider_id.clone())
            .detail("person_id", row.id.clone())
            .detail("changed", changed.clone());
        self.store.scim_save_user(&row, false, &event.into_record()).await?;
        if was_active && !user.active {
            self.after_deactivation(at, &row).await?;
        }
        let saved = self.user(at, &row.id).await?;
        let summary = match action {
            Action::ScimUserDeactivated => format!("deactivated {}", saved.login),
            Action::ScimUserReactivated => format!("reactivated {}", saved.login),
            _ => format!("changed {} of {}", changed.join(", "), saved.login),
        };
        Ok(Answer::ok(user_json(at, &saved), summary))
    }

    /// DELETE: as the provider's deprovisioning setting says (delete, disable or keep).
    pub async fn delete_user(&self, at: &Endpoint, token: &ScimTokenView, id: &str) -> Result<Answer, ScimError> {
        let row = self.user(at, id).await?;
        let settings = self.sync_settings(&at.provider_id).await?;
        let (removal, action) = match settings.deprovision {
            DeprovisionAction::Delete => (ScimRemoval::Delete, "deleted"),
            DeprovisionAction::Disable => (ScimRemoval::Leave("disabled"), "disabled"),
            DeprovisionAction::Keep => (ScimRemoval::Leave("kept"), "kept"),
        };
        let event = Event::new(token.actor(), Action::ScimUserDeleted)
            .target(row.login.clone())
            .detail("provider_id", at.provider_id.clone())
            .detail("person_id", row.id.clone())
            .detail("deprovisioning", action);
        // Sessions end first: a deleted person's identity cannot be found afterwards.
        if removal != ScimRemoval::Leave("kept") {
            self.end_sessions(at, &row).await?;
        }
        self.store.scim_remove_user(&at.provider_id, &row.id, removal, &event.into_record()).await?;
        if row.state == "active" {
            self.burst_check(at).await?;
        }
        Ok(Answer { status: 204, body: None, summary: format!("{action} {}", row.login) })
    }

    async fn sync_settings(&self, provider_id: &str) -> Result<SyncSettings, StoreError> {
        Ok(self.store.sync_settings(provider_id).await?.map(|r| SyncSettings::from_row(&r)).unwrap_or_default())
    }

    async fn end_sessions(&self, at: &Endpoint, row: &ScimUserRow) -> Result<u64, StoreError> {
        let identities = self.store.identities_for_logout(&at.provider_id, Some(&row.external_id), None).await?;
        self.store.end_identity_sessions(&identities).await
    }

    async fn after_deactivation(&self, at: &Endpoint, row: &ScimUserRow) -> Result<(), StoreError> {
        self.end_sessions(at, row).await?;
        self.burst_check(at).await
    }

    /// Okta is the source of truth for SCIM, so a burst of deactivations is applied; one larger
    /// than the removal threshold raises an alert on the provider and in the audit log.
    async fn burst_check(&self, at: &Endpoint) -> Result<(), StoreError> {
        let now = now_ms();
        let (recent, active) = self.store.scim_deactivations_since(&at.provider_id, now - BURST_WINDOW_MS).await?;
        let threshold = i64::from(self.sync_settings(&at.provider_id).await?.removal_threshold_percent);
        if recent < 2 || recent * 100 <= threshold * (recent + active) {
            return Ok(());
        }
        let settings = self.store.scim_settings(&at.provider_id).await?;
        // One alert a window: the first crossing says it, later ones would repeat it.
        if settings.and_then(|s| s.alert_at).is_some_and(|a| a > now - BURST_WINDOW_MS) {
            return Ok(());
        }
        let text = format!(
            "SCIM deactivated {recent} of {} people in the last 10 minutes, more than the {threshold} % removal \
             threshold. The changes were applied (Okta is the source of truth); check Okta's System Log if this \
             was not expected.",
            recent + active
        );
        let event = Event::new(crate::audit::Actor::System, Action::ScimDeactivationBurst)
            .target(at.provider_id.clone())
            .detail("deactivated", recent)
            .detail("of", recent + active)
            .detail("threshold_percent", threshold);
        self.store.set_scim_alert(&at.provider_id, Some(&text), now, &event.into_record()).await
    }

    // ---------- groups ----------

    pub async fn list_groups(&self, at: &Endpoint, query: &ListQuery) -> Result<Answer, ScimError> {
        let filter = filter_of(query)?;
        let (start, count) = paging(query);
        let (total, rows) = self.store.scim_groups(&at.provider_id, &filter, start - 1, count).await?;
        let with_members = !excludes(query, "members");
        let members = if with_members { self.members_of(&rows).await? } else { HashMap::new() };
        let resources: Vec<Value> = rows
            .iter()
            .map(|r| project(group_json(at, r, members.get(&r.group_id).map(Vec::as_slice).unwrap_or(&[])), query))
            .collect();
        Ok(Answer::ok(list(total, start, resources), format!("listed {total} groups")))
    }

    pub async fn get_group(&self, at: &Endpoint, id: &str, query: &ListQuery) -> Result<Answer, ScimError> {
        let row = self.group(at, id).await?;
        let members = self.members_of(std::slice::from_ref(&row)).await?;
        let body = group_json(at, &row, members.get(&row.group_id).map(Vec::as_slice).unwrap_or(&[]));
        Ok(Answer::ok(project(body, query), format!("read group {}", row.display_name)))
    }

    async fn group(&self, at: &Endpoint, id: &str) -> Result<ScimGroupRow, ScimError> {
        self.store.scim_group(&at.provider_id, id).await?.ok_or_else(|| ScimError::not_found("group", id))
    }

    async fn members_of(&self, rows: &[ScimGroupRow]) -> Result<HashMap<String, Vec<String>>, StoreError> {
        let ids: Vec<String> = rows.iter().map(|r| r.group_id.clone()).collect();
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for (group, user) in self.store.scim_group_members(&ids).await? {
            out.entry(group).or_default().push(user);
        }
        Ok(out)
    }

    /// The people provisioned here among `members`, deduplicated. Ids are Portcullis' own, so an
    /// unknown one can never become a person (a deleted one, a typo): it is left out, and the
    /// request log says so, rather than failing the whole push.
    async fn known_members(
        &self,
        at: &Endpoint,
        members: &[String],
        unknown: &mut BTreeSet<String>,
    ) -> Result<Vec<String>, ScimError> {
        let wanted: BTreeSet<String> = members.iter().cloned().collect();
        let wanted: Vec<String> = wanted.into_iter().collect();
        let known: BTreeSet<String> =
            self.store.scim_known_users(&at.provider_id, &wanted).await?.into_iter().collect();
        unknown.extend(wanted.iter().filter(|m| !known.contains(*m)).cloned());
        Ok(known.into_iter().collect())
    }

    /// POST: the group, linked to the same-named group synced from the API when exactly one
    /// has the name, else a directory group of its own.
    pub async fn create_group(&self, at: &Endpoint, token: &ScimTokenView, body: &Value) -> Result<Answer, ScimError> {
        let group = GroupResource::from_body(body)?;
        check_name(&group.display_name)?;
        if self.store.scim_group_name_taken(&at.provider_id, &group.display_name, "").await? {
            return Err(ScimError::uniqueness(format!("A group named {} is already pushed.", group.display_name)));
        }
        let mut unknown = BTreeSet::new();
        let members = self.known_members(at, &ids(&group.members), &mut unknown).await?;
        let link = self.store.scim_group_link(&at.provider_id, &group.display_name).await?;
        let row = ScimGroupRow {
            id: new_id(),
            provider_id: at.provider_id.clone(),
            group_id: link.clone().unwrap_or_else(new_id),
            display_name: group.display_name.clone(),
            external_id: group.external_id.clone(),
            own: link.is_none(),
            ..ScimGroupRow::default()
        };
        let event = Event::new(token.actor(), Action::ScimGroupCreated)
            .target(row.display_name.clone())
            .detail("provider_id", at.provider_id.clone())
            .detail("scim_group_id", row.id.clone())
            .detail("linked_to_synced_group", link.is_some())
            .detail("members", members.len())
            .detail("ignored_unknown_members", unknown.len());
        self.store.scim_create_group(&row, link.is_none(), &members, &event.into_record()).await?;
        let saved = self.group(at, &row.id).await?;
        Ok(Answer {
            status: 201,
            body: Some(group_json(at, &saved, &members)),
            summary: format!("pushed group {} ({} members){}", saved.display_name, members.len(), ignored(&unknown)),
        })
    }

    /// PUT: the full group; its SCIM members become exactly the list.
    pub async fn replace_group(
        &self,
        at: &Endpoint,
        token: &ScimTokenView,
        id: &str,
        body: &Value,
    ) -> Result<Answer, ScimError> {
        let group = GroupResource::from_body(body)?;
        let changes = vec![
            GroupChange::Rename(group.display_name.clone()),
            GroupChange::ExternalId(group.external_id.clone()),
            GroupChange::ReplaceMembers(ids(&group.members)),
        ];
        self.change_group(at, token, id, changes).await
    }

    /// PATCH: rename, add, remove, replace members; answered with 200 and the group.
    pub async fn patch_group(
        &self,
        at: &Endpoint,
        token: &ScimTokenView,
        id: &str,
        body: &Value,
    ) -> Result<Answer, ScimError> {
        let changes = group_patch(body)?;
        self.change_group(at, token, id, changes).await
    }

    async fn change_group(
        &self,
        at: &Endpoint,
        token: &ScimTokenView,
        id: &str,
        changes: Vec<GroupChange>,
    ) -> Result<Answer, ScimError> {
        let current = self.group(at, id).await?;
        let mut row = current.clone();
        let before: BTreeSet<String> = self
            .members_of(std::slice::from_ref(&current))
            .await?
            .remove(&current.group_id)
            .unwrap_or_default()
            .into_iter()
            .collect();
        // The operations in order, on a copy of the member set; then the difference is written.
        let mut after = before.clone();
        // Members the push asserts, and those it removes, whether or not that changes anything.
        let mut asserted: BTreeSet<String> = BTreeSet::new();
        let mut removals: BTreeSet<String> = BTreeSet::new();
        let mut unknown = BTreeSet::new();
        for change in changes {
            match change {
                GroupChange::Rename(name) => row.display_name = name,
                GroupChange::ExternalId(e) => row.external_id = e,
                GroupChange::AddMembers(list) => {
                    let list = self.known_members(at, &list, &mut unknown).await?;
                    list.iter().for_each(|m| {
                        removals.remove(m);
                    });
                    asserted.extend(list.iter().cloned());
                    after.extend(list);
                }
                GroupChange::RemoveMembers(list) => list.into_iter().for_each(|m| {
                    after.remove(&m);
                    asserted.remove(&m);
                    removals.insert(m);
                }),
                GroupChange::ReplaceMembers(list) => {
                    let list: BTreeSet<String> =
                        self.known_members(at, &list, &mut unknown).await?.into_iter().collect();
                    removals.extend(after.difference(&list).cloned());
                    removals.retain(|m| !list.contains(m));
                    asserted = list.clone();
                    after = list;
                }
            }
        }
        check_name(&row.display_name)?;
        let renamed = row.display_name != current.display_name;
        if renamed && self.store.scim_group_name_taken(&at.provider_id, &row.display_name, &row.id).await? {
            return Err(ScimError::uniqueness(format!("A group named {} is already pushed.", row.display_name)));
        }
        let added = after.difference(&before).count();
        let removed = before.difference(&after).count();
        let external_changed = row.external_id != current.external_id;
        let audit = (renamed || external_changed || added + removed > 0).then(|| {
            let mut event = Event::new(token.actor(), Action::ScimGroupUpdated)
                .target(row.display_name.clone())
                .detail("provider_id", at.provider_id.clone())
                .detail("scim_group_id", row.id.clone())
                .detail("members_added", added)
                .detail("members_removed", removed);
            if renamed {
                event = event.detail("renamed_from", current.display_name.clone());
            }
            event.into_record()
        });
        let asserted: Vec<String> = asserted.into_iter().filter(|m| after.contains(m)).collect();
        // Only people provisioned here: a push cannot take a synced-only person out of a group.
        let removals: Vec<String> = removals.into_iter().filter(|m| !after.contains(m)).collect();
        let removals = self.store.scim_known_users(&at.provider_id, &removals).await?;
        self.store.scim_update_group(&row, &asserted, &removals, audit).await?;
        let saved = self.group(at, id).await?;
        let members: Vec<String> = after.into_iter().collect();
        let mut summary = format!("group {}: +{added} −{removed} members", saved.display_name);
        if renamed {
            summary.push_str(&format!(", renamed from {}", current.display_name));
        }
        summary.push_str(&ignored(&unknown));
        Ok(Answer::ok(group_json(at, &saved, &members), summary))
    }

    pub async fn delete_group(&self, at: &Endpoint, token: &ScimTokenView, id: &str) -> Result<Answer, ScimError> {
        let row = self.group(at, id).await?;
        let event = Event::new(token.actor(), Action::ScimGroupDeleted)
            .target(row.display_name.clone())
            .detail("provider_id", at.provider_id.clone())
            .detail("scim_group_id", row.id.clone())
            .detail("directory_group", if row.own { "deleted" } else { "kept (synced from the API)" });
        self.store.scim_delete_group(&row, &event.into_record()).await?;
        Ok(Answer { status: 204, body: None, summary: format!("deleted group {}", row.display_name) })
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
fn presented_token(header: &str) -> Option<String> {
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
fn search_query(body: &Value) -> Result<ListQuery, ScimError> {
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

fn filter_of(query: &ListQuery) -> Result<ScimWhere, ScimError> {
    let Some(raw) = query.filter.as_deref().filter(|f| !f.trim().is_empty()) else { return Ok(ScimWhere::All) };
    Ok(match parse_filter(raw)? {
        Lookup::UserName(v) => ScimWhere::UserName(v),
        Lookup::ExternalId(v) => ScimWhere::ExternalId(v),
        Lookup::DisplayName(v) => ScimWhere::DisplayName(v),
        Lookup::Id(v) => ScimWhere::Id(v),
    })
}

/// 1-based `startIndex` (below 1 is 1) and `count` (default 100, at most 500; below 0 is 0).
fn paging(query: &ListQuery) -> (i64, i64) {
    let start = query.start_index.unwrap_or(1).max(1);
    let count = query.count.unwrap_or(i64::from(DEFAULT_COUNT)).clamp(0, i64::from(MAX_COUNT));
    (start, count)
}

fn list(total: i64, start: i64, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

fn ignored(unknown: &BTreeSet<String>) -> String {
    match unknown.len() {
        0 => String::new(),
        n => format!(
            "; ignored {n} member id(s) no person here has: {}",
            unknown.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
        ),
    }
}

fn ids(members: &[MemberRef]) -> Vec<String> {
    members.iter().map(|m| m.value.clone()).collect()
}

fn check_lengths(user: &UserResource) -> Result<(), ScimError> {
    for (name, value) in [
        ("userName", &user.user_name),
        ("displayName", &user.display_name),
        ("givenName", &user.given_name),
        ("familyName", &user.family_name),
        ("email", &user.email),
    ] {
        if value.chars().count() > 256 {
            return Err(ScimError::invalid_value(format!("{name} is longer than 256 characters.")));
        }
    }
    if user.external_id.as_ref().is_some_and(|e| e.len() > 256) {
        return Err(ScimError::invalid_value("externalId is longer than 256 characters."));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), ScimError> {
    if name.chars().count() > 256 || name.chars().any(char::is_control) {
        return Err(ScimError::invalid_value(
            "displayName must be at most 256 characters, without control characters.",
        ));
    }
    Ok(())
}

fn apply_user(row: &mut ScimUserRow, user: &UserResource) {
    let (display, email) = user.directory_defaults();
    row.login = user.user_name.clone();
    row.first_name = user.given_name.clone();
    row.last_name = user.family_name.clone();
    row.display_name = display;
    row.email = email;
    row.scim_display_name = Some(user.display_name.clone()).filter(|d| !d.is_empty());
    row.scim_email = Some(user.email.clone()).filter(|e| !e.is_empty());
    row.scim_email_primary = user.email_primary.filter(|_| row.scim_email.is_some());
    row.scim_active = user.active_set.then_some(user.active);
    row.scim_external_id = user.external_id.clone();
    if user.active {
        row.state = "active".into();
        row.okta_status = "ACTIVE".into();
    } else {
        if row.state == "active" || row.state.is_empty() {
            row.state = "disabled".into();
        }
        row.okta_status = "DEPROVISIONED".into();
    }
}

fn resource_of(row: &ScimUserRow) -> UserResource {
    UserResource {
        id: row.id.clone(),
        external_id: row.scim_external_id.clone(),
        user_name: row.login.clone(),
        given_name: row.first_name.clone(),
        family_name: row.last_name.clone(),
        display_name: row.scim_display_name.clone().unwrap_or_default(),
        email: row.scim_email.clone().unwrap_or_default(),
        email_primary: row.scim_email_primary,
        active: row.state == "active",
        active_set: row.scim_active.is_some(),
    }
}

fn changed_fields(a: &ScimUserRow, b: &ScimUserRow) -> Vec<&'static str> {
    let mut out = Vec::new();
    for (name, x, y) in [
        ("userName", &a.login, &b.login),
        ("givenName", &a.first_name, &b.first_name),
        ("familyName", &a.last_name, &b.last_name),
        ("displayName", &a.display_name, &b.display_name),
        ("email", &a.email, &b.email),
        ("state", &a.state, &b.state),
        ("externalId", &a.external_id, &b.external_id),
    ] {
        if x != y {
            out.push(name);
        }
    }
    if a.scim_display_name != b.scim_display_name
        || a.scim_email != b.scim_email
        || a.scim_email_primary != b.scim_email_primary
        || a.scim_active != b.scim_active
        || a.scim_external_id != b.scim_external_id
    {
        if out.is_empty() {
            out.push("attributes");
        }
    }
    out
}

fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

fn user_json(at: &Endpoint, row: &ScimUserRow) -> Value {
    let mut body = resource_of(row).to_json(&at.user_location(&row.id));
    body["meta"]["created"] = rfc3339(row.scim_created_at.unwrap_or(row.updated_at)).into();
    body["meta"]["lastModified"] = rfc3339(row.updated_at).into();
    body
}

fn group_json(at: &Endpoint, row: &ScimGroupRow, members: &[String]) -> Value {
    let resource = GroupResource {
        id: row.id.clone(),
        external_id: row.external_id.clone(),
        display_name: row.display_name.clone(),
        members: members.iter().map(|m| MemberRef { value: m.clone(), display: None }).collect(),
    };
    let mut body = resource.to_json(&at.group_location(&row.id), |m| at.user_location(m));
    body["meta"]["created"] = rfc3339(row.created_at).into();
    body["meta"]["lastModified"] = rfc3339(row.updated_at).into();
    body
}

/// The attribute names a parameter lists, lower-cased, schema URNs taken off.
fn attribute_names(raw: &str) -> Vec<String> {
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

fn excludes(query: &ListQuery, name: &str) -> bool {
    query.excluded_attributes.as_deref().is_some_and(|e| attribute_names(e).iter().any(|a| a == name))
}

/// `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5): `id`, `schemas` and `meta` are
/// always returned; `name.givenName` selects a sub-attribute.
fn project(mut body: Value, query: &ListQuery) -> Value {
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
