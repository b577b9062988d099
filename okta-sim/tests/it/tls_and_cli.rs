//! HTTPS with the generated CA, and the `okta-sim` binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::common::*;
use okta_sim::{sample, Fixture, Options};
use reqwest::StatusCode;

#[tokio::test]
async fn tls_is_served_with_a_certificate_from_the_written_ca() {
    let sim = start_with(Fixture::sample(), Options { tls: true, ..Options::default() }).await;
    assert!(sim.base_url().starts_with("https://127.0.0.1:"));
    let ca = sim.ca_pem().expect("CA with tls");
    let trusting = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
        .build()
        .unwrap();
    let d: serde_json::Value = trusting
        .get(format!("{}/.well-known/openid-configuration", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], sim.base_url());
    assert!(d["token_endpoint"].as_str().unwrap().starts_with("https://"));

    let localhost = sim.base_url().replace("127.0.0.1", "localhost");
    let r = trusting.get(format!("{localhost}/oauth2/v1/keys")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the leaf also names localhost");

    let at = {
        let url = format!("{}/oauth2/v1/token", sim.base_url());
        let a = okta_sim::testkit::client_assertion(&private_jwk(), sample::SERVICE_NO_DPOP_CLIENT_ID, &url).unwrap();
        let r = trusting
            .post(&url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", "okta.users.read"),
                ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ("client_assertion", a.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r.json::<serde_json::Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
    };
    let r = trusting.get(format!("{}/api/v1/users?limit=1", sim.base_url())).bearer_auth(at).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let untrusting = reqwest::Client::new();
    assert!(untrusting.get(format!("{}/oauth2/v1/keys", sim.base_url())).send().await.is_err());
}

#[test]
fn the_binary_serves_the_sample_and_prints_what_the_wizard_needs() {
    let dir = tempfile::tempdir().unwrap();
    let ca_path = dir.path().join("ca.pem");
    let key_path = dir.path().join("key.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_okta-sim"))
        .args(["--listen", "127.0.0.1:0", "--tls-ca-out"])
        .arg(&ca_path)
        .arg("--key-out")
        .arg(&key_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut printed = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if line.starts_with("Press Ctrl-C") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    for expected in [
        "Base URL:                 https://127.0.0.1:",
        sample::OIDC_CLIENT_ID,
        sample::OIDC_CLIENT_SECRET,
        sample::SERVICE_CLIENT_ID,
        "(requires DPoP)",
        sample::SERVICE_NO_DPOP_CLIENT_ID,
        sample::API_TOKEN,
        sample::SIGN_IN_LOGIN,
        sample::SIGN_IN_PASSWORD,
        "\"d\":",
    ] {
        assert!(printed.contains(expected), "missing {expected} in:\n{printed}");
    }
    assert!(printed.contains(&key_path.display().to_string()));
    let key: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&key_path).unwrap()).unwrap();
    assert_eq!(key, sample::service_private_jwk());
    assert!(std::fs::read_to_string(&ca_path).unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
}

#[test]
fn the_binary_writes_a_generated_fixture_deterministically() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str| {
        let path = dir.path().join(name);
        let status = Command::new(env!("CARGO_BIN_EXE_okta-sim"))
            .args(["--users", "500", "--groups", "20", "--seed", "9", "--write-fixture"])
            .arg(&path)
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::read_to_string(path).unwrap()
    };
    let a = run("a.json");
    assert_eq!(a, run("b.json"));
    let f = Fixture::from_json(&a).unwrap();
    assert_eq!((f.users.len(), f.groups.len()), (500, 21));
}
