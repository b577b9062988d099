//! Service apps: `private_key_jwt` client assertions, scopes, DPoP at the token endpoint and
//! at the Management API (okta-api.md §3.2–§3.4).

use crate::common::*;
use okta_sim::testkit::{client_assertion, client_assertion_with_claims, DpopKey};
use okta_sim::{sample, Fixture, Options};
use reqwest::StatusCode;
use serde_json::{json, Value};

const SCOPES: &str = "okta.users.read okta.groups.read";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

async fn with_assertion(sim: &okta_sim::Sim, assertion: &str) -> Value {
    let r = http()
        .post(token_url(sim))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", SCOPES),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    json(r).await
}

fn claims_for(sim: &okta_sim::Sim) -> Value {
    let id = sample::SERVICE_NO_DPOP_CLIENT_ID;
    json!({"iss": id, "sub": id, "aud": token_url(sim), "iat": now(), "exp": now() + 300, "jti": format!("j-{}", now())})
}

#[tokio::test]
async fn a_service_app_without_dpop_gets_an_okta_shaped_bearer_token() {
    let sim = start().await;
    let r = cc_request(&sim, sample::SERVICE_NO_DPOP_CLIENT_ID, SCOPES, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = json(r).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], SCOPES);
    assert!(body.get("refresh_token").is_none() && body.get("id_token").is_none());
    let at = body["access_token"].as_str().unwrap();
    assert_eq!(header(at)["typ"], "application/okta-internal-at+jwt");
    let c = claims(at);
    assert_eq!(c["iss"], sim.base_url());
    assert_eq!(c["aud"], sim.base_url());
    assert_eq!(c["sub"], sample::SERVICE_NO_DPOP_CLIENT_ID);
    assert_eq!(c["cid"], sample::SERVICE_NO_DPOP_CLIENT_ID);
    assert_eq!(c["scp"], json!(["okta.users.read", "okta.groups.read"]));
}

#[tokio::test]
async fn a_replayed_client_assertion_jti_is_refused() {
    let sim = start().await;
    let a = client_assertion(&private_jwk(), sample::SERVICE_NO_DPOP_CLIENT_ID, &token_url(&sim)).unwrap();
    let send = || {
        http()
            .post(token_url(&sim))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", SCOPES),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", &a),
            ])
            .send()
    };
    assert_eq!(send().await.unwrap().status(), StatusCode::OK);
    let second = send().await.unwrap();
    assert_eq!(second.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        json(second).await,
        json!({"error": "invalid_client", "error_description": "The client_assertion token has already been used."})
    );
}

