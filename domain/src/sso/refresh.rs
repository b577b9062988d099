//! Keeping an SSO session alive with the provider's refresh token, and sign-out there.

use super::*;

impl SsoService {
    /// Renews a provider session's tokens and re-reads the person's groups. `Ok(None)`: the
    /// session has ended (the refresh failed, or the groups no longer grant a role).
    pub async fn refresh(&self, user: &SignedIn, client: &ClientInfo) -> Result<Option<SignedIn>, StoreError> {
        // One refresh per session at a time: a rotated refresh token works once.
        let lock = {
            let mut map = self.refreshing.lock().unwrap_or_else(|p| p.into_inner());
            map.retain(|_, l| Arc::strong_count(l) > 1);
            map.entry(user.session_id.clone()).or_default().clone()
        };
        let _guard = lock.lock().await;
        let Some(session) = self.store.session_tokens(&user.session_id).await? else {
            return Ok(None);
        };
        let due = session.tokens_expire_at.is_some_and(|at| now_ms() >= at - crate::accounts::REFRESH_AHEAD_MS);
        let current_role = session.role.as_deref().and_then(Role::parse).unwrap_or(user.role);
        if !due {
            return Ok(Some(SignedIn { refresh_due: false, role: current_role, ..user.clone() }));
        }
        match self.try_refresh(&session).await {
            Ok((person, role, provider_name)) => {
                let changed = role != current_role;
                let mut event = Event::new(actor_of(user), Action::SessionRefreshed)
                    .target(user.email.clone())
                    .ip(client.ip.as_deref())
                    .detail("provider", provider_name)
                    .detail("role", role.as_str())
                    .detail("groups", person.groups.len());
                if changed {
                    event = event.detail("role_before", current_role.as_str());
                }
                self.audit.record_or_log(event).await;
                Ok(Some(SignedIn {
                    role,
                    refresh_due: false,
                    email: person.email,
                    display_name: person.name,
                    ..user.clone()
                }))
            }
            Err(reason) => {
                self.store.delete_access_sessions_of_user(&user.user_id).await?;
                self.store.delete_session(&user.session_id).await?;
                self.audit
                    .record_or_log(
                        Event::new(actor_of(user), Action::SessionRefreshFailed)
                            .target(user.email.clone())
                            .failed()
                            .ip(client.ip.as_deref())
                            .detail("reason", reason),
                    )
                    .await;
                Ok(None)
            }
        }
    }

    pub(super) async fn try_refresh(
        &self,
        session: &crate::store::SessionTokensRow,
    ) -> Result<(Person, Role, String), String> {
        let (Some(identity_id), Some(provider_id), Some(sealed)) =
            (&session.identity_id, &session.provider_id, &session.refresh_token_sealed)
        else {
            return Err("no refresh token".into());
        };
        let row =
            self.store.provider(provider_id).await.map_err(|e| e.to_string())?.ok_or("the provider was deleted")?;
        if !row.enabled {
            return Err("the provider is disabled".into());
        }
        let discovery = discovery_of(&row).ok_or("the provider has no discovery on record")?;
        let refresh_token =
            self.secrets.open(&session_context(&session.id, "refresh_token"), sealed).map_err(|e| e.to_string())?;
        let form = [("grant_type", "refresh_token"), ("refresh_token", refresh_token.expose())];
        let tokens = self.token_request(&row, &discovery, &form).await.map_err(|e| match e {
            TokenCallError::Rejected { error, description } => format!("{error}: {description}"),
            TokenCallError::Unreachable(e) => e,
        })?;
        let identity =
            self.store.identity(identity_id).await.map_err(|e| e.to_string())?.ok_or("the identity was removed")?;
        let claims = match tokens.id_token.as_deref() {
            Some(id_token) => {
                let claims = self
                    .verify(&row, &discovery, id_token, None, Some(&tokens.access_token))
                    .await
                    .map_err(|e| format!("{}: {e}", token_code(&e)))?;
                // On refresh the subject must stay the same person (iss and aud are verified already).
                if claims.get("sub").and_then(Value::as_str) != Some(identity.subject.as_str()) {
                    return Err("the refreshed ID token names another subject".into());
                }
                claims
            }
            None => {
                let mut c = Map::new();
                c.insert("sub".into(), Value::from(identity.subject.clone()));
                c
            }
        };
        let person =
            self.person(&row, &discovery, claims, &tokens.access_token).await.map_err(|(c, d)| format!("{c}: {d}"))?;
        self.audit_ambiguous(&row, &person, &ClientInfo::default()).await;
        let mappings = self.store.role_mappings().await.map_err(|e| e.to_string())?;
        let role =
            roles::role_for(&mappings, &row.id, &person.groups).ok_or("the person's groups no longer map to a role")?;
        self.remember(&row, &identity.id, &identity.user_id, &person).await;
        let now = now_ms();
        let refresh_sealed = tokens
            .refresh_token
            .as_deref()
            .map(|t| self.secrets.seal(&session_context(&session.id, "refresh_token"), t));
        let id_token_sealed =
            tokens.id_token.as_deref().map(|t| self.secrets.seal(&session_context(&session.id, "id_token"), t));
        let expires = Some(now + tokens.expires_in.unwrap_or(3600).max(1) * 1000);
        self.store
            .update_session_tokens(
                &session.id,
                refresh_sealed.as_deref(),
                id_token_sealed.as_deref(),
                expires,
                role.as_str(),
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok((person, role, row.name))
    }

    /// The provider's sign-out URL for this session (RP-initiated logout), when it has one.
    pub async fn end_session_url(&self, user: &SignedIn) -> Option<String> {
        let session = self.store.session_tokens(&user.session_id).await.ok()??;
        let provider_id = session.provider_id.as_deref()?;
        let row = self.store.provider(provider_id).await.ok()??;
        let end = discovery_of(&row)?.end_session_endpoint?;
        self.outbound.check(&end).ok()?;
        let id_token = session
            .id_token_sealed
            .as_deref()
            .and_then(|s| self.secrets.open(&session_context(&session.id, "id_token"), s).ok())?;
        Some(format!(
            "{end}{sep}id_token_hint={}&post_logout_redirect_uri={}&state=signed_out",
            encode(id_token.expose()),
            encode(&format!("{}/login", self.public_base)),
            sep = if end.contains('?') { '&' } else { '?' },
        ))
    }
}
