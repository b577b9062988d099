//! The wizard's checks against the Okta simulator, over real HTTP.

use okta_sim::{Fixture, Options, Sim};
use portcullis_domain::{
    outbound::{parse_allow_list, Outbound, OutboundConfig},
    providers::{
        checks::check_client,
        directory::{check_directory, DirectoryAuth},
        parse_scopes,
        report::{Report, Status},
        AuthServer, ClientSettings, ProviderKind,
    },
    settings::Secret,
};

use super::support::loopback_outbound;

const REDIRECT: &str = "http://127.0.0.1:3000/auth/callback";

struct Env {
    sim: Sim,
    creds: okta_sim::Credentials,
    outbound: Outbound,
}

async fn env() -> Env {
    let sim = Sim::start_local(Fixture::sample(), Options::default()).await.unwrap();
    let creds = Fixture::sample().credentials(sim.base_url());
    Env { sim, creds, outbound: loopback_outbound(None) }
}

impl Env {
    fn client(&self) -> ClientSettings {
        ClientSettings {
            kind: ProviderKind::Okta,
            name: "Okta".into(),
            base_url: self.sim.base_url().to_string(),
            client_id: self.creds.oidc_client_id.clone().unwrap(),
            client_secret: Secret::new(self.creds.oidc_client_secret.clone().unwrap()),
            auth_server: AuthServer::Org,
            scopes: parse_scopes("openid profile email groups"),
            groups_claim: "groups".into(),
            pkce: true,
        }
    }

    fn service_app(&self, client_id: Option<String>) -> DirectoryAuth {
        DirectoryAuth::ServiceApp {
            client_id: client_id.unwrap_or_else(|| self.creds.service_client_id.clone().unwrap()),
            private_key: Secret::new(self.creds.service_private_jwk.clone().unwrap().to_string()),
        }
    }
}

fn status(report: &Report, id: &str) -> Status {
    report.get(id).unwrap_or_else(|| panic!("no check {id} in {report:#?}")).status
}

fn text(report: &Report, id: &str) -> String {
    let c = report.get(id).unwrap();
    format!("{} {}", c.detail, c.fix.clone().unwrap_or_default())
}

#[tokio::test]
async fn every_client_check_passes_for_a_correct_okta_app() {
    let e = env().await;
    let outcome = check_client(&e.outbound, &e.client(), REDIRECT).await;
    let r = &outcome.report;
    for id in ["base_url", "discovery", "issuer", "metadata", "jwks", "client_credentials", "scopes"] {
        assert_eq!(status(r, id), Status::Passed, "{id}: {}", text(r, id));
    }
    assert!(r.ok());
    assert!(text(r, "client_credentials").contains("accepted"));
}

#[tokio::test]
async fn a_wrong_client_secret_is_named_as_such() {
    let e = env().await;
    let mut s = e.client();
    s.client_secret = Secret::new("not-the-secret");
    let r = check_client(&e.outbound, &s, REDIRECT).await.report;
    assert_eq!(status(&r, "client_credentials"), Status::Failed);
    assert!(
        text(&r, "client_credentials").contains("wrong Client ID or Client secret"),
        "{}",
        text(&r, "client_credentials")
    );
    assert!(!r.ok());
}

#[tokio::test]
async fn the_custom_default_server_is_found_from_a_pasted_url() {
    let e = env().await;
    let mut s = e.client();
    s.base_url = format!("{}/oauth2/default/.well-known/openid-configuration", e.sim.base_url());
    let outcome = check_client(&e.outbound, &s, REDIRECT).await;
    let n = outcome.normalized.unwrap();
    assert_eq!(n.auth_server, AuthServer::Custom("default".into()));
    assert_eq!(status(&outcome.report, "issuer"), Status::Passed);
    // The default custom server does not offer the groups scope: a warning, not a failure.
    assert_eq!(status(&outcome.report, "scopes"), Status::Warning, "{}", text(&outcome.report, "scopes"));
}

#[tokio::test]
async fn a_wrong_issuer_is_reported_with_the_base_url_that_would_work() {
    let e = env().await;
    e.sim.control().set_wrong_issuer(true);
    let r = check_client(&e.outbound, &e.client(), REDIRECT).await.report;
    assert_eq!(status(&r, "issuer"), Status::Failed);
    let t = text(&r, "issuer");
    assert!(t.contains("The provider says its issuer is"), "{t}");
    assert!(t.contains("Use the Base URL") || t.contains("Authorization server"), "{t}");
}

#[tokio::test]
async fn choosing_the_org_server_for_a_custom_issuer_suggests_the_custom_server() {
    let e = env().await;
    let mut s = e.client();
    s.auth_server = AuthServer::Custom("default".into());
    // The admin typed the org URL but chose "default": discovery answers for default, issuer matches.
    let r = check_client(&e.outbound, &s, REDIRECT).await.report;
    assert_eq!(status(&r, "issuer"), Status::Passed, "{}", text(&r, "issuer"));
}