#[tokio::test]
async fn an_assertion_without_jti_is_accepted_like_defguard_sends_it() {
    let sim = start().await;
    let mut c = claims_for(&sim);
    c.as_object_mut().unwrap().remove("jti");
    c["exp"] = json!(now() + 3600);
    let a = client_assertion_with_claims(&private_jwk(), &c).unwrap();
    for _ in 0..2 {
        let r = http()
            .post(token_url(&sim))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", SCOPES),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", &a),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn assertion_claims_are_checked_as_okta_does() {
    let sim = start().await;
    let jwk = private_jwk();
    type Mutation = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Mutation, &str)> = vec![
        (
            Box::new(|c| c["iss"] = json!("someone-else")),
            "The issuer claim for client_assertion is not a valid client_id.",
        ),
        (
            Box::new(|c| c["sub"] = json!("someone-else")),
            "The subject claim for client_assertion is not a valid client_id.",
        ),
        (
            Box::new(|c| c["aud"] = json!("https://example.okta.com/oauth2/v1/token")),
            "The audience claim for client_assertion must be the endpoint invoked for the request.",
        ),
        (
            Box::new(|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
            "The client_assertion must contain the 'exp' claim as seconds since epoch.",
        ),
        (Box::new(|c| c["exp"] = json!(now() - 120)), "The client_assertion token is expired."),
        (
            Box::new(|c| c["exp"] = json!(now() + 7200)),
            "The client_assertion token has an expiration too far into the future.",
        ),
        (
            Box::new(|c| c["iat"] = json!(now() + 600)),
            "The client_assertion token must be issued before the current time.",
        ),
    ];
    for (i, (mutate, expected)) in cases.into_iter().enumerate() {
        let mut c = claims_for(&sim);
        c["jti"] = json!(format!("case-{i}"));
        mutate(&mut c);
        let a = client_assertion_with_claims(&jwk, &c).unwrap();
        let body = with_assertion(&sim, &a).await;
        assert_eq!(body["error"], "invalid_client", "case {i}");
        assert_eq!(body["error_description"], expected, "case {i}");
    }
}

#[tokio::test]
async fn assertion_signature_kid_and_algorithm_are_checked() {
    let sim = start().await;
    let mut jwk = private_jwk();
    let c = claims_for(&sim);
    let a = client_assertion_with_claims(&jwk, &c).unwrap();
    let mut parts: Vec<String> = a.split('.').map(str::to_owned).collect();
    parts[2] = parts[2].chars().rev().collect();
    let body = with_assertion(&sim, &parts.join(".")).await;
    assert_eq!(body["error_description"], "The client_assertion signature is invalid.");

    jwk["kid"] = json!("not-a-registered-kid");
    let a = client_assertion_with_claims(&jwk, &claims_for(&sim)).unwrap();
    assert_eq!(with_assertion(&sim, &a).await["error_description"], "The client_assertion JWT kid is invalid.");

    assert_eq!(
        with_assertion(&sim, "garbage").await["error_description"],
        "The parsing of the client_assertion failed."
    );

    // HS256 for a private_key_jwt app is not how it authenticates.
    let hs = {
        use base64::Engine;
        let e = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!("{}.{}.c2ln", e(&json!({"alg": "none"})), e(&claims_for(&sim)))
    };
    assert_eq!(
        with_assertion(&sim, &hs).await["error_description"],
        "The client_assertion JWT signature algorithm is invalid."
    );
}

#[tokio::test]
async fn an_es256_key_registered_on_the_app_can_sign_assertions() {
    use p256::pkcs8::EncodePrivateKey;
    let sk = p256::ecdsa::SigningKey::random(&mut rand::thread_rng());
    let point = sk.verifying_key().to_encoded_point(false);
    let b64 = |b: &[u8]| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    };
    let public = json!({"kty": "EC", "crv": "P-256", "kid": "ec-1", "use": "sig", "alg": "ES256",
        "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap())});
    let mut f = Fixture::sample();
    f.service_apps[1].jwks = json!({"keys": [public]});
    let sim = start_with(f, Options::default()).await;
    let der = sk.to_pkcs8_der().unwrap();
    let key = jsonwebtoken::EncodingKey::from_ec_der(der.as_bytes());
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("ec-1".into());
    let a = jsonwebtoken::encode(&header, &claims_for(&sim), &key).unwrap();
    let r = http()
        .post(token_url(&sim))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", SCOPES),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &a),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn scopes_are_granted_per_app() {
    let sim = start().await;
    let r = cc_request(&sim, sample::SERVICE_MISSING_SCOPE_CLIENT_ID, SCOPES, None).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        json(r).await,
        json!({"error": "consent_required", "error_description": "You are not allowed any of the requested scopes."})
    );

    let r = cc_request(&sim, sample::SERVICE_MISSING_SCOPE_CLIENT_ID, "okta.users.read", None).await;
    assert_eq!(r.status(), StatusCode::OK);

    let r = cc_request(&sim, sample::SERVICE_NO_DPOP_CLIENT_ID, "openid okta.users.read", None).await;
    assert_eq!(json(r).await["error_description"], "Cannot request 'openid' scopes using client credentials.");

    let r = cc_request(&sim, sample::SERVICE_NO_DPOP_CLIENT_ID, "", None).await;
    assert_eq!(
        json(r).await["error_description"],
        "The authorization server resource does not have any configured default scopes, 'scope' must be provided."
    );
}

#[tokio::test]
async fn the_ungranted_scope_error_is_switchable_to_invalid_scope() {
    let mut f = Fixture::sample();
    f.switches.ungranted_scope_error = okta_sim::switches::UngrantedScopeError::InvalidScope;
    let sim = start_with(f, Options::default()).await;
    let r = cc_request(&sim, sample::SERVICE_MISSING_SCOPE_CLIENT_ID, SCOPES, None).await;
    assert_eq!(json(r).await["error"], "invalid_scope");
}

#[tokio::test]
async fn a_dpop_app_without_a_proof_gets_the_missing_header_error() {
    let sim = start().await;
    let r = cc_request(&sim, sample::SERVICE_CLIENT_ID, SCOPES, None).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        json(r).await,
        json!({"error": "invalid_dpop_proof", "error_description": "The DPoP proof JWT header is missing."})
    );
}

