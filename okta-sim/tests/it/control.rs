//! The HTTP control endpoint and the in-process `Control` handle.

use std::time::Instant;

use crate::common::*;
use okta_sim::sample;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn control(sim: &okta_sim::Sim, op: Value) -> (StatusCode, Value) {
    let r = http().post(format!("{}/__sim/control", sim.base_url())).json(&op).send().await.unwrap();
    let s = r.status();
    (s, r.json().await.unwrap())
}

async fn get(sim: &okta_sim::Sim, path: &str) -> reqwest::Response {
    ssws(http().get(format!("{}{path}", sim.base_url()))).send().await.unwrap()
}

#[tokio::test]
async fn latency_is_added_to_responses() {
    let sim = start().await;
    assert_eq!(control(&sim, json!({"op": "set_latency", "ms": 150})).await.0, StatusCode::OK);
    let t = Instant::now();
    get(&sim, "/api/v1/users?limit=1").await;
    assert!(t.elapsed().as_millis() >= 150);
    control(&sim, json!({"op": "set_latency", "ms": 0})).await;
}

#[tokio::test]
async fn an_error_rate_of_one_fails_every_request_with_okta_errors() {
    let sim = start().await;
    control(&sim, json!({"op": "set_error_rate", "rate": 1.0, "status": 503, "path_prefix": "/api/"})).await;
    let r = get(&sim, "/api/v1/users").await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json(r).await["errorCode"], "E0000009");
    let d = http().get(format!("{}/.well-known/openid-configuration", sim.base_url())).send().await.unwrap();
    assert_eq!(d.status(), StatusCode::OK, "outside the prefix");
    control(&sim, json!({"op": "set_error_rate", "rate": 0.0})).await;
    assert_eq!(get(&sim, "/api/v1/users").await.status(), StatusCode::OK);
    assert_eq!(control(&sim, json!({"op": "set_error_rate", "rate": 2.0})).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_deactivated_user_is_deprovisioned_and_loses_tokens() {
    let sim = start().await;
    let p = pkce();
    let code = code_for(&browser(), &sim, "openid profile", &p.challenge).await;
    let at = json(exchange(&sim, &code, &p.verifier).await).await["access_token"].as_str().unwrap().to_owned();
    let id = sim.control().user_id(sample::SIGN_IN_LOGIN).unwrap();
    let (s, _) = control(&sim, json!({"op": "deactivate_user", "user_id": id})).await;
    assert_eq!(s, StatusCode::OK);
    let u = json(get(&sim, &format!("/api/v1/users/{id}")).await).await;
    assert_eq!(u["status"], "DEPROVISIONED");
    let r = http().get(format!("{}/oauth2/v1/userinfo", sim.base_url())).bearer_auth(at).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_deleted_user_disappears_from_users_and_groups() {
    let sim = start().await;
    let ctl = sim.control();
    let id = ctl.user_id(sample::SIGN_IN_LOGIN).unwrap();
    let admins = ctl.group_id("Portcullis Admins").unwrap();
    ctl.delete_user(&id).unwrap();
    assert_eq!(get(&sim, &format!("/api/v1/users/{id}")).await.status(), StatusCode::NOT_FOUND);
    let members = json(get(&sim, &format!("/api/v1/groups/{admins}/users")).await).await;
    assert_eq!(members.as_array().unwrap().len(), 2);
    let (s, e) = control(&sim, json!({"op": "delete_user", "user_id": id})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(e["error"].is_string());
}

#[tokio::test]
async fn group_members_and_names_change_over_http() {
    let sim = start().await;
    let ctl = sim.control();
    let sales = ctl.group_id("Sales").unwrap();
    let ada = ctl.user_id(sample::SIGN_IN_LOGIN).unwrap();
    let alan = ctl.user_id(sample::SECOND_LOGIN).unwrap();
    let before = json(get(&sim, &format!("/api/v1/groups/{sales}")).await).await;
    control(&sim, json!({"op": "set_group_members", "group_id": sales, "user_ids": [ada, alan]})).await;
    let members = json(get(&sim, &format!("/api/v1/groups/{sales}/users")).await).await;
    assert_eq!(members.as_array().unwrap().len(), 2);
    control(&sim, json!({"op": "remove_membership", "group_id": sales, "user_id": alan})).await;
    control(&sim, json!({"op": "rename_group", "group_id": sales, "name": "Revenue"})).await;
    let after = json(get(&sim, &format!("/api/v1/groups/{sales}")).await).await;
    assert_eq!(after["profile"]["name"], "Revenue");
    assert_ne!(after["lastMembershipUpdated"], before["lastMembershipUpdated"]);
    assert_ne!(after["lastUpdated"], before["lastUpdated"]);
    assert_eq!(json(get(&sim, &format!("/api/v1/groups/{sales}/users")).await).await.as_array().unwrap().len(), 1);
    let (s, _) =
        control(&sim, json!({"op": "add_membership", "group_id": sample::EVERYONE_GROUP_ID, "user_id": ada})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "Everyone's membership is not editable");
}

#[tokio::test]
async fn the_rate_limit_budget_is_settable_over_http() {
    let sim = start().await;
    control(&sim, json!({"op": "set_rate_limit", "per_minute": 1})).await;
    assert_eq!(get(&sim, "/api/v1/groups").await.status(), StatusCode::OK);
    assert_eq!(get(&sim, "/api/v1/groups").await.status(), StatusCode::TOO_MANY_REQUESTS);
    control(&sim, json!({"op": "reset_rate_limits"})).await;
    assert_eq!(get(&sim, "/api/v1/groups").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn switches_merge_partially_and_unknown_ones_are_refused() {
    let sim = start().await;
    let (s, _) = control(&sim, json!({"op": "set_switches", "switches": {"groupsDefaultLimit": 3}})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(json(get(&sim, "/api/v1/groups").await).await.as_array().unwrap().len(), 3);
    assert_eq!(sim.control().switches().rate_limit_per_minute, 600);
    let (s, _) = control(&sim, json!({"op": "set_switches", "switches": {"noSuchSwitch": 1}})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = control(&sim, json!({"op": "no_such_op"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn state_reports_counts_keys_and_requests() {
    let sim = start().await;
    get(&sim, "/api/v1/users?limit=1").await;
    let r = http().get(format!("{}/__sim/state", sim.base_url())).send().await.unwrap();
    let s: Value = r.json().await.unwrap();
    assert_eq!(s["users"], 50);
    assert_eq!(s["groups"], 8);
    assert_eq!(s["requestCount"], 1, "control requests are not counted");
    assert_eq!(s["activeKid"], sim.control().active_kid());
    (control(&sim, json!({"op": "rotate_keys"})).await.1)["activeKid"].as_str().unwrap();
    assert_ne!(sim.control().state()["activeKid"], s["activeKid"]);
}

#[tokio::test]
async fn redirect_uris_can_be_changed_for_a_console_on_a_random_port() {
    let sim = start().await;
    let (s, _) = control(
        &sim,
        json!({"op": "set_redirect_uris", "client_id": sample::OIDC_CLIENT_ID, "redirect_uris": ["http://127.0.0.1:45678/cb"]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let url = authorize_url(&sim, "openid", "s", "n", &pkce().challenge);
    assert_eq!(browser().get(&url).send().await.unwrap().status(), StatusCode::BAD_REQUEST);
    let moved = url.replace("http%3A%2F%2F127.0.0.1%3A3000%2Fauth%2Fcallback", "http%3A%2F%2F127.0.0.1%3A45678%2Fcb");
    assert_eq!(browser().get(&moved).send().await.unwrap().status(), StatusCode::OK);
}
