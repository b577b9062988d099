//! Talking to the provider's token endpoint and checking what it returns against its JWKS.

use super::*;

impl SsoService {
    pub(super) async fn token_request(
        &self,
        row: &ProviderRow,
        d: &Discovery,
        form: &[(&str, &str)],
    ) -> Result<TokenResponse, TokenCallError> {
        let endpoint =
            d.token_endpoint.as_deref().ok_or_else(|| TokenCallError::Unreachable("no token endpoint".into()))?;
        let secret = self
            .secrets
            .open(&secret_context(&row.id, "client_secret"), &row.client_secret_sealed)
            .map_err(|e| TokenCallError::Unreachable(e.to_string()))?;
        // client_secret_basic unless the provider only takes client_secret_post.
        let post_only = !d.token_endpoint_auth_methods_supported.is_empty()
            && !d.token_endpoint_auth_methods_supported.iter().any(|m| m == "client_secret_basic")
            && d.token_endpoint_auth_methods_supported.iter().any(|m| m == "client_secret_post");
        let mut body: Vec<(&str, &str)> = form.to_vec();
        if post_only {
            body.push(("client_id", row.client_id.as_str()));
            body.push(("client_secret", secret.expose()));
        }
        let client_id = row.client_id.clone();
        let fetched = self
            .outbound
            .send(endpoint, SMALL_BODY, |c, u| {
                let req = c.post(u).header(reqwest::header::ACCEPT, "application/json").form(&body);
                if post_only {
                    req
                } else {
                    // RFC 6749 2.3.1: both parts form-encoded before Basic.
                    req.basic_auth(encode(&client_id), Some(encode(secret.expose())))
                }
            })
            .await
            .map_err(|e| TokenCallError::Unreachable(e.to_string()))?;
        if fetched.status.is_success() {
            return fetched
                .json()
                .map_err(|e| TokenCallError::Unreachable(format!("the token response is not valid: {e}")));
        }
        match fetched.json::<OAuthErrorBody>() {
            Ok(b) => {
                Err(TokenCallError::Rejected { error: b.error, description: b.error_description.unwrap_or_default() })
            }
            Err(_) => Err(TokenCallError::Unreachable(format!("the token endpoint answered {}", fetched.status))),
        }
    }

    /// Verifies an ID token; an unknown key fetches the JWKS again once (key rotation).
    pub(super) async fn verify(
        &self,
        row: &ProviderRow,
        d: &Discovery,
        id_token: &str,
        nonce: Option<&str>,
        access_token: Option<&str>,
    ) -> Result<Map<String, Value>, TokenError> {
        let jwks_uri = d.jwks_uri.as_deref().ok_or_else(|| TokenError::Other("the provider has no jwks_uri".into()))?;
        let expected =
            Expected { issuer: &row.issuer, client_id: &row.client_id, nonce, access_token, now: now_ms() / 1000 };
        let cached = self.jwks_for(&row.id, jwks_uri, false).await?;
        match verify::verify_id_token(id_token, &expected, &cached.set) {
            Err(TokenError::UnknownKey(kid)) => {
                if cached.refetched && cached.fetched.elapsed() < JWKS_REFETCH_EVERY && cached.uri == jwks_uri {
                    // Refetched for an unknown key moments ago: another fetch would not know this key either.
                    return Err(TokenError::UnknownKey(kid));
                }
                let fresh = self.jwks_for(&row.id, jwks_uri, true).await?;
                verify::verify_id_token(id_token, &expected, &fresh.set)
            }
            other => other,
        }
    }

    pub(super) async fn jwks_for(
        &self,
        provider_id: &str,
        uri: &str,
        refetch: bool,
    ) -> Result<Arc<CachedJwks>, TokenError> {
        if !refetch {
            let cached = self.jwks.lock().unwrap_or_else(|p| p.into_inner()).get(provider_id).cloned();
            if let Some(c) = cached.filter(|c| c.uri == uri) {
                return Ok(c);
            }
        }
        let fetched = self.outbound.get(uri, SMALL_BODY).await.map_err(|e| TokenError::Other(format!("JWKS: {e}")))?;
        if !fetched.status.is_success() {
            return Err(TokenError::Other(format!("JWKS: {uri} answered {}", fetched.status)));
        }
        let set = verify::parse_jwks(&fetched.body).map_err(|e| TokenError::Other(format!("JWKS: {e}")))?;
        let entry = Arc::new(CachedJwks { uri: uri.to_string(), set, fetched: Instant::now(), refetched: refetch });
        self.jwks.lock().unwrap_or_else(|p| p.into_inner()).insert(provider_id.to_string(), entry.clone());
        Ok(entry)
    }
}

pub(super) fn token_code(e: &TokenError) -> SsoCode {
    match e.code() {
        "malformed" => SsoCode::TokenMalformed,
        "algorithm" => SsoCode::TokenAlgorithm,
        "signature" => SsoCode::TokenSignature,
        "unknown_key" => SsoCode::TokenUnknownKey,
        "ambiguous_key" => SsoCode::TokenUnknownKey,
        "issuer" => SsoCode::TokenIssuer,
        "audience" => SsoCode::TokenAudience,
        "azp" => SsoCode::TokenAudience,
        "nonce" => SsoCode::TokenNonce,
        "expired" => SsoCode::TokenExpired,
        "iat_future" => SsoCode::TokenIatFuture,
        "nbf" => SsoCode::TokenIatFuture,
        "at_hash" => SsoCode::TokenAtHash,
        _ => SsoCode::TokenInvalid,
    }
}