#[tokio::test]
async fn a_dpop_proof_without_nonce_gets_use_dpop_nonce_and_the_nonce_header() {
    let sim = start().await;
    let key = DpopKey::generate();
    let r = cc_request(&sim, sample::SERVICE_CLIENT_ID, SCOPES, Some(key.proof("POST", &token_url(&sim), None, None)))
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.headers()["cache-control"], "no-cache, no-store");
    assert!(!r.headers()["dpop-nonce"].is_empty());
    assert_eq!(
        json(r).await,
        json!({"error": "use_dpop_nonce", "error_description": "Authorization server requires nonce in DPoP proof."})
    );
}

#[tokio::test]
async fn the_assertion_jti_is_spent_even_when_okta_asks_for_a_nonce() {
    let sim = start().await;
    let key = DpopKey::generate();
    let url = token_url(&sim);
    let a = client_assertion(&private_jwk(), sample::SERVICE_CLIENT_ID, &url).unwrap();
    let send = |proof: String| {
        http()
            .post(&url)
            .header("DPoP", proof)
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", SCOPES),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", &a),
            ])
            .send()
    };
    let first = send(key.proof("POST", &url, None, None)).await.unwrap();
    let nonce = first.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    let second = send(key.proof("POST", &url, Some(&nonce), None)).await.unwrap();
    assert_eq!(second.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json(second).await["error_description"], "The client_assertion token has already been used.");
}

#[tokio::test]
async fn the_dpop_round_trip_yields_a_bound_token() {
    let sim = start().await;
    let key = DpopKey::generate();
    let at = dpop_token(&sim, &key, SCOPES).await;
    assert_eq!(claims(&at)["cnf"]["jkt"], key.thumbprint());
}

#[tokio::test]
async fn bad_dpop_proofs_get_oktas_texts() {
    let sim = start().await;
    let key = DpopKey::generate();
    let url = token_url(&sim);
    let nonce = {
        let r = cc_request(&sim, sample::SERVICE_CLIENT_ID, SCOPES, Some(key.proof("POST", &url, None, None))).await;
        r.headers()["dpop-nonce"].to_str().unwrap().to_owned()
    };
    let cases = [
        (key.proof("GET", &url, Some(&nonce), None), "'htm' claim in the DPoP proof JWT is invalid."),
        (
            key.proof("POST", "http://127.0.0.1:1/oauth2/v1/token", Some(&nonce), None),
            "'htu' claim in the DPoP proof JWT is invalid.",
        ),
        (
            key.sign(
                &json!({"typ": "JWT", "alg": "ES256", "jwk": key.public_jwk()}),
                &json!({"htm": "POST", "htu": url, "iat": now(), "jti": "x"}),
            ),
            "'typ' must be 'dpop+jwt' in the DPoP proof JWT.",
        ),
        (key.proof_at("POST", &url, Some(&nonce), None, now() + 3600), "The DPoP proof JWT is issued in the future."),
        ("abc.def".to_owned(), "The DPoP proof JWT cannot be parsed."),
    ];
    for (proof, expected) in cases {
        let r = cc_request(&sim, sample::SERVICE_CLIENT_ID, SCOPES, Some(proof)).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{expected}");
        let body = json(r).await;
        assert_eq!(body["error"], "invalid_dpop_proof");
        assert_eq!(body["error_description"], expected);
    }
}

#[tokio::test]
async fn a_dpop_bound_token_works_only_with_a_matching_proof_at_the_api() {
    let sim = start().await;
    let key = DpopKey::generate();
    let at = dpop_token(&sim, &key, SCOPES).await;
    let url = format!("{}/api/v1/users", sim.base_url());

    let ok = http()
        .get(format!("{url}?limit=2"))
        .header("Authorization", format!("DPoP {at}"))
        .header("DPoP", key.proof("GET", &format!("{url}?limit=2"), None, Some(&at)))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);

    let as_bearer = http().get(&url).bearer_auth(&at).send().await.unwrap();
    assert_eq!(as_bearer.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        json(as_bearer).await["error_description"],
        "The resource request must use the DPoP authentication scheme when using a DPoP bound token."
    );

    let no_proof = http().get(&url).header("Authorization", format!("DPoP {at}")).send().await.unwrap();
    assert_eq!(json(no_proof).await["error_description"], "The resource request requires a DPoP proof.");

    let wrong_ath = http()
        .get(&url)
        .header("Authorization", format!("DPoP {at}"))
        .header("DPoP", key.proof("GET", &url, None, Some("another-token")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json(wrong_ath).await["error_description"],
        "'ath' claim in the DPoP proof does not match the presented access_token."
    );

    let other = DpopKey::generate();
    let wrong_key = http()
        .get(&url)
        .header("Authorization", format!("DPoP {at}"))
        .header("DPoP", other.proof("GET", &url, None, Some(&at)))
        .send()
        .await
        .unwrap();
    assert_eq!(json(wrong_key).await["error_description"], "The access_token is not bound to the provided DPoP proof.");

    let wrong_htu = http()
        .get(&url)
        .header("Authorization", format!("DPoP {at}"))
        .header("DPoP", key.proof("GET", &format!("{}/api/v1/groups", sim.base_url()), None, Some(&at)))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_htu.status(), StatusCode::BAD_REQUEST);
    let challenge = wrong_htu.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.starts_with("DPoP algs=\"RS256 RS384 RS512 ES256 ES384 ES512\", authorization_uri=\"http://"));
    assert!(challenge
        .contains("error=\"invalid_dpop_proof\", error_description=\"'htu' claim in the DPoP proof JWT is invalid.\""));
    assert!(challenge.ends_with("resource=\"/api/v1/users\""));

    let proof = key.proof("GET", &url, None, Some(&at));
    let send = || http().get(&url).header("Authorization", format!("DPoP {at}")).header("DPoP", proof.clone()).send();
    assert_eq!(send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(json(send().await.unwrap()).await["error_description"], "The DPoP proof JWT has already been used.");
}

