//! The provider's redirect back: the code for tokens, the ID token checked, then an account,
//! a role and a session, or a refusal with its code.

use super::*;

impl SsoService {
    /// `/auth/callback`. Never returns a session unless every check passed.
    pub async fn callback(
        &self,
        input: &CallbackInput,
        browser_cookie: Option<&str>,
        current: Option<&SignedIn>,
        client: &ClientInfo,
    ) -> Result<Finished, Refused> {
        let fail = |code: SsoCode, provider: Option<&str>, detail: String| {
            let audit = self.audit.clone();
            let ip = client.ip.clone();
            let provider = provider.map(str::to_string);
            // Only failures before a real attempt is found cost an attacker nothing (a forged
            // state); later ones need a sign-in started and a provider's answer.
            let admitted = if provider.is_none() {
                self.failures.admit(&["sso_failed", ip.as_deref().unwrap_or(""), code.as_str()], now_ms())
            } else {
                Some(0)
            };
            async move {
                let Some(suppressed) = admitted else { return Refused::new(code) };
                let mut event = Event::new(Actor::Anonymous, Action::SsoSignInFailed)
                    .failed()
                    .ip(ip.as_deref())
                    .detail("reason", code.as_str());
                if suppressed > 0 {
                    event = event.detail(
                        "and_more",
                        format!("and {suppressed} more such failures from this address in the minute before"),
                    );
                }
                if let Some(p) = provider {
                    event = event.target(p);
                }
                if !detail.is_empty() {
                    event = event.detail("detail", detail);
                }
                audit.record_or_log(event).await;
                Refused::new(code)
            }
        };
        let Some(state) = input.state.as_deref().filter(|s| !s.is_empty() && s.len() <= 200) else {
            return Err(fail(SsoCode::StateMissing, None, String::new()).await);
        };
        let attempt = match self.store.take_login_attempt(&sha256_hex(state)).await {
            Ok(Some(a)) => a,
            Ok(None) => {
                return Err(fail(SsoCode::StateInvalid, None, "no sign-in in progress has this state".into()).await)
            }
            Err(e) => return Err(fail(SsoCode::Server, None, e.to_string()).await),
        };
        let pid = Some(attempt.provider_id.as_str());
        if attempt.expires_at < now_ms() {
            return Err(fail(SsoCode::StateExpired, pid, String::new()).await);
        }
        let same_browser =
            browser_cookie.is_some_and(|c| crate::accounts::constant_time_eq(&sha256_hex(c), &attempt.browser_hash));
        if !same_browser {
            return Err(fail(SsoCode::BrowserMismatch, pid, "the sign-in was started in another browser".into()).await);
        }
        let row = match self.store.provider(&attempt.provider_id).await {
            Ok(Some(r)) => r,
            Ok(None) => return Err(fail(SsoCode::ProviderGone, pid, String::new()).await),
            Err(e) => return Err(fail(SsoCode::Server, pid, e.to_string()).await),
        };
        // A disabled provider signs nobody in, for the console or the applications; only an
        // admin's test sign-in (which makes no session) still runs.
        if attempt.purpose != "dry_run" && !row.enabled {
            return Err(fail(SsoCode::ProviderDisabled, pid, String::new()).await);
        }
        // Mix-up defence (RFC 9207): a callback naming another issuer is not ours.
        if let Some(iss) = input.iss.as_deref() {
            if iss != row.issuer {
                return Err(fail(SsoCode::IssuerMismatch, pid, format!("callback iss {iss}")).await);
            }
        }
        if let Some(error) = input.error.as_deref() {
            let code = match error {
                "access_denied" => SsoCode::AccessDenied,
                "login_required" | "interaction_required" | "consent_required" => SsoCode::LoginRequired,
                _ => SsoCode::ProviderError,
            };
            let detail = format!("{error}: {}", input.error_description.as_deref().unwrap_or(""));
            return Err(fail(code, pid, detail).await);
        }
        let Some(code) = input.code.as_deref().filter(|c| !c.is_empty()) else {
            return Err(fail(SsoCode::CodeMissing, pid, String::new()).await);
        };
        let Some(discovery) = discovery_of(&row) else {
            return Err(fail(SsoCode::ProviderNotReady, pid, String::new()).await);
        };
        let verifier = match self.secrets.open(&format!("login_attempt/{}", attempt.id), &attempt.pkce_verifier_sealed)
        {
            Ok(v) => v,
            Err(e) => return Err(fail(SsoCode::Server, pid, e.to_string()).await),
        };
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("code_verifier", verifier.expose()),
        ];
        let tokens = match self.token_request(&row, &discovery, &form).await {
            Ok(t) => t,
            Err(TokenCallError::Rejected { error, description }) => {
                let code = match error.as_str() {
                    "invalid_grant" => SsoCode::CodeRejected,
                    "invalid_client" | "unauthorized_client" => SsoCode::ClientRejected,
                    _ => SsoCode::TokenError,
                };
                return Err(fail(code, pid, format!("{error}: {description}")).await);
            }
            Err(TokenCallError::Unreachable(e)) => return Err(fail(SsoCode::ProviderUnreachable, pid, e).await),
        };
        let Some(id_token) = tokens.id_token.as_deref() else {
            return Err(fail(
                SsoCode::NoIdToken,
                pid,
                "the token response has no id_token: is `openid` in the scopes?".into(),
            )
            .await);
        };
        let claims =
            match self.verify(&row, &discovery, id_token, Some(&attempt.nonce), Some(&tokens.access_token)).await {
                Ok(c) => c,
                Err(e) => return Err(fail(token_code(&e), pid, e.to_string()).await),
            };
        let person = match self.person(&row, &discovery, claims, &tokens.access_token).await {
            Ok(p) => p,
            Err((code, detail)) => return Err(fail(code, pid, detail).await),
        };
        self.audit_ambiguous(&row, &person, client).await;
        let mappings = match self.store.role_mappings().await {
            Ok(m) => m,
            Err(e) => return Err(fail(SsoCode::Server, pid, e.to_string()).await),
        };
        let role = roles::role_for(&mappings, &row.id, &person.groups);

