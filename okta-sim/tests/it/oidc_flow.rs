//! Sign-in, `/authorize`, `/token` (code and refresh), `/userinfo`, `/revoke`, `/logout`,
//! against okta-api.md §2.5–§2.10.

use crate::common::*;
use okta_sim::fixture::{ClientAuthMethod, UserStatus};
use okta_sim::switches::{EmptyGroupsClaim, GroupsOverLimit};
use okta_sim::{generate, sample, Fixture, Options};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn the_sign_in_page_has_username_password_and_sign_in() {
    let sim = start().await;
    let p = pkce();
    let resp = browser().get(authorize_url(&sim, "openid", "s", "n", &p.challenge)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    assert!(html.contains(">Username</label>"));
    assert!(html.contains(">Password</label>"));
    assert!(html.contains(">Sign in</button>"));
}

#[tokio::test]
async fn a_wrong_password_shows_the_form_again_with_an_error() {
    let sim = start().await;
    let b = browser();
    let p = pkce();
    let html = b.get(authorize_url(&sim, "openid", "s", "n", &p.challenge)).send().await.unwrap().text().await.unwrap();
    let tx = hidden_tx(&html);
    let resp = b
        .post(format!("{}/login/signin", sim.base_url()))
        .form(&[("tx", tx.as_str()), ("username", sample::SIGN_IN_LOGIN), ("password", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.text().await.unwrap().contains("Unable to sign in"));
}

#[tokio::test]
async fn the_code_flow_returns_okta_shaped_tokens_with_state_nonce_and_groups() {
    let sim = start().await;
    let b = browser();
    let p = pkce();
    let loc = sign_in(
        &b,
        &sim,
        &authorize_url(&sim, "openid profile email groups offline_access", "state-xyz", "nonce-abc", &p.challenge),
        sample::SIGN_IN_LOGIN,
        sample::SIGN_IN_PASSWORD,
    )
    .await;
    assert!(loc.starts_with(&format!("{REDIRECT}?")), "query response mode by default: {loc}");
    let params = redirect_params(&loc);
    assert_eq!(param(&params, "state").as_deref(), Some("state-xyz"));
    let code = param(&params, "code").unwrap();

    let resp = exchange(&sim, &code, &p.verifier).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-cache, no-store");
    assert_eq!(resp.headers()["pragma"], "no-cache");
    let body = json(resp).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "openid profile email groups offline_access");
    assert!(body["refresh_token"].is_string());

    let id = body["id_token"].as_str().unwrap();
    assert_eq!(header(id)["alg"], "RS256");
    let c = claims(id);
    assert_eq!(c["iss"], sim.base_url());
    assert_eq!(c["aud"], sample::OIDC_CLIENT_ID);
    assert_eq!(c["ver"], 1);
    assert_eq!(c["nonce"], "nonce-abc");
    assert_eq!(c["amr"], serde_json::json!(["pwd"]));
    assert_eq!(c["idp"], sample::ORG_ID);
    assert!(c["sub"].as_str().unwrap().starts_with("00u"));
    assert!(c["jti"].as_str().unwrap().starts_with("ID."));
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 3600);
    assert!(c["at_hash"].is_string());
    assert_eq!(c["preferred_username"], sample::SIGN_IN_LOGIN);
    assert_eq!(c["email"], sample::SIGN_IN_LOGIN);
    assert_eq!(c["email_verified"], true);
    assert_eq!(c["name"], "Ada Lovelace");
    let groups: Vec<&str> = c["groups"].as_array().unwrap().iter().map(|g| g.as_str().unwrap()).collect();
    assert!(groups.contains(&"Everyone") && groups.contains(&"Portcullis Admins") && groups.contains(&"IT"));

    let at = claims(body["access_token"].as_str().unwrap());
    assert_eq!(at["aud"], sim.base_url());
    assert_eq!(at["cid"], sample::OIDC_CLIENT_ID);
    assert_eq!(at["uid"], c["sub"]);
    assert!(at["jti"].as_str().unwrap().starts_with("AT."));
}

#[tokio::test]
async fn a_code_is_single_use_and_bound_to_client_redirect_and_verifier() {
    let sim = start().await;
    let b = browser();
    let p = pkce();
    let code = code_for(&b, &sim, "openid", &p.challenge).await;
    let bad_verifier = exchange(&sim, &code, "wrong-verifier-wrong-verifier-wrong-verifier-x").await;
    assert_eq!(bad_verifier.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        json(bad_verifier).await,
        serde_json::json!({"error": "invalid_grant", "error_description": "PKCE verification failed."})
    );
    // The failed attempt consumed the code.
    let replay = json(exchange(&sim, &code, &p.verifier).await).await;
    assert_eq!(replay["error"], "invalid_grant");
    assert_eq!(replay["error_description"], "The authorization code is invalid or has expired.");

    let code = code_for(&b, &sim, "openid", &p.challenge).await;
    let resp = http()
        .post(token_url(&sim))
        .basic_auth(sample::OIDC_CLIENT_ID, Some(sample::OIDC_CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://localhost:3000/auth/callback"),
            ("code_verifier", p.verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        json(resp).await["error_description"],
        "The 'redirect_uri' does not match the redirection URI used in the authorization request."
    );
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let sim = start().await;
    let p = pkce();
    let code = code_for(&browser(), &sim, "openid", &p.challenge).await;
    sim.control().advance_clock(301);
    let body = json(exchange(&sim, &code, &p.verifier).await).await;
    assert_eq!(body["error_description"], "The authorization code is invalid or has expired.");
}

#[tokio::test]
async fn bad_client_credentials_get_oktas_invalid_client_errors() {
    let sim = start().await;
    let post = |auth: Option<(&str, &str)>, form: Vec<(&'static str, String)>| {
        let mut r = http().post(token_url(&sim)).form(&form);
        if let Some((u, p)) = auth {
            r = r.basic_auth(u, Some(p));
        }
        r.send()
    };
    let grant = || vec![("grant_type", "authorization_code".to_owned()), ("code", "x".to_owned())];

    let r = post(Some((sample::OIDC_CLIENT_ID, "wrong")), grant()).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["content-type"], "application/json;charset=UTF-8");
    assert_eq!(
        json(r).await,
        serde_json::json!({"error":"invalid_client","error_description":"The client secret supplied for a confidential client is invalid."})
    );

    let r = post(Some(("0oaunknownunknown000", "x")), grant()).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json(r).await["error_description"], "Invalid value for 'client_id' parameter.");

    let r = post(None, grant()).await.unwrap();
    assert_eq!(json(r).await["error_description"], "No client credentials found.");

    let mut both = grant();
    both.push(("client_secret", sample::OIDC_CLIENT_SECRET.to_owned()));
    both.push(("client_id", sample::OIDC_CLIENT_ID.to_owned()));
    let r = post(Some((sample::OIDC_CLIENT_ID, sample::OIDC_CLIENT_SECRET)), both).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json(r).await["error"], "invalid_request");

    // The app is configured for client_secret_basic; the right secret in the body is still refused.
    let mut body_auth = grant();
    body_auth.push(("client_id", sample::OIDC_CLIENT_ID.to_owned()));
    body_auth.push(("client_secret", sample::OIDC_CLIENT_SECRET.to_owned()));
    let r = post(None, body_auth).await.unwrap();
    assert_eq!(
        json(r).await["error_description"],
        "Client authentication failed. Either the client or the client credentials are invalid."
    );

    let r = post(Some((sample::OIDC_CLIENT_ID, sample::OIDC_CLIENT_SECRET)), vec![("code", "x".into())]).await.unwrap();
    let b = json(r).await;
    assert_eq!(b["error"], "invalid_request");
    assert!(b["error_description"].as_str().unwrap().starts_with("The token request must specify a 'grant_type'."));

    let r = post(Some((sample::OIDC_CLIENT_ID, sample::OIDC_CLIENT_SECRET)), vec![("grant_type", "password".into())])
        .await
        .unwrap();
    assert_eq!(json(r).await["error"], "unsupported_grant_type");

    let r = post(
        Some((sample::OIDC_CLIENT_ID, sample::OIDC_CLIENT_SECRET)),
        vec![("grant_type", "client_credentials".into())],
    )
    .await
    .unwrap();
    assert_eq!(
        json(r).await["error_description"],
        "Only clients with 'application_type' of 'service' may use the client_credentials 'grant_type' with the Org Authorization Server."
    );
}