#[tokio::test]
async fn a_login_with_an_at_sign_in_the_path_matches_a_decoded_htu() {
    let sim = start().await;
    let key = DpopKey::generate();
    let at = dpop_token(&sim, &key, SCOPES).await;
    let encoded = format!("{}/api/v1/users/ada.lovelace%40example.com/groups", sim.base_url());
    let r = http()
        .get(&encoded)
        .header("Authorization", format!("DPoP {at}"))
        .header("DPoP", key.proof("GET", &encoded.replace("%40", "@"), None, Some(&at)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_token_without_the_needed_scope_gets_403_insufficient_scope() {
    let sim = start().await;
    let at = bearer_token(&sim, sample::SERVICE_MISSING_SCOPE_CLIENT_ID, "okta.users.read").await;
    let users = http().get(format!("{}/api/v1/users?limit=1", sim.base_url())).bearer_auth(&at).send().await.unwrap();
    assert_eq!(users.status(), StatusCode::OK);
    let groups = http().get(format!("{}/api/v1/groups", sim.base_url())).bearer_auth(&at).send().await.unwrap();
    assert_eq!(groups.status(), StatusCode::FORBIDDEN);
    let challenge = groups.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.contains("scope=\"okta.groups.read\", error=\"insufficient_scope\", error_description=\"The access token provided does not contain the required scopes.\""));
    assert!(groups.text().await.unwrap().is_empty(), "Okta sends no body here");
}

#[tokio::test]
async fn a_service_app_without_an_admin_role_gets_e0000006() {
    let mut f = Fixture::sample();
    f.service_apps[1].admin_role = false;
    let sim = start_with(f, Options::default()).await;
    let at = bearer_token(&sim, sample::SERVICE_NO_DPOP_CLIENT_ID, SCOPES).await;
    let r = http().get(format!("{}/api/v1/users", sim.base_url())).bearer_auth(&at).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(json(r).await["errorCode"], "E0000006");
}

#[tokio::test]
async fn expired_and_custom_server_tokens_are_refused_at_the_api() {
    let sim = start().await;
    let at = bearer_token(&sim, sample::SERVICE_NO_DPOP_CLIENT_ID, SCOPES).await;
    sim.control().advance_clock(3601);
    let r = http().get(format!("{}/api/v1/users", sim.base_url())).bearer_auth(&at).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("error_description=\"The token has expired.\""));
    assert_eq!(json(r).await["errorCode"], "E0000011");

    // An SSWS header carrying an OAuth token is just an invalid API token.
    let at = bearer_token(&sim, sample::SERVICE_NO_DPOP_CLIENT_ID, SCOPES).await;
    let r = http()
        .get(format!("{}/api/v1/users", sim.base_url()))
        .header("Authorization", format!("SSWS {at}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json(r).await["errorSummary"], "Invalid token provided");
}

#[tokio::test]
async fn custom_server_client_credentials_cannot_get_okta_scopes() {
    let sim = start().await;
    let url = format!("{}/oauth2/{}/v1/token", sim.base_url(), sample::CUSTOM_AS_ID);
    let a = client_assertion(&private_jwk(), sample::SERVICE_NO_DPOP_CLIENT_ID, &url).unwrap();
    let r = http()
        .post(&url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "okta.users.read"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &a),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await["error"], "invalid_scope");
}