        match attempt.purpose.as_str() {
            "dry_run" => {
                let by = current.filter(|u| Some(&u.user_id) == attempt.started_by.as_ref());
                let Some(by) = by else {
                    return Err(fail(
                        SsoCode::BrowserMismatch,
                        pid,
                        "the test sign-in belongs to another admin".into(),
                    )
                    .await);
                };
                let id = self
                    .save_outcome(
                        &row,
                        "dry_run",
                        Some(&by.user_id),
                        &attempt.browser_hash,
                        &person,
                        role,
                        &mappings,
                        true,
                    )
                    .await
                    .map_err(|e| Refused { code: SsoCode::Server, outcome_id: Some(e.to_string()) })?;
                self.audit
                    .record_or_log(
                        Event::new(actor_of(by), Action::SsoDryRun)
                            .target(row.name.clone())
                            .ip(client.ip.as_deref())
                            .detail("subject", person.subject.clone())
                            .detail("groups", person.groups.len())
                            .detail("role", role.map(Role::as_str)),
                    )
                    .await;
                Ok(Finished::DryRun { outcome_id: id, provider_id: row.id.clone() })
            }
            "link" => {
                let by = current.filter(|u| Some(&u.user_id) == attempt.started_by.as_ref());
                let Some(by) = by else {
                    return Err(
                        fail(SsoCode::BrowserMismatch, pid, "the link was started by another account".into()).await
                    );
                };
                match self.store.identity_by_subject(&row.id, &person.subject).await {
                    Ok(Some(existing)) if existing.user_id != by.user_id => {
                        return Err(fail(SsoCode::IdentityTaken, pid, format!("sub {}", person.subject)).await)
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        if let Err(e) = self.store.insert_identity(&new_identity(&by.user_id, &row.id, &person)).await {
                            return Err(fail(SsoCode::Server, pid, e.to_string()).await);
                        }
                    }
                    Err(e) => return Err(fail(SsoCode::Server, pid, e.to_string()).await),
                }
                self.audit
                    .record_or_log(
                        Event::new(actor_of(by), Action::AccountLinked)
                            .target(by.email.clone())
                            .ip(client.ip.as_deref())
                            .detail("provider", row.name.clone())
                            .detail("subject", person.subject.clone()),
                    )
                    .await;
                Ok(Finished::Linked { return_to: attempt.return_to })
            }
            "access" => self.finish_sign_in(&row, &attempt, person, role, &mappings, tokens, client, true).await,
            _ => self.finish_sign_in(&row, &attempt, person, role, &mappings, tokens, client, false).await,
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn finish_sign_in(
        &self,
        row: &ProviderRow,
        attempt: &LoginAttemptRow,
        person: Person,
        role: Option<Role>,
        mappings: &[RoleMappingRow],
        tokens: TokenResponse,
        client: &ClientInfo,
        access: bool,
    ) -> Result<Finished, Refused> {
        let refuse = |code: SsoCode, user: Option<&UserRow>, detail: String, outcome: Option<String>| {
            let audit = self.audit.clone();
            let ip = client.ip.clone();
            let actor =
                user.map(|u| Actor::User { id: u.id.clone(), email: u.email.clone() }).unwrap_or(Actor::Anonymous);
            let action = if code == "no_role" { Action::SsoNoRole } else { Action::SsoSignInFailed };
            let (provider, email) = (row.name.clone(), person.email.clone());
            async move {
                let mut event = Event::new(actor, action)
                    .failed()
                    .target(email)
                    .ip(ip.as_deref())
                    .detail("reason", code.as_str())
                    .detail("provider", provider);
                if !detail.is_empty() {
                    event = event.detail("detail", detail);
                }
                audit.record_or_log(event).await;
                Refused { code, outcome_id: outcome }
            }
        };
        let server = |e: StoreError| Refused { code: SsoCode::Server, outcome_id: Some(e.to_string()) };

        let (user, identity) = match self.store.identity_by_subject(&row.id, &person.subject).await.map_err(server)? {
            Some(identity) => match self.store.user_by_id(&identity.user_id).await.map_err(server)? {
                Some(user) => (user, identity),
                None => return Err(refuse(SsoCode::Server, None, "identity without account".into(), None).await),
            },
            None => match self.store.user_by_email(&person.email).await.map_err(server)? {
                Some(existing) => {
                    // Linking by email hands an existing account to whoever controls that address at the
                    // provider: both sides must have proved the address (an account made from an
                    // unverified claim proves nothing).
                    if person.email_verified != Some(true) || !existing.email_verified {
                        return Err(refuse(SsoCode::EmailUnverified, Some(&existing), String::new(), None).await);
                    }
                    if existing.role.as_deref() == Some("admin") {
                        return Err(refuse(SsoCode::LinkAdmin, Some(&existing), String::new(), None).await);
                    }
                    let identity = new_identity(&existing.id, &row.id, &person);
                    self.store.insert_identity(&identity).await.map_err(server)?;
                    self.audit
                        .record_or_log(
                            Event::new(
                                Actor::User { id: existing.id.clone(), email: existing.email.clone() },
                                Action::AccountLinked,
                            )
                            .target(existing.email.clone())
                            .ip(client.ip.as_deref())
                            .detail("provider", row.name.clone())
                            .detail("by", "verified email"),
                        )
                        .await;
                    (existing, identity)
                }
                None => {
                    if role.is_none() && !access {
                        // No account for people who may not enter.
                        let outcome = self
                            .save_outcome(row, "no_role", None, &attempt.browser_hash, &person, None, mappings, false)
                            .await
                            .ok();
                        return Err(refuse(SsoCode::NoRole, None, groups_detail(&person), outcome).await);
                    }
                    let now = now_ms();
                    let user = UserRow {
                        id: new_id(),
                        email: person.email.clone(),
                        display_name: person.name.clone(),
                        password_hash: None,
                        role: None,
                        disabled_at: None,
                        created_at: now,
                        updated_at: now,
                        email_verified: email_vouched(row, &person),
                    };
                    let identity = new_identity(&user.id, &row.id, &person);
                    self.store.insert_user_with_identity(&user, &identity).await.map_err(server)?;
                    (user, identity)
                }
            },
        };
        if user.disabled_at.is_some() {
            return Err(refuse(SsoCode::AccountDisabled, Some(&user), String::new(), None).await);
        }
        if access {
            self.remember(row, &identity.id, &user.id, &person).await;
            self.audit
                .record_or_log(
                    Event::new(Actor::User { id: user.id.clone(), email: person.email.clone() }, Action::SignIn)
                        .target(person.email.clone())
                        .ip(client.ip.as_deref())
                        .detail("method", "sso")
                        .detail("for", "applications")
                        .detail("provider", row.name.clone()),
                )
                .await;
            return Ok(Finished::Access {
                user_id: user.id,
                identity_id: identity.id,
                return_to: attempt.return_to.clone(),
            });
        }
        let Some(role) = role else {
            let outcome = self
                .save_outcome(row, "no_role", None, &attempt.browser_hash, &person, None, mappings, false)
                .await
                .ok();
            return Err(refuse(SsoCode::NoRole, Some(&user), groups_detail(&person), outcome).await);
        };
        self.remember(row, &identity.id, &user.id, &person).await;

        let draft = SessionDraft::new(self.policy, client);
        let (session_id, now) = (draft.id.clone(), draft.now);
        let refresh_sealed = tokens
            .refresh_token
            .as_deref()
            .map(|t| self.secrets.seal(&session_context(&session_id, "refresh_token"), t));
        let id_token_sealed =
            tokens.id_token.as_deref().map(|t| self.secrets.seal(&session_context(&session_id, "id_token"), t));
        // Without a refresh token there is nothing to renew: groups are read again at the next sign-in.
        let tokens_expire_at =
            tokens.refresh_token.as_ref().map(|_| now + tokens.expires_in.unwrap_or(3600).max(1) * 1000);
        self.store
            .insert_session(
                &session_id,
                &user.id,
                now,
                draft.expires_at,
                client.ip.as_deref(),
                draft.user_agent.as_deref(),
                Some(&ProviderSessionInput {
                    identity_id: &identity.id,
                    refresh_token_sealed: refresh_sealed.as_deref(),
                    id_token_sealed: id_token_sealed.as_deref(),
                    tokens_expire_at,
                    role: role.as_str(),
                }),
            )
            .await
            .map_err(server)?;
        self.audit
            .record_or_log(
                Event::new(Actor::User { id: user.id.clone(), email: person.email.clone() }, Action::SignIn)
                    .target(person.email.clone())
                    .ip(client.ip.as_deref())
                    .detail("method", "sso")
                    .detail("provider", row.name.clone())
                    .detail("role", role.as_str())
                    .detail("groups_source", person.groups_source),
            )
            .await;
        Ok(Finished::SignedIn {
            session: draft.issued(&user.id, &person.email, &person.name, role, Some(identity.id.clone())),
            return_to: attempt.return_to.clone(),
        })
    }
}
