//! The outcome page's record of a sign-in (kept briefly), and what a person is remembered as.

use super::*;

impl SsoService {
    /// A refusal or test sign-in, for the browser or admin that produced it.
    pub async fn outcome(
        &self,
        id: &str,
        viewer: Option<&SignedIn>,
        browser_cookie: Option<&str>,
    ) -> Result<Option<OutcomeView>, StoreError> {
        let Some(row) = self.store.login_outcome(id).await? else {
            return Ok(None);
        };
        let allowed = match &row.viewer {
            Some(v) => viewer.is_some_and(|u| &u.user_id == v),
            None => {
                browser_cookie.is_some_and(|c| crate::accounts::constant_time_eq(&sha256_hex(c), &row.browser_hash))
            }
        };
        if !allowed {
            return Ok(None);
        }
        let mut view: Option<OutcomeView> = serde_json::from_str(&row.details).ok();
        // A refusal is read by whoever holds the browser: no mapped group names, even from an
        // outcome stored before they were left out.
        if row.viewer.is_none() {
            if let Some(v) = view.as_mut() {
                v.mappings.clear();
            }
        }
        Ok(view)
    }

    /// Groups of a provider that Portcullis knows, for the role mapping picker: (id, name).
    pub async fn known_groups(&self, provider_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        Ok(self.store.provider_groups(provider_id).await?.into_iter().map(|g| (g.external_id, g.name)).collect())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn save_outcome(
        &self,
        row: &ProviderRow,
        kind: &str,
        viewer: Option<&str>,
        browser_hash: &str,
        person: &Person,
        role: Option<Role>,
        mappings: &[RoleMappingRow],
        with_claims: bool,
    ) -> Result<String, StoreError> {
        let view = OutcomeView {
            kind: kind.to_string(),
            provider_id: row.id.clone(),
            provider_name: row.name.clone(),
            subject: person.subject.clone(),
            email: person.email.clone(),
            name: person.name.clone(),
            email_verified: person.email_verified,
            groups: person.groups.iter().map(|(_, name)| name.clone()).collect(),
            groups_source: person.groups_source.to_string(),
            role: role.map(|r| r.label().to_string()),
            mappings: mappings
                .iter()
                .filter(|m| viewer.is_some() && m.provider_id == row.id)
                .map(|m| {
                    (
                        m.current_name.clone().unwrap_or_else(|| m.group_name.clone()),
                        Role::parse(&m.role).map(Role::label).unwrap_or("?").to_string(),
                    )
                })
                .collect(),
            claims: with_claims
                .then(|| serde_json::to_string_pretty(&Value::Object(person.claims.clone())).unwrap_or_default()),
        };
        let now = now_ms();
        let id = random_token();
        self.store
            .insert_login_outcome(&LoginOutcomeRow {
                id: id.clone(),
                provider_id: row.id.clone(),
                kind: kind.to_string(),
                viewer: viewer.map(str::to_string),
                browser_hash: browser_hash.to_string(),
                details: serde_json::to_string(&view).unwrap_or_default(),
                created_at: now,
                expires_at: now + OUTCOME_TTL_MS,
            })
            .await?;
        Ok(id)
    }

    /// Keeps the account and the directory as the provider described the person. A failure
    /// here is logged, not fatal: the sign-in itself was sound.
    pub(super) async fn remember(&self, row: &ProviderRow, identity_id: &str, user_id: &str, person: &Person) {
        let groups_json =
            serde_json::to_string(&person.groups.iter().map(|(_, n)| n).collect::<Vec<_>>()).unwrap_or_default();
        let claimed = person.email_verified == Some(true);
        let vouched = email_vouched(row, person);
        if let Err(e) = self
            .store
            .update_identity_claims(identity_id, user_id, &person.email, claimed, vouched, &person.name, &groups_json)
            .await
        {
            tracing::warn!(error = %e, "could not update the account from the provider's claims");
        }
        if person.groups_source != "none" {
            if let Err(e) = self
                .store
                .record_sign_in_directory(&row.id, &person.subject, &person.email, &person.name, &person.groups)
                .await
            {
                tracing::warn!(error = %e, "could not record the sign-in's groups in the directory");
            }
        }
    }
}
