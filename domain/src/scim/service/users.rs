//! `/Users`: people pushed into the provider's directory.

use serde_json::Value;

use super::{filter_of, list, paging, project, rfc3339, Answer, Endpoint, ListQuery, ScimService, BURST_WINDOW_MS};
use crate::{
    audit::{Action, Event},
    scim::{user_patch, ScimError, ScimTokenView, UserResource},
    store::{new_id, now_ms, ScimRemoval, ScimUserRow, StoreError},
    sync::{DeprovisionAction, SyncSettings},
};

impl ScimService {
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
        // The window first (an index range): a lone deactivation costs no count of the directory.
        let recent = self.store.scim_deactivations_since(&at.provider_id, now - BURST_WINDOW_MS).await?;
        if recent < 2 {
            return Ok(());
        }
        let active = self.store.active_people_of(&at.provider_id).await?;
        let threshold = i64::from(self.sync_settings(&at.provider_id).await?.removal_threshold_percent);
        if recent * 100 <= threshold * (recent + active) {
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
}

pub(super) fn check_lengths(user: &UserResource) -> Result<(), ScimError> {
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

pub(super) fn apply_user(row: &mut ScimUserRow, user: &UserResource) {
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

pub(super) fn resource_of(row: &ScimUserRow) -> UserResource {
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

pub(super) fn changed_fields(a: &ScimUserRow, b: &ScimUserRow) -> Vec<&'static str> {
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
    let pushed_only = a.scim_display_name != b.scim_display_name
        || a.scim_email != b.scim_email
        || a.scim_email_primary != b.scim_email_primary
        || a.scim_active != b.scim_active
        || a.scim_external_id != b.scim_external_id;
    // What was pushed changed, though the directory's columns did not.
    if pushed_only && out.is_empty() {
        out.push("attributes");
    }
    out
}

pub(super) fn user_json(at: &Endpoint, row: &ScimUserRow) -> Value {
    let mut body = resource_of(row).to_json(&at.user_location(&row.id));
    body["meta"]["created"] = rfc3339(row.scim_created_at.unwrap_or(row.updated_at)).into();
    body["meta"]["lastModified"] = rfc3339(row.updated_at).into();
    body
}
