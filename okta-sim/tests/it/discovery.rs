//! Discovery documents and JWKS (okta-api.md §2.1–§2.4).

use crate::common::*;
use okta_sim::{sample, Fixture, Options};
use reqwest::StatusCode;
use serde_json::Value;

async fn doc(sim: &okta_sim::Sim, path: &str) -> (StatusCode, Value) {
    let r = http().get(format!("{}{path}", sim.base_url())).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect()
}

#[tokio::test]
async fn the_org_discovery_document_has_oktas_fields() {
    let sim = start().await;
    let base = sim.base_url();
    let (status, d) = doc(&sim, "/.well-known/openid-configuration").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(d["issuer"], base);
    assert_eq!(d["authorization_endpoint"], format!("{base}/oauth2/v1/authorize"));
    assert_eq!(d["token_endpoint"], format!("{base}/oauth2/v1/token"));
    assert_eq!(d["userinfo_endpoint"], format!("{base}/oauth2/v1/userinfo"));
    assert_eq!(d["jwks_uri"], format!("{base}/oauth2/v1/keys"));
    assert_eq!(d["end_session_endpoint"], format!("{base}/oauth2/v1/logout"));
    assert_eq!(d["registration_endpoint"], format!("{base}/oauth2/v1/clients"));
    assert_eq!(strings(&d["code_challenge_methods_supported"]), ["S256"]);
    assert_eq!(strings(&d["id_token_signing_alg_values_supported"]), ["RS256"]);
    assert!(strings(&d["scopes_supported"]).contains(&"groups"));
    assert!(!strings(&d["grant_types_supported"]).contains(&"client_credentials"), "Okta leaves it out");
    assert!(strings(&d["token_endpoint_auth_methods_supported"]).contains(&"private_key_jwt"));
    assert_eq!(strings(&d["dpop_signing_alg_values_supported"]).len(), 6);
}

#[tokio::test]
async fn org_metadata_and_dpop_algs_follow_their_switches() {
    let sim = start().await;
    let (status, d) = doc(&sim, "/.well-known/oauth-authorization-server").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(d["issuer"], sim.base_url());

    let mut f = Fixture::sample();
    f.switches.org_oauth_metadata = false;
    f.switches.dpop_algs_in_org_discovery = false;
    let sim = start_with(f, Options::default()).await;
    assert_eq!(doc(&sim, "/.well-known/oauth-authorization-server").await.0, StatusCode::NOT_FOUND);
    assert!(doc(&sim, "/.well-known/openid-configuration").await.1.get("dpop_signing_alg_values_supported").is_none());
}

#[tokio::test]
async fn custom_servers_have_their_own_issuer_and_documents() {
    let sim = start().await;
    let base = sim.base_url();
    let (status, d) = doc(&sim, "/oauth2/default/.well-known/openid-configuration").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(d["issuer"], format!("{base}/oauth2/default"));
    assert_eq!(d["token_endpoint"], format!("{base}/oauth2/default/v1/token"));
    assert_eq!(d["registration_endpoint"], format!("{base}/oauth2/v1/clients"));
    assert!(strings(&d["scopes_supported"]).contains(&"device_sso"));
    assert!(!strings(&d["scopes_supported"]).contains(&"groups"));
    assert!(d.get("id_token_encryption_alg_values_supported").is_some());

    let (_, o) = doc(&sim, &format!("/oauth2/{}/.well-known/oauth-authorization-server", sample::CUSTOM_AS_ID)).await;
    assert!(o.get("userinfo_endpoint").is_none());
    assert!(strings(&o["grant_types_supported"]).contains(&"client_credentials"));
    assert!(strings(&o["response_types_supported"]).contains(&"token"));
    assert!(strings(&o["scopes_supported"]).contains(&"portcullis.read"));

    let (status, e) = doc(&sim, "/oauth2/ausnope/.well-known/openid-configuration").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(e["errorCode"], "E0000007");
    assert_eq!(e["errorSummary"], "Not found: Resource not found: ausnope (AuthorizationServer)");
}

#[tokio::test]
async fn an_unknown_client_id_parameter_is_a_400_in_oktas_shape() {
    let sim = start().await;
    let (status, e) = doc(&sim, "/.well-known/openid-configuration?client_id=0oanope").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(e["errorCode"], "invalid_client");
    assert_eq!(e["errorSummary"], "Invalid value for 'client_id' parameter.");
    let (status, _) =
        doc(&sim, &format!("/.well-known/openid-configuration?client_id={}", sample::OIDC_CLIENT_ID)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_jwks_lists_rsa_keys_with_thumbprint_kids() {
    let sim = start().await;
    let r = http().get(format!("{}/oauth2/v1/keys", sim.base_url())).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/json;charset=UTF-8");
    assert!(r.headers()["cache-control"].to_str().unwrap().contains("must-revalidate"));
    let jwks: Value = r.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "active and the pre-published next key");
    for k in keys {
        assert_eq!(
            (k["kty"].as_str(), k["alg"].as_str(), k["use"].as_str(), k["e"].as_str()),
            (Some("RSA"), Some("RS256"), Some("sig"), Some("AQAB"))
        );
        assert_eq!(k["kid"].as_str().unwrap().len(), 43);
    }
}

#[tokio::test]
async fn key_rotation_signs_with_the_next_key_and_keeps_the_old_one_for_the_grace_period() {
    let sim = start().await;
    let ctl = sim.control();
    let kids = |j: Value| -> Vec<String> {
        j["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
    };
    let keys_url = format!("{}/oauth2/v1/keys", sim.base_url());
    let before = kids(http().get(&keys_url).send().await.unwrap().json().await.unwrap());
    let old = ctl.active_kid();
    let new = ctl.rotate_keys_with_grace(60).unwrap();
    assert_ne!(old, new);
    assert_eq!(new, before[1], "the pre-published key becomes active");
    let after = kids(http().get(&keys_url).send().await.unwrap().json().await.unwrap());
    assert!(after.contains(&old) && after.contains(&new) && after.len() == 3);

    let at = bearer_token(&sim, sample::SERVICE_NO_DPOP_CLIENT_ID, "okta.users.read").await;
    assert_eq!(header(&at)["kid"], new);

    ctl.advance_clock(61);
    let later = kids(http().get(&keys_url).send().await.unwrap().json().await.unwrap());
    assert!(!later.contains(&old), "the old key is gone after the grace period");
}

#[tokio::test]
async fn without_pre_publishing_a_rotated_key_is_new_to_clients() {
    let mut f = Fixture::sample();
    f.switches.publish_next_key = false;
    let sim = start_with(f, Options::default()).await;
    let keys_url = format!("{}/oauth2/v1/keys", sim.base_url());
    let before: Value = http().get(&keys_url).send().await.unwrap().json().await.unwrap();
    assert_eq!(before["keys"].as_array().unwrap().len(), 1);
    let new = sim.control().rotate_keys().unwrap();
    assert!(!before.to_string().contains(&new));
}

#[tokio::test]
async fn the_wrong_issuer_switch_changes_discovery() {
    let sim = start().await;
    sim.control().set_wrong_issuer(true);
    let (_, d) = doc(&sim, "/.well-known/openid-configuration").await;
    assert_ne!(d["issuer"], sim.base_url());
    sim.control().set_wrong_issuer(false);
    let (_, d) = doc(&sim, "/.well-known/openid-configuration").await;
    assert_eq!(d["issuer"], sim.base_url());
}