#[tokio::test]
async fn a_base_url_without_discovery_says_what_the_base_url_should_be() {
    let e = env().await;
    let mut s = e.client();
    s.base_url = format!("{}/not/okta", e.sim.base_url());
    let r = check_client(&e.outbound, &s, REDIRECT).await.report;
    assert_eq!(status(&r, "discovery"), Status::Failed);
    assert!(text(&r, "discovery").contains("404"));
    assert_eq!(status(&r, "jwks"), Status::Skipped);
}

#[tokio::test]
async fn an_unreachable_host_is_a_clear_failure_not_a_hang() {
    let e = env().await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut s = e.client();
    s.base_url = format!("http://127.0.0.1:{port}");
    let started = std::time::Instant::now();
    let r = check_client(&e.outbound, &s, REDIRECT).await.report;
    assert_eq!(status(&r, "discovery"), Status::Failed);
    assert!(text(&r, "discovery").contains("cannot connect"), "{}", text(&r, "discovery"));
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[tokio::test]
async fn a_loopback_address_is_refused_unless_allowed() {
    let e = env().await;
    let strict = Outbound::new(OutboundConfig::default()).unwrap();
    let r = check_client(&strict, &e.client(), REDIRECT).await.report;
    assert_eq!(status(&r, "discovery"), Status::Failed);
    assert!(text(&r, "discovery").contains("PORTCULLIS_OUTBOUND_ALLOW"), "{}", text(&r, "discovery"));
    // The same name resolved by DNS is refused at connect time too.
    let mut s = e.client();
    s.base_url = s.base_url.replace("http://127.0.0.1", "https://localhost");
    let r = check_client(&strict, &s, REDIRECT).await.report;
    assert!(text(&r, "discovery").contains("loopback"), "{}", text(&r, "discovery"));
}

#[tokio::test]
async fn a_dpop_required_service_app_succeeds_with_groups_and_users_counted() {
    let e = env().await;
    assert!(e.creds.service_dpop_required);
    let outcome = check_directory(&e.outbound, e.sim.base_url(), &e.service_app(None)).await;
    let r = &outcome.report;
    assert!(r.ok(), "{r:#?}");
    assert!(text(r, "directory_token").contains("DPoP-bound"), "{}", text(r, "directory_token"));
    assert!(outcome.groups.len() >= 8, "groups: {}", outcome.groups.len());
    assert!(outcome.groups.iter().any(|g| g.profile.name == "Everyone"));
    assert!(outcome.user_count.unwrap() >= 40);
}

#[tokio::test]
async fn a_service_app_without_dpop_gets_a_bearer_token() {
    let e = env().await;
    let outcome =
        check_directory(&e.outbound, e.sim.base_url(), &e.service_app(e.creds.service_no_dpop_client_id.clone())).await;
    assert!(outcome.report.ok(), "{:#?}", outcome.report);
    assert!(!text(&outcome.report, "directory_token").contains("DPoP-bound"));
}

#[tokio::test]
async fn an_api_token_works_and_a_wrong_one_is_e0000011() {
    let e = env().await;
    let good = DirectoryAuth::ApiToken(Secret::new(e.creds.api_token.clone().unwrap()));
    assert!(check_directory(&e.outbound, e.sim.base_url(), &good).await.report.ok());
    let bad = DirectoryAuth::ApiToken(Secret::new("00notatoken"));
    let r = check_directory(&e.outbound, e.sim.base_url(), &bad).await.report;
    assert_eq!(status(&r, "directory_groups"), Status::Failed);
    assert!(text(&r, "directory_groups").contains("E0000011"), "{}", text(&r, "directory_groups"));
}

#[tokio::test]
async fn an_unregistered_client_is_explained_as_a_key_problem() {
    let e = env().await;
    let r =
        check_directory(&e.outbound, e.sim.base_url(), &e.service_app(Some("0oaUnknownClient000".into()))).await.report;
    assert_eq!(status(&r, "directory_token"), Status::Failed);
    assert!(text(&r, "directory_token").contains("Public keys"), "{}", text(&r, "directory_token"));
}

#[tokio::test]
async fn a_scope_not_granted_says_where_to_grant_it() {
    let e = env().await;
    // The sample's third service app has okta.users.read only.
    let users_only = "0oaNnFRIBXuDL7DxtpYl".to_string();
    let r = check_directory(&e.outbound, e.sim.base_url(), &e.service_app(Some(users_only))).await.report;
    assert!(!r.ok());
    let all = format!("{r:?}");
    assert!(all.contains("okta.groups.read"), "{all}");
    assert!(all.contains("Okta API Scopes"), "{all}");
}

#[tokio::test]
async fn a_rate_limited_org_reports_when_it_resets() {
    let e = env().await;
    e.sim.control().set_rate_limit(1);
    let token = DirectoryAuth::ApiToken(Secret::new(e.creds.api_token.clone().unwrap()));
    // The first run spends the one request a minute each bucket allows; the second hits 429.
    assert!(check_directory(&e.outbound, e.sim.base_url(), &token).await.report.ok());
    let started = std::time::Instant::now();
    let r = check_directory(&e.outbound, e.sim.base_url(), &token).await.report;
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "the check does not wait a minute");
    assert!(!r.ok(), "{r:#?}");
    let all = format!("{r:?}");
    assert!(all.contains("429") && all.contains("resets in"), "{all}");
}

