//! Step 1's checks: discovery, issuer, metadata, JWKS, client credentials, scopes.
//! Each failure says what Portcullis saw and what to change, in the provider's terms.

use std::time::Instant;

use base64::Engine;
use rand::RngCore;
use serde::Deserialize;

use super::{
    normalize::{normalize, Normalized},
    report::{skipped, Check, Report, Timer},
    AuthServer, ClientSettings, ProviderKind,
};
use crate::outbound::{Fetched, Outbound, OutboundError, SMALL_BODY};

/// The parts of a discovery document Portcullis uses.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub jwks_uri: Option<String>,
    pub userinfo_endpoint: Option<String>,
    pub end_session_endpoint: Option<String>,
    #[serde(default)]
    pub response_types_supported: Vec<String>,
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
}

/// What the checks learned, for saving with the provider.
#[derive(Debug, Clone)]
pub struct ClientCheckOutcome {
    pub report: Report,
    pub normalized: Option<Normalized>,
    pub discovery: Option<Discovery>,
}

/// Runs every client check. `redirect_uri` is `{PUBLIC_URL}/auth/callback`.
pub async fn check_client(outbound: &Outbound, settings: &ClientSettings, redirect_uri: &str) -> ClientCheckOutcome {
    let started = Instant::now();
    let mut checks = Vec::new();

    // 1. The Base URL.
    let timer = Timer::start("base_url", "Base URL");
    let mut normalized = match normalize(settings.kind, &settings.base_url, &settings.auth_server) {
        Ok(n) => {
            let mut detail = format!("Expecting the issuer {}.", n.issuer);
            for change in &n.changes {
                detail.push(' ');
                detail.push_str(change);
            }
            checks.push(timer.passed(detail));
            n
        }
        Err(e) => {
            let example = match settings.kind {
                ProviderKind::Okta => "Enter your Okta org's URL, e.g. https://dev-123456.okta.com.",
                ProviderKind::Oidc => "Enter your provider's issuer URL, e.g. https://login.example.com/realms/main.",
            };
            checks.push(timer.failed(e.to_string(), example));
            return finish(checks, started, None, None);
        }
    };

    // 2. The discovery document, and its issuer.
    let timer = Timer::start("discovery", "Discovery document");
    let discovery_url = format!("{}/.well-known/openid-configuration", normalized.issuer);
    let discovery = match fetch_discovery(outbound, &discovery_url).await {
        Ok(d) => {
            checks.push(timer.passed(format!("Fetched {discovery_url}.")));
            d
        }
        Err((detail, fix)) => {
            checks.push(timer.failed(detail, fix));
            for (id, title) in LATER_CHECKS {
                checks.push(skipped(id, title, "the discovery document could not be read"));
            }
            return finish(checks, started, Some(normalized), None);
        }
    };

    let timer = Timer::start("issuer", "Issuer matches the Base URL");
    // Auth0 and authentik state their issuer with a trailing slash, which the Base URL loses;
    // tokens carry it exactly as stated, so that is the issuer kept.
    let slash_only = settings.kind == ProviderKind::Oidc
        && discovery.issuer.strip_suffix('/').is_some_and(|i| i == normalized.issuer);
    if slash_only {
        normalized.issuer.clone_from(&discovery.issuer);
    }
    if discovery.issuer == normalized.issuer {
        checks.push(timer.passed(format!("The provider says its issuer is {}, as expected.", discovery.issuer)));
    } else {
        let (detail, fix) = issuer_mismatch(settings.kind, &normalized, &discovery.issuer);
        checks.push(timer.failed(detail, fix));
    }

    // 3. Required metadata.
    let timer = Timer::start("metadata", "Required endpoints and features");
    checks.push(check_metadata(timer, outbound, &discovery, settings.pkce));

    // 4 and 5 are independent: run them together.
    let (jwks, credentials) = tokio::join!(
        check_jwks(outbound, &discovery),
        check_credentials(outbound, &discovery, settings, redirect_uri),
    );
    checks.push(jwks);
    checks.push(credentials);

    // 6. Scopes.
    checks.push(check_scopes(&discovery, &settings.scopes, settings.kind, &normalized.auth_server));

    finish(checks, started, Some(normalized), Some(discovery))
}

