//! The start of a sign-in: the provider's authorization URL with state, nonce and PKCE.

use super::*;

impl SsoService {
    /// Starts an authorization request: a fresh `state`, `nonce` and PKCE verifier, stored
    /// server-side and bound to this browser.
    pub async fn start(
        &self,
        provider_id: &str,
        purpose: Purpose,
        return_to: &str,
        browser_cookie: Option<&str>,
    ) -> Result<Started, StartError> {
        let row = self.store.provider(provider_id).await?.ok_or(StartError::NotFound)?;
        if !row.enabled && matches!(purpose, Purpose::SignIn | Purpose::Access) {
            return Err(StartError::Disabled);
        }
        // Stored with the attempt: anonymous callers must not store unbounded text.
        if return_to.len() > crate::forward_auth::MAX_RETURN_URL {
            return Err(StartError::ReturnTooLong);
        }
        let discovery = discovery_of(&row).ok_or(StartError::NotReady)?;
        let endpoint = discovery.authorization_endpoint.clone().ok_or(StartError::NotReady)?;
        if discovery.token_endpoint.is_none() {
            return Err(StartError::NotReady);
        }
        let browser =
            browser_cookie.filter(|c| (32..=64).contains(&c.len())).map(str::to_string).unwrap_or_else(random_token);
        let (state, nonce, verifier) = (random_token(), random_token(), random_token());
        let now = now_ms();
        let started_by = match &purpose {
            Purpose::SignIn | Purpose::Access => None,
            Purpose::DryRun { by } | Purpose::Link { by } => Some(by.user_id.clone()),
        };
        self.store
            .insert_login_attempt(&LoginAttemptRow {
                id: sha256_hex(&state),
                provider_id: row.id.clone(),
                purpose: purpose.as_str().to_string(),
                browser_hash: sha256_hex(&browser),
                nonce: nonce.clone(),
                pkce_verifier_sealed: self.secrets.seal(&format!("login_attempt/{}", sha256_hex(&state)), &verifier),
                return_to: return_to.to_string(),
                started_by,
                created_at: now,
                expires_at: now + ATTEMPT_TTL_MS,
            })
            .await?;
        let mut url = format!(
            "{endpoint}{sep}response_type=code&client_id={}&redirect_uri={}&scope={}&state={}&nonce={}\
             &code_challenge={}&code_challenge_method=S256",
            encode(&row.client_id),
            encode(&self.redirect_uri),
            encode(&row.scopes),
            encode(&state),
            encode(&nonce),
            pkce_challenge(&verifier),
            sep = if endpoint.contains('?') { '&' } else { '?' },
        );
        if matches!(purpose, Purpose::DryRun { .. } | Purpose::Link { .. }) {
            // A test sign-in is usually for someone else: ask the provider for a fresh sign-in.
            url.push_str("&prompt=login");
        }
        Ok(Started { authorize_url: url, browser_cookie: browser })
    }
}
