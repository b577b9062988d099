//! Helpers for driving the simulator over real HTTP on 127.0.0.1.
#![allow(dead_code)]

use base64::Engine;
use okta_sim::testkit::{client_assertion, DpopKey};
use okta_sim::{sample, Fixture, Options, Sim};
use reqwest::redirect::Policy;
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use sha2::Digest;

pub const REDIRECT: &str = "http://127.0.0.1:3000/auth/callback";

pub async fn start() -> Sim {
    start_with(Fixture::sample(), Options::default()).await
}

pub async fn start_with(fixture: Fixture, options: Options) -> Sim {
    Sim::start_local(fixture, options).await.expect("simulator starts")
}

/// No redirects followed, cookies kept (for the sign-in session).
pub fn browser() -> Client {
    Client::builder().redirect(Policy::none()).cookie_store(true).build().unwrap()
}

pub fn http() -> Client {
    Client::builder().redirect(Policy::none()).build().unwrap()
}

pub fn private_jwk() -> Value {
    sample::service_private_jwk()
}

pub fn token_url(sim: &Sim) -> String {
    format!("{}/oauth2/v1/token", sim.base_url())
}

pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub fn pkce() -> Pkce {
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-okta-sim-verifier".to_owned();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    Pkce { verifier, challenge }
}

/// `…/authorize` URL for the sample OIDC app with PKCE.
pub fn authorize_url(sim: &Sim, scope: &str, state: &str, nonce: &str, challenge: &str) -> String {
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", sample::OIDC_CLIENT_ID)
        .append_pair("response_type", "code")
        .append_pair("scope", scope)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("state", state)
        .append_pair("nonce", nonce)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    format!("{}/oauth2/v1/authorize?{q}", sim.base_url())
}

pub fn location(resp: &Response) -> String {
    resp.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

/// The query (or fragment) parameters of a redirect.
pub fn redirect_params(location: &str) -> Vec<(String, String)> {
    let part = location.split_once(['?', '#']).map(|(_, q)| q).unwrap_or_default();
    url::form_urlencoded::parse(part.as_bytes()).into_owned().collect()
}

pub fn param(params: &[(String, String)], key: &str) -> Option<String> {
    params.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

pub fn hidden_tx(html: &str) -> String {
    let start = html.find("name=\"tx\" value=\"").expect("sign-in form has tx") + "name=\"tx\" value=\"".len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// Opens the authorize URL, signs in on the form, returns the final redirect's `Location`.
pub async fn sign_in(browser: &Client, sim: &Sim, authorize: &str, login: &str, password: &str) -> String {
    let page = browser.get(authorize).send().await.unwrap();
    if page.status() == StatusCode::FOUND {
        // An existing session skips the form.
        return location(&page);
    }
    assert_eq!(page.status(), StatusCode::OK, "sign-in page");
    let html = page.text().await.unwrap();
    let tx = hidden_tx(&html);
    let resp = browser
        .post(format!("{}/login/signin", sim.base_url()))
        .form(&[("tx", tx.as_str()), ("username", login), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND, "sign-in redirects");
    location(&resp)
}

/// Signs in as the sample user and returns the authorization code.
pub async fn code_for(browser: &Client, sim: &Sim, scope: &str, challenge: &str) -> String {
    let loc = sign_in(
        browser,
        sim,
        &authorize_url(sim, scope, "st-1", "n-1", challenge),
        sample::SIGN_IN_LOGIN,
        sample::SIGN_IN_PASSWORD,
    )
    .await;
    param(&redirect_params(&loc), "code").unwrap_or_else(|| panic!("no code in {loc}"))
}

/// Exchanges a code with `client_secret_basic`.
pub async fn exchange(sim: &Sim, code: &str, verifier: &str) -> Response {
    http()
        .post(token_url(sim))
        .basic_auth(sample::OIDC_CLIENT_ID, Some(sample::OIDC_CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
}

pub async fn json(resp: Response) -> Value {
    resp.json().await.unwrap()
}

/// Claims of a JWT, unverified.
pub fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

pub fn header(jwt: &str) -> Value {
    let h = jwt.split('.').next().unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap()
}

/// A client-credentials request for a service app, with an optional DPoP proof.
pub async fn cc_request(sim: &Sim, client_id: &str, scope: &str, proof: Option<String>) -> Response {
    let assertion = client_assertion(&private_jwk(), client_id, &token_url(sim)).unwrap();
    let mut req = http().post(token_url(sim)).form(&[
        ("grant_type", "client_credentials"),
        ("scope", scope),
        ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
        ("client_assertion", assertion.as_str()),
    ]);
    if let Some(p) = proof {
        req = req.header("DPoP", p);
    }
    req.send().await.unwrap()
}

/// A Bearer token from the sample service app without DPoP.
pub async fn bearer_token(sim: &Sim, client_id: &str, scope: &str) -> String {
    let resp = cc_request(sim, client_id, scope, None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    json(resp).await["access_token"].as_str().unwrap().to_owned()
}

/// A DPoP-bound token from the DPoP-requiring sample service app: proof, nonce, retry.
pub async fn dpop_token(sim: &Sim, key: &DpopKey, scope: &str) -> String {
    let url = token_url(sim);
    let first = cc_request(sim, sample::SERVICE_CLIENT_ID, scope, Some(key.proof("POST", &url, None, None))).await;
    assert_eq!(first.status(), StatusCode::BAD_REQUEST);
    let nonce = first.headers().get("dpop-nonce").unwrap().to_str().unwrap().to_owned();
    let second =
        cc_request(sim, sample::SERVICE_CLIENT_ID, scope, Some(key.proof("POST", &url, Some(&nonce), None))).await;
    assert_eq!(second.status(), StatusCode::OK);
    let body = json(second).await;
    assert_eq!(body["token_type"], "DPoP");
    body["access_token"].as_str().unwrap().to_owned()
}

pub fn ssws(req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    req.header("Authorization", format!("SSWS {}", sample::API_TOKEN))
}

/// `Link` header values, one per header line.
pub fn link_lines(resp: &Response) -> Vec<String> {
    resp.headers().get_all("link").iter().map(|v| v.to_str().unwrap().to_owned()).collect()
}

pub fn next_link(resp: &Response) -> Option<String> {
    link_lines(resp)
        .into_iter()
        .find(|l| l.ends_with("rel=\"next\""))
        .map(|l| l.trim_start_matches('<').split('>').next().unwrap().to_owned())
}