const LATER_CHECKS: [(&str, &str); 5] = [
    ("issuer", "Issuer matches the Base URL"),
    ("metadata", "Required endpoints and features"),
    ("jwks", "Signing keys (JWKS)"),
    ("client_credentials", "Client ID and Client secret"),
    ("scopes", "Scopes"),
];

fn finish(
    checks: Vec<Check>,
    started: Instant,
    normalized: Option<Normalized>,
    discovery: Option<Discovery>,
) -> ClientCheckOutcome {
    ClientCheckOutcome {
        report: Report { checks, total_ms: started.elapsed().as_millis() as u64 },
        normalized,
        discovery,
    }
}

/// A failure's (detail, fix) for an outbound error.
pub fn explain_outbound(e: &OutboundError) -> (String, String) {
    (e.to_string(), e.fix().to_string())
}

async fn fetch_discovery(outbound: &Outbound, url: &str) -> Result<Discovery, (String, String)> {
    let fetched = outbound.get(url, SMALL_BODY).await.map_err(|e| explain_outbound(&e))?;
    if fetched.status == reqwest::StatusCode::NOT_FOUND {
        return Err((
            format!("{url} answered 404: there is no OpenID Connect discovery document there."),
            "For Okta, the Base URL is your org URL (https://dev-123456.okta.com) and the authorization server is Org or a custom server ID such as default. For other providers, use the issuer URL from their documentation.".into(),
        ));
    }
    if !fetched.status.is_success() {
        return Err((
            format!("{url} answered HTTP {}.", fetched.status.as_u16()),
            "Check the Base URL and that the provider is healthy.".into(),
        ));
    }
    fetched.json::<Discovery>().map_err(|e| {
        (
            format!("{url} did not return a discovery document ({e})."),
            "Check that the Base URL points at an OpenID Connect provider.".into(),
        )
    })
}

fn issuer_mismatch(kind: ProviderKind, n: &Normalized, found: &str) -> (String, String) {
    let detail = format!(
        "The provider says its issuer is {found}, but the Base URL gives {}. Tokens would be refused.",
        n.issuer
    );
    let fix = match kind {
        ProviderKind::Okta => {
            let org_prefix = format!("{}/oauth2/", n.base_url);
            if found == n.base_url {
                "This is the org authorization server: set Authorization server to Org.".to_string()
            } else if let Some(id) = found.strip_prefix(&org_prefix) {
                format!("This is the custom authorization server '{id}': set Authorization server to {id}.")
            } else {
                format!("Use the Base URL {found} (your Okta org's URL, without /oauth2/…).")
            }
        }
        ProviderKind::Oidc => format!("Use {found} as the Base URL."),
    };
    (detail, fix)
}

fn check_metadata(timer: Timer, outbound: &Outbound, d: &Discovery, pkce: bool) -> Check {
    let mut missing = Vec::new();
    for (name, value) in [
        ("authorization_endpoint", &d.authorization_endpoint),
        ("token_endpoint", &d.token_endpoint),
        ("jwks_uri", &d.jwks_uri),
    ] {
        match value {
            None => missing.push(format!("{name} is missing")),
            // Endpoints from the document are as untrusted as the Base URL.
            Some(url) => {
                if let Err(e) = outbound.check(url) {
                    missing.push(format!("{name}: {e}"));
                }
            }
        }
    }
    if !d.response_types_supported.iter().any(|r| r == "code") {
        missing.push("the authorization code flow (response type code) is not supported".into());
    }
    if pkce && !d.code_challenge_methods_supported.iter().any(|m| m == "S256") {
        missing.push("PKCE with S256 is not listed in code_challenge_methods_supported".into());
    }
    if missing.is_empty() {
        timer.passed("Authorization, token and JWKS endpoints present; code flow and PKCE S256 supported.")
    } else {
        timer.failed(
            format!("The discovery document is incomplete: {}.", missing.join("; ")),
            if pkce && missing.iter().any(|m| m.contains("PKCE")) {
                "Turn PKCE off only if the provider cannot do it; otherwise check that the Base URL is the provider's issuer."
            } else {
                "Check that the Base URL is the issuer of an OpenID Connect provider."
            },
        )
    }
}