#[tokio::test]
async fn the_unknown_client_id_shape_is_switchable_to_the_okta_error_object() {
    let mut f = Fixture::sample();
    f.switches.invalid_client_id_shape = okta_sim::switches::InvalidClientIdShape::Okta;
    let sim = start_with(f, Options::default()).await;
    let r = http()
        .post(token_url(&sim))
        .basic_auth("0oaunknownunknown000", Some("x"))
        .form(&[("grant_type", "authorization_code")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let b = json(r).await;
    assert_eq!(b["errorCode"], "invalid_client");
    assert_eq!(b["errorLink"], "invalid_client");
    assert_eq!(b["errorCauses"], serde_json::json!([]));
}

#[tokio::test]
async fn client_secret_post_works_for_an_app_configured_for_it() {
    let mut f = Fixture::sample();
    f.oidc_apps[0].token_endpoint_auth_method = ClientAuthMethod::ClientSecretPost;
    let sim = start_with(f, Options::default()).await;
    let p = pkce();
    let code = code_for(&browser(), &sim, "openid", &p.challenge).await;
    let r = http()
        .post(token_url(&sim))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", p.verifier.as_str()),
            ("client_id", sample::OIDC_CLIENT_ID),
            ("client_secret", sample::OIDC_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(json(r).await["id_token"].is_string());
}

#[tokio::test]
async fn refresh_tokens_work_only_for_apps_that_allow_them() {
    let sim = start().await;
    let p = pkce();
    let code = code_for(&browser(), &sim, "openid offline_access", &p.challenge).await;
    let body = json(exchange(&sim, &code, &p.verifier).await).await;
    let rt = body["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |rt: String| {
        http()
            .post(token_url(&sim))
            .basic_auth(sample::OIDC_CLIENT_ID, Some(sample::OIDC_CLIENT_SECRET))
            .form(&[("grant_type", "refresh_token".to_owned()), ("refresh_token", rt)])
            .send()
    };
    let r = refresh(rt.clone()).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let b = json(r).await;
    assert!(b["access_token"].is_string() && b["id_token"].is_string());
    assert_eq!(b["refresh_token"], rt, "persistent refresh token by default");
    let r = refresh("bogus".into()).await.unwrap();
    assert_eq!(json(r).await["error_description"], "The refresh token is invalid or expired.");

    let mut f = Fixture::sample();
    f.oidc_apps[0].grant_types = vec!["authorization_code".into()];
    let sim2 = start_with(f, Options::default()).await;
    let code = code_for(&browser(), &sim2, "openid offline_access", &p.challenge).await;
    let body = json(exchange(&sim2, &code, &p.verifier).await).await;
    assert!(body.get("refresh_token").is_none());
    assert_eq!(body["scope"], "openid");
    let r = http()
        .post(token_url(&sim2))
        .basic_auth(sample::OIDC_CLIENT_ID, Some(sample::OIDC_CLIENT_SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .unwrap();
    let b = json(r).await;
    assert_eq!(b["error"], "unauthorized_client");
    assert_eq!(
        b["error_description"],
        "The client is not authorized to use the provided grant type. Configured grant types: [authorization_code]."
    );
}

#[tokio::test]
async fn pkce_is_required_when_the_app_says_so_and_only_s256_is_accepted() {
    let sim = start().await;
    let base = authorize_url(&sim, "openid", "s1", "n", "x");
    let without = base.replace("&code_challenge=x&code_challenge_method=S256", "");
    let r = browser().get(&without).send().await.unwrap();
    let p = redirect_params(&location(&r));
    assert_eq!(param(&p, "error").as_deref(), Some("invalid_request"));
    assert_eq!(param(&p, "error_description").as_deref(), Some("PKCE code challenge is required by the application."));
    assert_eq!(param(&p, "state").as_deref(), Some("s1"));

    let plain = base.replace(
        "code_challenge=x&code_challenge_method=S256",
        &format!("code_challenge={}&code_challenge_method=plain", pkce().challenge),
    );
    let p = redirect_params(&location(&browser().get(&plain).send().await.unwrap()));
    assert_eq!(
        param(&p, "error_description").as_deref(),
        Some("PKCE code challenge method is not supported. Valid values: [S256]")
    );
}

#[tokio::test]
async fn authorize_errors_before_the_redirect_uri_is_trusted_stay_on_okta() {
    let sim = start().await;
    let url = authorize_url(&sim, "openid", "s", "n", &pkce().challenge);
    let r = browser()
        .get(
            url.replace(REDIRECT, "https://evil.example.com/cb")
                .replace("%3A%2F%2F127.0.0.1%3A3000%2Fauth%2Fcallback", "%3A%2F%2Fevil.example.com%2Fcb"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("The &#39;redirect_uri&#39; parameter must be a Login redirect URI in the client app settings."));

    let r = browser().get(url.replace(sample::OIDC_CLIENT_ID, "0oanotaclient0000000")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("invalid_client"));

    let no_state = url.replace("state=s&", "");
    let p = redirect_params(&location(&browser().get(no_state).send().await.unwrap()));
    assert_eq!(
        param(&p, "error_description").as_deref(),
        Some("The authentication request has an invalid 'state' parameter.")
    );

    let bad_scope = url.replace("scope=openid", "scope=openid+okta.users.read");
    let p = redirect_params(&location(&browser().get(bad_scope).send().await.unwrap()));
    assert_eq!(param(&p, "error").as_deref(), Some("invalid_scope"));
}

#[tokio::test]
async fn prompt_none_without_a_session_redirects_login_required() {
    let sim = start().await;
    let url = format!("{}&prompt=none", authorize_url(&sim, "openid", "s", "n", &pkce().challenge));
    let p = redirect_params(&location(&browser().get(url).send().await.unwrap()));
    assert_eq!(param(&p, "error").as_deref(), Some("login_required"));
    assert_eq!(
        param(&p, "error_description").as_deref(),
        Some("The client specified not to prompt, but the user is not logged in.")
    );
}

#[tokio::test]
async fn a_session_skips_the_form_until_prompt_login_or_max_age_demand_it() {
    let sim = start().await;
    let b = browser();
    let p = pkce();
    code_for(&b, &sim, "openid", &p.challenge).await;

    let again =
        b.get(format!("{}&prompt=none", authorize_url(&sim, "openid", "s2", "n", &p.challenge))).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::FOUND);
    assert!(param(&redirect_params(&location(&again)), "code").is_some());

    let login =
        b.get(format!("{}&prompt=login", authorize_url(&sim, "openid", "s3", "n", &p.challenge))).send().await.unwrap();
    assert_eq!(login.status(), StatusCode::OK, "prompt=login shows the form");

    sim.control().advance_clock(120);
    let aged =
        b.get(format!("{}&max_age=60", authorize_url(&sim, "openid", "s4", "n", &p.challenge))).send().await.unwrap();
    assert_eq!(aged.status(), StatusCode::OK, "an old session re-prompts under max_age");
    let young =
        b.get(format!("{}&max_age=600", authorize_url(&sim, "openid", "s5", "n", &p.challenge))).send().await.unwrap();
    assert_eq!(young.status(), StatusCode::FOUND);
    let code = param(&redirect_params(&location(&young)), "code").unwrap();
    let body = json(exchange(&sim, &code, &p.verifier).await).await;
    let c = claims(body["id_token"].as_str().unwrap());
    assert!(c["iat"].as_i64().unwrap() - c["auth_time"].as_i64().unwrap() >= 120);
}

#[tokio::test]
async fn fragment_and_form_post_response_modes_deliver_the_code() {
    let sim = start().await;
    let b = browser();
    let p = pkce();
    let url = format!("{}&response_mode=fragment", authorize_url(&sim, "openid", "sf", "n", &p.challenge));
    let loc = sign_in(&b, &sim, &url, sample::SIGN_IN_LOGIN, sample::SIGN_IN_PASSWORD).await;
    assert!(loc.starts_with(&format!("{REDIRECT}#code=")));

    let url = format!("{}&response_mode=form_post", authorize_url(&sim, "openid", "sp", "n", &p.challenge));
    let r = b.get(url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains(&format!("action=\"{REDIRECT}\"")) && html.contains("name=\"code\""));
}

#[tokio::test]
async fn an_unassigned_user_is_denied() {
    let mut f = Fixture::sample();
    let admins = f.groups.iter().find(|g| g.profile["name"] == "Portcullis Admins").unwrap().id.clone();
    f.oidc_apps[0].assignments = Some(okta_sim::fixture::Assignments { users: vec![], groups: vec![admins] });
    let sim = start_with(f, Options::default()).await;
    let p = pkce();
    let loc = sign_in(
        &browser(),
        &sim,
        &authorize_url(&sim, "openid", "s", "n", &p.challenge),
        sample::SECOND_LOGIN,
        sample::SIGN_IN_PASSWORD,
    )
    .await;
    let params = redirect_params(&loc);
    assert_eq!(param(&params, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&params, "error_description").as_deref(), Some("User is not assigned to the client application."));
}

#[tokio::test]
async fn inactive_users_cannot_sign_in() {
    let sim = start().await;
    let p = pkce();
    let ctl = sim.control();
    let id = ctl.user_id(sample::SECOND_LOGIN).unwrap();
    ctl.set_user_status(&id, UserStatus::Suspended).unwrap();
    let b = browser();
    let html = b.get(authorize_url(&sim, "openid", "s", "n", &p.challenge)).send().await.unwrap().text().await.unwrap();
    let r = b
        .post(format!("{}/login/signin", sim.base_url()))
        .form(&[
            ("tx", hidden_tx(&html).as_str()),
            ("username", sample::SECOND_LOGIN),
            ("password", sample::SIGN_IN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

async fn groups_of_token(sim: &okta_sim::Sim) -> Result<Value, Value> {
    let p = pkce();
    let code = code_for(&browser(), sim, "openid groups", &p.challenge).await;
    let r = exchange(sim, &code, &p.verifier).await;
    let ok = r.status() == StatusCode::OK;
    let body = json(r).await;
    if ok {
        Ok(claims(body["id_token"].as_str().unwrap()).get("groups").cloned().unwrap_or(Value::Null))
    } else {
        Err(body)
    }
}

#[tokio::test]
async fn the_groups_claim_is_filtered_by_the_apps_regex() {
    let mut f = Fixture::sample();
    f.oidc_apps[0].groups_claim.as_mut().unwrap().filter_regex = "Portcullis.*".into();
    let sim = start_with(f, Options::default()).await;
    assert_eq!(groups_of_token(&sim).await.unwrap(), serde_json::json!(["Portcullis Admins"]));
}

#[tokio::test]
async fn no_matching_groups_omits_the_claim_or_sends_an_empty_array_by_switch() {
    let mut f = Fixture::sample();
    f.oidc_apps[0].groups_claim.as_mut().unwrap().filter_regex = "Nothing.*".into();
    let sim = start_with(f.clone(), Options::default()).await;
    assert_eq!(groups_of_token(&sim).await.unwrap(), Value::Null);
    f.switches.empty_groups_claim = EmptyGroupsClaim::EmptyArray;
    let sim = start_with(f, Options::default()).await;
    assert_eq!(groups_of_token(&sim).await.unwrap(), serde_json::json!([]));
}

#[tokio::test]
async fn more_than_100_groups_fails_truncates_or_passes_by_switch() {
    let f = generate(60, 130, 3);
    let sim = start_with(f.clone(), Options::default()).await;
    let ctl = sim.control();
    let ada = ctl.user_id(sample::SIGN_IN_LOGIN).unwrap();
    for g in f.groups.iter().filter(|g| g.group_type != okta_sim::fixture::GroupType::BuiltIn) {
        ctl.add_membership(&g.id, &ada).unwrap();
    }
    let err = groups_of_token(&sim).await.unwrap_err();
    assert_eq!(
        err,
        serde_json::json!({"error":"server_error","error_description":"The groups claim matched too many groups and must be configured to match fewer groups."})
    );
    let mut sw = ctl.switches();
    sw.groups_claim_over_limit = GroupsOverLimit::Truncate;
    ctl.set_switches(sw.clone());
    assert_eq!(groups_of_token(&sim).await.unwrap().as_array().unwrap().len(), 100);
    sw.groups_claim_over_limit = GroupsOverLimit::NoLimit;
    ctl.set_switches(sw);
    assert_eq!(groups_of_token(&sim).await.unwrap().as_array().unwrap().len(), 131);
}

#[tokio::test]
async fn userinfo_returns_claims_for_the_granted_scopes_and_challenges_bad_tokens() {
    let sim = start().await;
    let p = pkce();
    let code = code_for(&browser(), &sim, "openid profile email groups", &p.challenge).await;
    let body = json(exchange(&sim, &code, &p.verifier).await).await;
    let at = body["access_token"].as_str().unwrap();
    let url = format!("{}/oauth2/v1/userinfo", sim.base_url());
    let r = http().get(&url).bearer_auth(at).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let info = json(r).await;
    assert_eq!(info["sub"], claims(body["id_token"].as_str().unwrap())["sub"]);
    assert_eq!(info["email"], sample::SIGN_IN_LOGIN);
    assert!(info["groups"].as_array().unwrap().iter().any(|g| g == "Everyone"));

    let r = http().get(&url).bearer_auth("garbage").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.headers()["www-authenticate"],
        "Bearer error=\"invalid_token\", error_description=\"The access token is invalid.\""
    );

    let code = code_for(&browser(), &sim, "openid", &p.challenge).await;
    let thin = json(exchange(&sim, &code, &p.verifier).await).await;
    let r = http().get(&url).bearer_auth(thin["access_token"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("error=\"insufficient_scope\""));
}

#[tokio::test]
async fn revoke_always_answers_200_and_kills_the_token() {
    let sim = start().await;
    let p = pkce();
    let code = code_for(&browser(), &sim, "openid profile", &p.challenge).await;
    let body = json(exchange(&sim, &code, &p.verifier).await).await;
    let at = body["access_token"].as_str().unwrap();
    let revoke = |token: &str| {
        http()
            .post(format!("{}/oauth2/v1/revoke", sim.base_url()))
            .basic_auth(sample::OIDC_CLIENT_ID, Some(sample::OIDC_CLIENT_SECRET))
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
    };
    let r = revoke(at).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().is_empty());
    assert_eq!(revoke("unknown").await.unwrap().status(), StatusCode::OK);
    let r = http().get(format!("{}/oauth2/v1/userinfo", sim.base_url())).bearer_auth(at).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = http()
        .post(format!("{}/oauth2/v1/revoke", sim.base_url()))
        .basic_auth(sample::OIDC_CLIENT_ID, Some(sample::OIDC_CLIENT_SECRET))
        .form(&[("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await["error_description"], "The 'token' parameter is required.");
}

#[tokio::test]
async fn logout_ends_the_session_and_redirects_only_to_registered_uris() {
    let sim = start().await;
    let b = browser();
    let p = pkce();
    let code = code_for(&b, &sim, "openid", &p.challenge).await;
    let id_token = json(exchange(&sim, &code, &p.verifier).await).await["id_token"].as_str().unwrap().to_owned();
    let logout = |target: &str| {
        format!(
            "{}/oauth2/v1/logout?id_token_hint={id_token}&post_logout_redirect_uri={}&state=bye",
            sim.base_url(),
            url::form_urlencoded::byte_serialize(target.as_bytes()).collect::<String>()
        )
    };
    let r = b.get(logout("https://evil.example.com/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = b.get(logout("http://127.0.0.1:3000/login")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(location(&r), "http://127.0.0.1:3000/login?state=bye");
    // The session is gone: prompt=none now fails.
    let again =
        b.get(format!("{}&prompt=none", authorize_url(&sim, "openid", "s", "n", &p.challenge))).send().await.unwrap();
    assert_eq!(param(&redirect_params(&location(&again)), "error").as_deref(), Some("login_required"));
}

#[tokio::test]
async fn custom_servers_issue_tokens_with_their_issuer_and_audience() {
    let sim = start().await;
    let b = browser();
    let p = pkce();
    let url =
        authorize_url(&sim, "openid profile", "s", "n", &p.challenge).replace("/oauth2/v1/", "/oauth2/default/v1/");
    let loc = sign_in(&b, &sim, &url, sample::SIGN_IN_LOGIN, sample::SIGN_IN_PASSWORD).await;
    let code = param(&redirect_params(&loc), "code").unwrap();
    // A code from the default server is not valid at the org server.
    let at_org = json(exchange(&sim, &code, &p.verifier).await).await;
    assert_eq!(at_org["error"], "invalid_grant");

    let loc = sign_in(&browser(), &sim, &url, sample::SIGN_IN_LOGIN, sample::SIGN_IN_PASSWORD).await;
    let code = param(&redirect_params(&loc), "code").unwrap();
    let r = http()
        .post(format!("{}/oauth2/default/v1/token", sim.base_url()))
        .basic_auth(sample::OIDC_CLIENT_ID, Some(sample::OIDC_CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", p.verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let body = json(r).await;
    assert_eq!(claims(body["id_token"].as_str().unwrap())["iss"], format!("{}/oauth2/default", sim.base_url()));
    let at = claims(body["access_token"].as_str().unwrap());
    assert_eq!(at["aud"], "api://default");
    assert_eq!(at["sub"], sample::SIGN_IN_LOGIN);
}

#[tokio::test]
async fn the_wrong_issuer_switch_changes_the_id_token_iss() {
    let sim = start().await;
    sim.control().set_wrong_token_issuer(true);
    let p = pkce();
    let code = code_for(&browser(), &sim, "openid", &p.challenge).await;
    let body = json(exchange(&sim, &code, &p.verifier).await).await;
    assert_ne!(claims(body["id_token"].as_str().unwrap())["iss"], sim.base_url());
}

/// Whether an RS256 token verifies with one of the JWKS's keys.
fn verifies_with_jwks(jwt: &str, jwks: &Value) -> bool {
    let kid = header(jwt)["kid"].as_str().unwrap_or_default().to_owned();
    let Some(jwk) = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid.as_str()) else {
        return false;
    };
    let key =
        jsonwebtoken::DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap()).unwrap();
    let (input, sig) = jwt.rsplit_once('.').unwrap();
    jsonwebtoken::crypto::verify(sig, input.as_bytes(), &key, jsonwebtoken::Algorithm::RS256).unwrap_or(false)
}

#[tokio::test]
async fn each_id_token_defect_set_at_run_time_breaks_its_property_of_the_id_token() {
    let sim = start().await;
    let jwks = json(http().get(format!("{}/oauth2/v1/keys", sim.base_url())).send().await.unwrap()).await;
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    let b = browser();
    let p = pkce();
    let id_token = |defect: &'static str| {
        let (sim, b, p) = (&sim, &b, &p);
        async move {
            let op = serde_json::json!({ "op": "set_switches", "switches": { "idTokenDefect": defect } });
            sim.control().apply(serde_json::from_value(op).unwrap()).unwrap();
            let code = code_for(b, sim, "openid offline_access", &p.challenge).await;
            let body = json(exchange(sim, &code, &p.verifier).await).await;
            (body["id_token"].as_str().unwrap().to_owned(), body["refresh_token"].as_str().unwrap().to_owned())
        }
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;

    let (good, _) = id_token("none").await;
    assert!(verifies_with_jwks(&good, &jwks));
    assert_eq!(claims(&good)["aud"], sample::OIDC_CLIENT_ID);
    assert_eq!(claims(&good)["nonce"], "n-1");

    let (t, _) = id_token("badSignature").await;
    assert_eq!(header(&t)["alg"], "RS256");
    assert!(kids.contains(&header(&t)["kid"].as_str().unwrap()), "a published kid");
    assert!(!verifies_with_jwks(&t, &jwks), "the signature does not verify");

    let (t, _) = id_token("unknownKey").await;
    assert_eq!(header(&t)["alg"], "RS256");
    assert!(!kids.contains(&header(&t)["kid"].as_str().unwrap()), "kid {} is not in the JWKS", header(&t)["kid"]);
    let again = json(http().get(format!("{}/oauth2/v1/keys", sim.base_url())).send().await.unwrap()).await;
    assert_eq!(again, jwks, "nor published afterwards");

    let (t, _) = id_token("algNone").await;
    assert_eq!(header(&t), serde_json::json!({"alg": "none"}));
    assert!(t.ends_with('.') && t.split('.').count() == 3, "empty signature: {t}");
    assert_eq!(claims(&t)["aud"], sample::OIDC_CLIENT_ID);

    let (t, _) = id_token("hmacWithPublicKey").await;
    assert_eq!(header(&t)["alg"], "HS256");
    let jwk =
        jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == header(&t)["kid"]).expect("the active key's kid");
    let secret = jsonwebtoken::DecodingKey::from_secret(serde_json::to_string(jwk).unwrap().as_bytes());
    let (input, sig) = t.rsplit_once('.').unwrap();
    assert!(
        jsonwebtoken::crypto::verify(sig, input.as_bytes(), &secret, jsonwebtoken::Algorithm::HS256).unwrap(),
        "HMAC keyed with the JWK"
    );

    // Claim defects: correctly signed, one claim wrong.
    let (t, _) = id_token("wrongAudience").await;
    assert!(verifies_with_jwks(&t, &jwks));
    assert!(claims(&t)["aud"].as_str().unwrap().starts_with("0oa") && claims(&t)["aud"] != sample::OIDC_CLIENT_ID);
    let (t, _) = id_token("extraAudience").await;
    let aud = claims(&t)["aud"].as_array().unwrap().clone();
    assert_eq!((aud.len(), &aud[0]), (2, &Value::from(sample::OIDC_CLIENT_ID)));
    assert_eq!(claims(&t)["azp"], sample::OIDC_CLIENT_ID);
    let (t, _) = id_token("foreignAzp").await;
    assert_eq!(claims(&t)["aud"], sample::OIDC_CLIENT_ID);
    assert!(claims(&t)["azp"].is_string() && claims(&t)["azp"] != sample::OIDC_CLIENT_ID);
    let (t, _) = id_token("wrongNonce").await;
    assert!(claims(&t)["nonce"].is_string() && claims(&t)["nonce"] != "n-1");
    let (t, _) = id_token("missingNonce").await;
    assert!(claims(&t).get("nonce").is_none());
    assert!(verifies_with_jwks(&t, &jwks));
    let (t, _) = id_token("expired").await;
    assert!(claims(&t)["exp"].as_i64().unwrap() <= now - 3000, "{}", claims(&t));
    assert!(claims(&t)["iat"].as_i64().unwrap() < claims(&t)["exp"].as_i64().unwrap());
    let (t, rt) = id_token("issuedInFuture").await;
    assert!(claims(&t)["iat"].as_i64().unwrap() >= now + 590, "{}", claims(&t));
    assert!(verifies_with_jwks(&t, &jwks));

    // Refreshed ID tokens carry the defect too.
    let r = http()
        .post(token_url(&sim))
        .basic_auth(sample::OIDC_CLIENT_ID, Some(sample::OIDC_CLIENT_SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", rt.as_str())])
        .send()
        .await
        .unwrap();
    let refreshed = json(r).await["id_token"].as_str().unwrap().to_owned();
    assert!(claims(&refreshed)["iat"].as_i64().unwrap() >= now + 590);

    let (t, _) = id_token("none").await;
    assert!(verifies_with_jwks(&t, &jwks), "off again");
    let op = serde_json::json!({ "op": "set_switches", "switches": { "idTokenDefect": "noSuchDefect" } });
    assert!(sim.control().apply(serde_json::from_value(op).unwrap()).is_err());
}

#[tokio::test]
async fn introspect_reports_active_tokens_to_their_client_only() {
    let sim = start().await;
    let p = pkce();
    let code = code_for(&browser(), &sim, "openid profile", &p.challenge).await;
    let at = json(exchange(&sim, &code, &p.verifier).await).await["access_token"].as_str().unwrap().to_owned();
    let url = format!("{}/oauth2/v1/introspect", sim.base_url());
    let r = http()
        .post(&url)
        .basic_auth(sample::OIDC_CLIENT_ID, Some(sample::OIDC_CLIENT_SECRET))
        .form(&[("token", at.as_str()), ("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap();
    let body = json(r).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["username"], sample::SIGN_IN_LOGIN);
    assert_eq!(body["client_id"], sample::OIDC_CLIENT_ID);
    let r = http()
        .post(&url)
        .basic_auth(sample::OIDC_CLIENT_ID, Some(sample::OIDC_CLIENT_SECRET))
        .form(&[("token", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await, serde_json::json!({"active": false}));
}