#[tokio::test]
async fn a_public_key_pasted_instead_of_the_private_key_is_caught_before_calling_okta() {
    let e = env().await;
    let mut jwk = e.creds.service_private_jwk.clone().unwrap();
    for k in ["d", "p", "q", "dp", "dq", "qi"] {
        jwk.as_object_mut().unwrap().remove(k);
    }
    let auth = DirectoryAuth::ServiceApp {
        client_id: e.creds.service_client_id.clone().unwrap(),
        private_key: Secret::new(jwk.to_string()),
    };
    let before = e.sim.control().request_count();
    let r = check_directory(&e.outbound, e.sim.base_url(), &auth).await.report;
    assert_eq!(status(&r, "directory_credentials"), Status::Failed);
    assert!(text(&r, "directory_credentials").contains("public key"));
    assert_eq!(e.sim.control().request_count(), before, "nothing was sent");
}

#[tokio::test]
async fn an_unreadable_jwks_fails_its_check_and_only_that_one() {
    let e = env().await;
    let mut sw = e.sim.control().switches();
    sw.error_rate = 1.0;
    sw.error_status = 404;
    sw.error_path_prefix = "/oauth2/v1/keys".into();
    e.sim.control().set_switches(sw);
    let r = check_client(&e.outbound, &e.client(), REDIRECT).await.report;
    assert_eq!(status(&r, "jwks"), Status::Failed, "{}", text(&r, "jwks"));
    assert!(text(&r, "jwks").contains("404"));
    assert_eq!(status(&r, "client_credentials"), Status::Passed);
}

#[tokio::test]
async fn over_https_the_provider_ca_must_be_trusted_through_the_ca_file() {
    let sim = Sim::start_local(Fixture::sample(), Options { tls: true, ..Options::default() }).await.unwrap();
    assert!(sim.base_url().starts_with("https://"), "{}", sim.base_url());
    let creds = Fixture::sample().credentials(sim.base_url());
    let settings = ClientSettings {
        kind: ProviderKind::Okta,
        name: "Okta".into(),
        base_url: sim.base_url().to_string(),
        client_id: creds.oidc_client_id.clone().unwrap(),
        client_secret: Secret::new(creds.oidc_client_secret.clone().unwrap()),
        auth_server: AuthServer::Org,
        scopes: parse_scopes("openid profile email groups"),
        groups_claim: "groups".into(),
        pkce: true,
    };
    let allow = parse_allow_list("127.0.0.1").unwrap();

    let untrusted = Outbound::new(OutboundConfig { allow: allow.clone(), ..Default::default() }).unwrap();
    let r = check_client(&untrusted, &settings, REDIRECT).await.report;
    assert_eq!(status(&r, "discovery"), Status::Failed, "a self-signed CA is not trusted by default");
    assert!(text(&r, "discovery").contains("PORTCULLIS_CA_FILE"), "{}", text(&r, "discovery"));

    let ca = sim.ca_pem().unwrap().as_bytes().to_vec();
    let trusted = Outbound::new(OutboundConfig { allow, extra_ca_pem: Some(ca), ..Default::default() }).unwrap();
    let r = check_client(&trusted, &settings, REDIRECT).await.report;
    assert!(r.ok(), "{r:#?}");
}

/// Auth0 (`https://tenant.auth0.com/`) and authentik state their issuer with a trailing slash.
#[tokio::test]
async fn a_generic_provider_whose_issuer_ends_in_a_slash_passes_and_keeps_it() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let body = serde_json::json!({
        "issuer": format!("{base}/"),
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/oauth/token"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
    })
    .to_string();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(reply.as_bytes()).await;
            });
        }
    });
    let e = env().await;
    let settings = ClientSettings { kind: ProviderKind::Oidc, base_url: format!("{base}/"), ..e.client() };
    let outcome = check_client(&e.outbound, &settings, REDIRECT).await;
    assert_eq!(status(&outcome.report, "issuer"), Status::Passed, "{:?}", outcome.report);
    assert_eq!(outcome.normalized.unwrap().issuer, format!("{base}/"), "tokens are checked against it exactly");
}