async fn check_jwks(outbound: &Outbound, d: &Discovery) -> Check {
    let timer = Timer::start("jwks", "Signing keys (JWKS)");
    let Some(url) = &d.jwks_uri else {
        return timer.failed("The discovery document has no jwks_uri.", "Check the provider's configuration.");
    };
    let fetched = match outbound.get(url, SMALL_BODY).await {
        Ok(f) if f.status.is_success() => f,
        Ok(f) => {
            return timer.failed(
                format!("{url} answered HTTP {}.", f.status.as_u16()),
                "The provider's signing keys must be readable without authentication; check the provider.",
            )
        }
        Err(e) => {
            let (detail, fix) = explain_outbound(&e);
            return timer.failed(detail, fix);
        }
    };
    match usable_signing_keys(&fetched) {
        Ok(0) => timer.failed(
            format!("{url} holds no usable signing key (RSA or EC, for signatures)."),
            "The provider must publish the public keys it signs ID tokens with.",
        ),
        Ok(n) => timer.passed(format!("{n} usable signing key{} at {url}.", if n == 1 { "" } else { "s" })),
        Err(e) => timer.failed(format!("{url} is not a JSON Web Key Set: {e}."), "Check the provider's jwks_uri."),
    }
}

/// Counts keys that can verify signatures; keys of unknown types are ignored, not fatal.
pub fn usable_signing_keys(fetched: &Fetched) -> Result<usize, String> {
    #[derive(Deserialize)]
    struct Set {
        keys: Vec<serde_json::Value>,
    }
    let set: Set = fetched.json().map_err(|e| e.to_string())?;
    Ok(set
        .keys
        .into_iter()
        .filter_map(|k| serde_json::from_value::<jsonwebtoken::jwk::Jwk>(k).ok())
        .filter(|k| k.common.public_key_use.as_ref().is_none_or(|u| *u == jsonwebtoken::jwk::PublicKeyUse::Signature))
        .filter(|k| {
            matches!(
                k.algorithm,
                jsonwebtoken::jwk::AlgorithmParameters::RSA(_)
                    | jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_)
            )
        })
        .filter(|k| jsonwebtoken::DecodingKey::from_jwk(k).is_ok())
        .count())
}

#[derive(Deserialize)]
struct OAuthError {
    error: Option<String>,
    error_description: Option<String>,
    // Okta sometimes answers in its own shape.
    #[serde(rename = "errorCode")]
    error_code: Option<String>,
    #[serde(rename = "errorSummary")]
    error_summary: Option<String>,
}

