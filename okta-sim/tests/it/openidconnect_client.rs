//! Driven by a client nobody here wrote: the `openidconnect` crate (v4).

use crate::common::*;
use okta_sim::{sample, Options};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};

fn oidc_http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn discover(issuer: &str, http: &openidconnect::reqwest::Client) -> Result<CoreProviderMetadata, String> {
    CoreProviderMetadata::discover_async(IssuerUrl::new(issuer.to_owned()).unwrap(), http)
        .await
        .map_err(|e| format!("{e:?}"))
}

#[tokio::test]
async fn openidconnect_discovers_both_servers_and_completes_the_code_flow() {
    let sim = start().await;
    let http = oidc_http();
    discover(&sim.default_issuer(), &http).await.expect("custom server discovery");
    let meta = discover(sim.base_url(), &http).await.expect("org discovery");
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(sample::OIDC_CLIENT_ID.to_owned()),
        Some(ClientSecret::new(sample::OIDC_CLIENT_SECRET.to_owned())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap());

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("groups".into()))
        .set_pkce_challenge(challenge)
        .url();
    let loc = sign_in(&browser(), &sim, url.as_str(), sample::SIGN_IN_LOGIN, sample::SIGN_IN_PASSWORD).await;
    let params = redirect_params(&loc);
    assert_eq!(param(&params, "state").as_deref(), Some(csrf.secret().as_str()));
    let code = param(&params, "code").unwrap();

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("token exchange with client_secret_basic");
    let id_token = tokens.id_token().expect("id_token");
    let verifier = client.id_token_verifier();
    let claims = id_token.claims(&verifier, &nonce).expect("ID token verifies");
    assert_eq!(claims.issuer().as_str(), sim.base_url());
    assert_eq!(claims.preferred_username().unwrap().as_str(), sample::SIGN_IN_LOGIN);
    assert_eq!(claims.email().unwrap().as_str(), sample::SIGN_IN_LOGIN);
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected_hash));
    // Custom claims need their own types in openidconnect; read `groups` from the payload.
    let raw = claims_of_raw(&id_token.to_string());
    assert!(raw["groups"].as_array().unwrap().iter().any(|g| g == "Portcullis Admins"));

    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo with matching sub");
    assert_eq!(info.email().unwrap().as_str(), sample::SIGN_IN_LOGIN);
}

fn claims_of_raw(jwt: &str) -> serde_json::Value {
    claims(jwt)
}

#[tokio::test]
async fn openidconnect_refuses_discovery_with_the_wrong_issuer() {
    let sim = start().await;
    sim.control().set_wrong_issuer(true);
    let err = discover(sim.base_url(), &oidc_http()).await.unwrap_err();
    assert!(err.contains("Validation") || err.contains("issuer"), "{err}");
}

#[tokio::test]
async fn openidconnect_refuses_an_id_token_with_the_wrong_issuer() {
    let sim = start().await;
    let http = oidc_http();
    let meta = discover(sim.base_url(), &http).await.unwrap();
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(sample::OIDC_CLIENT_ID.to_owned()),
        Some(ClientSecret::new(sample::OIDC_CLIENT_SECRET.to_owned())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap());
    sim.control().set_wrong_token_issuer(true);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(challenge)
        .url();
    let loc = sign_in(&browser(), &sim, url.as_str(), sample::SIGN_IN_LOGIN, sample::SIGN_IN_PASSWORD).await;
    let code = param(&redirect_params(&loc), "code").unwrap();
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    assert!(tokens.id_token().unwrap().claims(&client.id_token_verifier(), &nonce).is_err());
}

#[tokio::test]
async fn a_rotated_key_unknown_to_the_cached_jwks_fails_until_rediscovery() {
    let mut f = okta_sim::Fixture::sample();
    f.switches.publish_next_key = false;
    let sim = start_with(f, Options::default()).await;
    let http = oidc_http();
    let meta = discover(sim.base_url(), &http).await.unwrap();
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(sample::OIDC_CLIENT_ID.to_owned()),
        Some(ClientSecret::new(sample::OIDC_CLIENT_SECRET.to_owned())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap());
    sim.control().rotate_keys().unwrap();
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(challenge)
        .url();
    let loc = sign_in(&browser(), &sim, url.as_str(), sample::SIGN_IN_LOGIN, sample::SIGN_IN_PASSWORD).await;
    let code = param(&redirect_params(&loc), "code").unwrap();
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().unwrap();
    assert!(id_token.claims(&client.id_token_verifier(), &nonce).is_err(), "stale JWKS");
    let fresh = CoreClient::from_provider_metadata(
        discover(sim.base_url(), &http).await.unwrap(),
        ClientId::new(sample::OIDC_CLIENT_ID.to_owned()),
        Some(ClientSecret::new(sample::OIDC_CLIENT_SECRET.to_owned())),
    );
    assert!(id_token.claims(&fresh.id_token_verifier(), &nonce).is_ok(), "refetched JWKS");
    assert!(tokens.refresh_token().is_none());
}