/// Proves the client secret without a user: a made-up authorization code is
/// refused with `invalid_grant` only after the client itself was accepted.
async fn check_credentials(outbound: &Outbound, d: &Discovery, s: &ClientSettings, redirect_uri: &str) -> Check {
    let timer = Timer::start("client_credentials", "Client ID and Client secret");
    let Some(token_url) = &d.token_endpoint else {
        return timer.failed("The discovery document has no token endpoint.", "Check the provider's configuration.");
    };
    if s.client_id.trim().is_empty() || s.client_secret.expose().is_empty() {
        return timer
            .failed("The Client ID or Client secret is empty.", "Copy both from the app's General tab in Okta.");
    }
    let mut code = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut code);
    let bogus = format!("portcullis-check-{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(code));
    // client_secret_basic is the default; use post only where basic is not offered.
    let methods = &d.token_endpoint_auth_methods_supported;
    let use_post = !methods.is_empty()
        && !methods.iter().any(|m| m == "client_secret_basic")
        && methods.iter().any(|m| m == "client_secret_post");
    let mut form = vec![
        ("grant_type", "authorization_code".to_string()),
        ("code", bogus),
        ("redirect_uri", redirect_uri.to_string()),
    ];
    if s.pkce {
        form.push(("code_verifier", "portcullis-check-verifier-0123456789abcdefghijklmnop".to_string()));
    }
    if use_post {
        form.push(("client_id", s.client_id.trim().to_string()));
        form.push(("client_secret", s.client_secret.expose().to_string()));
    }
    let id = s.client_id.trim().to_string();
    let secret = s.client_secret.expose().to_string();
    let result = outbound
        .send(token_url, SMALL_BODY, move |c, u| {
            let req = c.post(u).header(reqwest::header::ACCEPT, "application/json").form(&form);
            if use_post {
                req
            } else {
                // RFC 6749 §2.3.1: form-encode both before Basic.
                let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
                req.basic_auth(enc(&id), Some(enc(&secret)))
            }
        })
        .await;
    let fetched = match result {
        Ok(f) => f,
        Err(e) => {
            let (detail, fix) = explain_outbound(&e);
            return timer.failed(detail, fix);
        }
    };
    let err: Option<OAuthError> = fetched.json().ok();
    let code = err.as_ref().and_then(|e| e.error.clone().or_else(|| e.error_code.clone())).unwrap_or_default();
    let description =
        err.as_ref().and_then(|e| e.error_description.clone().or_else(|| e.error_summary.clone())).unwrap_or_default();
    let how = if use_post { "client_secret_post" } else { "client_secret_basic" };
    match code.as_str() {
        "invalid_grant" => timer.passed(format!(
            "The provider accepted the Client ID and Client secret ({how}); it refused the made-up test code, as it should."
        )),
        "invalid_client" => timer.failed(
            format!("The provider refused the client: wrong Client ID or Client secret ({description})."),
            "Copy the Client ID and Client secret again from the app's General tab in Okta (Client Credentials). If the secret was rotated, use the new one.",
        ),
        "unauthorized_client" => timer.failed(
            format!("The client is accepted but may not use the authorization code flow ({description})."),
            "In Okta: the app's General tab → Grant type → check Authorization Code. The app must be an OIDC Web Application.",
        ),
        "invalid_dpop_proof" | "use_dpop_nonce" => timer.failed(
            "The app requires DPoP for sign-in tokens, which browser sign-ins to Portcullis do not use.".to_string(),
            "In Okta: the app's General tab → uncheck Require Demonstrating Proof of Possession (DPoP) for this sign-in app (keep it on the API service app).",
        ),
        _ if fetched.status.is_success() => timer.warning(
            "The token endpoint accepted a made-up code; this provider does not check codes properly.",
            "Check the provider; Portcullis will still verify every ID token.",
        ),
        _ => timer.warning(
            format!(
                "Unexpected answer from the token endpoint: HTTP {} {} {}",
                fetched.status.as_u16(),
                code,
                description
            ),
            "The credentials could not be proven; sign in once to test them.",
        ),
    }
}

fn check_scopes(d: &Discovery, scopes: &[String], kind: ProviderKind, server: &AuthServer) -> Check {
    let timer = Timer::start("scopes", "Scopes");
    if !scopes.iter().any(|s| s == "openid") {
        return timer.failed("The scopes do not include openid.", "Add openid to the scopes: sign-in needs it.");
    }
    if d.scopes_supported.is_empty() {
        return timer.passed("The provider does not list its scopes; the requested ones will be tried at sign-in.");
    }
    let unsupported: Vec<&String> = scopes.iter().filter(|s| !d.scopes_supported.contains(s)).collect();
    if unsupported.is_empty() {
        return timer.passed(format!("All requested scopes are supported: {}.", scopes.join(" ")));
    }
    let names = unsupported.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
    if unsupported.iter().any(|s| *s == "groups") {
        let fix = match (kind, server) {
            (ProviderKind::Okta, AuthServer::Custom(id)) => format!(
                "The custom authorization server '{id}' does not offer a groups scope by default: in Okta, Security → API → {id} → Scopes, add 'groups' (and a groups claim under Claims), or use the Org server. Without it, groups come from directory synchronization."
            ),
            _ => "Without the groups scope, groups come from directory synchronization (step 2).".to_string(),
        };
        timer.warning(format!("Not supported by the provider: {names}."), fix)
    } else {
        timer.warning(
            format!("Not supported by the provider: {names}."),
            "Remove these scopes, or enable them at the provider.",
        )
    }
}
