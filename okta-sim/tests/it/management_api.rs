//! Management API over a plain HTTP client: paging and `Link` lines, filters and search,
//! errors, rate limits (okta-api.md §1, §4, §5).

use std::collections::HashSet;

use crate::common::*;
use okta_sim::{generate, sample, Fixture, Options};
use reqwest::StatusCode;
use serde_json::Value;

async fn get(sim: &okta_sim::Sim, path_and_query: &str) -> reqwest::Response {
    ssws(http().get(format!("{}{path_and_query}", sim.base_url()))).send().await.unwrap()
}

/// Follows `next` links from `first`; returns all items and the number of pages.
async fn follow_all(first: String) -> (Vec<Value>, usize) {
    let mut url = Some(first);
    let mut items = Vec::new();
    let mut pages = 0;
    while let Some(u) = url {
        let r = ssws(http().get(&u)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{u}");
        url = next_link(&r);
        pages += 1;
        items.extend(json(r).await.as_array().unwrap().iter().cloned());
    }
    (items, pages)
}

#[tokio::test]
async fn users_page_with_limit_and_after_and_separate_link_lines() {
    let sim = start().await;
    let r = get(&sim, "/api/v1/users?limit=20").await;
    assert_eq!(r.status(), StatusCode::OK);
    let links = link_lines(&r);
    assert_eq!(links.len(), 2, "self and next on separate lines: {links:?}");
    assert_eq!(links[0], format!("<{}/api/v1/users?limit=20>; rel=\"self\"", sim.base_url()));
    let next = next_link(&r).unwrap();
    let page1 = json(r).await;
    let last_id = page1[19]["id"].as_str().unwrap();
    assert_eq!(next, format!("{}/api/v1/users?after={last_id}&limit=20", sim.base_url()));

    let (all, pages) = follow_all(format!("{}/api/v1/users?limit=20", sim.base_url())).await;
    assert_eq!(all.len(), 49, "everyone but the DEPROVISIONED user");
    assert_eq!(pages, 3);
    let ids: HashSet<&str> = all.iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 49);
    assert!(all.iter().all(|u| u["status"] != "DEPROVISIONED"));
    let u = &all[0];
    for k in [
        "id",
        "status",
        "created",
        "activated",
        "statusChanged",
        "lastLogin",
        "lastUpdated",
        "passwordChanged",
        "type",
        "profile",
        "credentials",
        "_links",
    ] {
        assert!(u.get(k).is_some(), "user lacks {k}");
    }
    assert_eq!(u["_links"].as_object().unwrap().len(), 1, "lists carry only self");
}

#[tokio::test]
async fn the_next_link_keeps_filter_and_search_parameters() {
    let sim = start().await;
    let r = get(&sim, "/api/v1/users?search=profile.department%20eq%20%22engineering%22&limit=5").await;
    let next = next_link(&r).unwrap();
    assert!(
        next.contains("after=")
            && next.contains("search=profile.department+eq+%22engineering%22")
            && next.contains("limit=5")
    );
    let (all, _) = follow_all(format!(
        "{}/api/v1/users?search=profile.department%20eq%20%22engineering%22&limit=5",
        sim.base_url()
    ))
    .await;
    assert_eq!(all.len(), 18);
    assert!(all.iter().all(|u| u["profile"]["department"] == "Engineering"));
}

#[tokio::test]
async fn a_single_user_is_found_by_id_or_login_and_has_lifecycle_links() {
    let sim = start().await;
    let r = get(&sim, &format!("/api/v1/users/{}", sample::SIGN_IN_LOGIN)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let u = json(r).await;
    assert!(u["_links"]["deactivate"]["href"].as_str().unwrap().ends_with("/lifecycle/deactivate"));
    let by_id = json(get(&sim, &format!("/api/v1/users/{}", u["id"].as_str().unwrap())).await).await;
    assert_eq!(by_id["profile"]["login"], sample::SIGN_IN_LOGIN);

    let r = get(&sim, "/api/v1/users/missing@example.com").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let e = json(r).await;
    assert_eq!(e["errorCode"], "E0000007");
    assert_eq!(e["errorSummary"], "Not found: Resource not found: missing@example.com (User)");
    assert_eq!(e["errorLink"], "E0000007");
    assert!(e["errorId"].as_str().unwrap().starts_with("oae"));
    assert_eq!(e["errorCauses"], serde_json::json!([]));
}

#[tokio::test]
async fn filter_on_status_and_last_updated_includes_deprovisioned() {
    let sim = start().await;
    let all = json(get(&sim, "/api/v1/users?filter=status%20eq%20%22DEPROVISIONED%22").await).await;
    assert_eq!(all.as_array().unwrap().len(), 1);
    let recent = json(get(&sim, "/api/v1/users?filter=lastUpdated%20gt%20%222099-01-01T00:00:00.000Z%22").await).await;
    assert_eq!(recent.as_array().unwrap().len(), 0);
    let some = json(
        get(
            &sim,
            "/api/v1/users?filter=lastUpdated%20ge%20%222000-01-01T00:00:00.000Z%22%20and%20status%20eq%20%22ACTIVE%22",
        )
        .await,
    )
    .await;
    assert_eq!(some.as_array().unwrap().len(), 44);

    let bad = get(&sim, "/api/v1/users?filter=profile.department%20eq%20%22IT%22").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(bad).await["errorCode"], "E0000031");
    let both = get(&sim, "/api/v1/users?filter=status%20eq%20%22ACTIVE%22&search=status%20eq%20%22ACTIVE%22").await;
    assert_eq!(json(both).await["errorCode"], "E0000033");
}

#[tokio::test]
async fn q_is_a_prefix_match_without_paging() {
    let sim = start().await;
    let r = get(&sim, "/api/v1/users?q=ala").await;
    assert_eq!(link_lines(&r).len(), 1);
    let found = json(r).await;
    let names: Vec<&str> =
        found.as_array().unwrap().iter().map(|u| u["profile"]["lastName"].as_str().unwrap()).collect();
    assert!(names.contains(&"Turing") && names.contains(&"Kay"), "{names:?}");
}

#[tokio::test]
async fn limits_above_the_maximum_are_capped_or_rejected_by_switch() {
    let sim = start().await;
    let capped = json(get(&sim, "/api/v1/users?limit=1000").await).await;
    assert_eq!(capped.as_array().unwrap().len(), 49);
    let mut sw = sim.control().switches();
    sw.limit_over_max = okta_sim::switches::LimitOverMax::Reject;
    sim.control().set_switches(sw);
    let r = get(&sim, "/api/v1/users?limit=1000").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(r).await["errorCode"], "E0000054");
    assert_eq!(json(get(&sim, "/api/v1/users?limit=abc").await).await["errorCode"], "E0000054");
}

#[tokio::test]
async fn groups_list_with_types_sources_and_stats() {
    let sim = start().await;
    let groups = json(get(&sim, "/api/v1/groups?expand=stats").await).await;
    let groups = groups.as_array().unwrap();
    assert_eq!(groups.len(), 8);
    let everyone = groups.iter().find(|g| g["profile"]["name"] == "Everyone").unwrap();
    assert_eq!(everyone["type"], "BUILT_IN");
    assert_eq!(everyone["_embedded"]["stats"]["usersCount"], 50);
    let vpn = groups.iter().find(|g| g["type"] == "APP_GROUP").unwrap();
    assert_eq!(vpn["source"]["id"], sample::DIRECTORY_APP_ID);
    for k in ["id", "created", "lastUpdated", "lastMembershipUpdated", "objectClass", "type", "profile", "_links"] {
        assert!(everyone.get(k).is_some(), "group lacks {k}");
    }
    let okta_groups = json(get(&sim, "/api/v1/groups?filter=type%20eq%20%22OKTA_GROUP%22").await).await;
    assert_eq!(okta_groups.as_array().unwrap().len(), 6);
    let by_name = json(get(&sim, "/api/v1/groups?q=portcullis").await).await;
    assert_eq!(by_name[0]["profile"]["name"], "Portcullis Admins");
}

#[tokio::test]
async fn incremental_group_sync_filters_on_last_membership_updated() {
    let sim = start().await;
    let ctl = sim.control();
    let cutoff = "2099-01-01T00:00:00.000Z";
    let url = format!(
        "/api/v1/groups?filter={}",
        url::form_urlencoded::byte_serialize(
            format!("lastUpdated gt \"{cutoff}\" or lastMembershipUpdated gt \"{cutoff}\"").as_bytes()
        )
        .collect::<String>()
    );
    assert_eq!(json(get(&sim, &url).await).await.as_array().unwrap().len(), 0);
    ctl.advance_clock(100 * 365 * 86_400);
    let sales = ctl.group_id("Sales").unwrap();
    ctl.add_membership(&sales, &ctl.user_id(sample::SIGN_IN_LOGIN).unwrap()).unwrap();
    let changed = json(get(&sim, &url).await).await;
    assert_eq!(changed.as_array().unwrap().len(), 1);
    assert_eq!(changed[0]["id"], sales);
}

#[tokio::test]
async fn group_members_and_user_groups_reflect_memberships() {
    let sim = start().await;
    let ctl = sim.control();
    let admins = ctl.group_id("Portcullis Admins").unwrap();
    let members = json(get(&sim, &format!("/api/v1/groups/{admins}/users")).await).await;
    assert_eq!(members.as_array().unwrap().len(), 3);

    let r = get(&sim, &format!("/api/v1/users/{}/groups?limit=200", sample::SIGN_IN_LOGIN)).await;
    assert_eq!(link_lines(&r).len(), 1, "only self by default");
    let groups = json(r).await;
    let names: Vec<&str> = groups.as_array().unwrap().iter().map(|g| g["profile"]["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"Everyone") && names.contains(&"Portcullis Admins"));

    let r = get(&sim, "/api/v1/groups/00gnosuchgroup000000/users").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(json(r).await["errorSummary"], "Not found: Resource not found: 00gnosuchgroup000000 (UserGroup)");
}

#[tokio::test]
async fn user_groups_can_be_paged_by_switch() {
    let mut f = Fixture::sample();
    f.switches.user_groups_paged = true;
    let sim = start_with(f, Options::default()).await;
    let (all, pages) =
        follow_all(format!("{}/api/v1/users/{}/groups?limit=2", sim.base_url(), sample::SIGN_IN_LOGIN)).await;
    assert_eq!(pages, 2);
    assert_eq!(all.len(), 3);
}

#[tokio::test]
async fn app_users_and_groups_list_assignments() {
    let sim = start().await;
    let r = ssws(http().get(format!("{}/api/v1/apps/{}/groups", sim.base_url(), sample::OIDC_CLIENT_ID)))
        .send()
        .await
        .unwrap();
    let groups = json(r).await;
    assert_eq!(groups[0]["id"], sample::EVERYONE_GROUP_ID);
    let (users, pages) =
        follow_all(format!("{}/api/v1/apps/{}/users?limit=20&expand=user", sim.base_url(), sample::OIDC_CLIENT_ID))
            .await;
    assert_eq!(users.len(), 50);
    assert_eq!(pages, 3);
    assert_eq!(users[0]["scope"], "GROUP");
    assert!(users[0]["credentials"]["userName"].is_string());
    assert!(users[0]["_embedded"]["user"]["profile"]["login"].is_string());
    let r = get(&sim, "/api/v1/apps/0oanosuchapp00000000/users").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let at = bearer_token(&sim, sample::SERVICE_MISSING_SCOPE_CLIENT_ID, "okta.users.read").await;
    let r = http()
        .get(format!("{}/api/v1/apps/{}/users", sim.base_url(), sample::OIDC_CLIENT_ID))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "okta.apps.read is needed");
}

#[tokio::test]
async fn authentication_errors_use_okta_codes() {
    let sim = start().await;
    let url = format!("{}/api/v1/users", sim.base_url());
    let none = http().get(&url).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::FORBIDDEN);
    assert_eq!(json(none).await["errorCode"], "E0000005");
    let bad = http().get(&url).header("Authorization", "SSWS nope").send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    let e = json(bad).await;
    assert_eq!(
        (e["errorCode"].as_str(), e["errorSummary"].as_str()),
        (Some("E0000011"), Some("Invalid token provided"))
    );
    let basic = http().get(&url).basic_auth("a", Some("b")).send().await.unwrap();
    assert_eq!(json(basic).await["errorCode"], "E0000005");
    let unknown = get(&sim, "/api/v1/nothing/here").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(json(unknown).await["errorCode"], "E0000008");
    let method = ssws(http().patch(&url)).send().await.unwrap();
    assert_eq!(method.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(json(method).await["errorCode"], "E0000022");
}

#[tokio::test]
async fn every_response_has_request_id_date_and_rate_limit_headers() {
    let sim = start().await;
    let r = get(&sim, "/api/v1/users?limit=1").await;
    let h = r.headers();
    assert!(!h["x-okta-request-id"].is_empty());
    assert!(h["date"].to_str().unwrap().ends_with(" GMT"));
    assert_eq!(h["x-rate-limit-limit"], "600");
    assert_eq!(h["x-rate-limit-remaining"], "599");
    let reset: i64 = h["x-rate-limit-reset"].to_str().unwrap().parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!(reset > now && reset <= now + 61);
    let disc = http().get(format!("{}/.well-known/openid-configuration", sim.base_url())).send().await.unwrap();
    assert!(disc.headers().get("x-okta-request-id").is_some() && disc.headers().get("date").is_some());
    assert!(disc.headers().get("x-rate-limit-limit").is_none(), "discovery is exempt");
}

#[tokio::test]
async fn past_the_budget_the_api_answers_429_with_reset_headers() {
    let sim = start().await;
    sim.control().set_rate_limit(3);
    for remaining in ["2", "1", "0"] {
        let r = get(&sim, "/api/v1/users?limit=1").await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["x-rate-limit-remaining"], remaining);
    }
    let r = get(&sim, "/api/v1/users?limit=1").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["x-rate-limit-limit"], "3");
    assert_eq!(r.headers()["x-rate-limit-remaining"], "0");
    assert!(r.headers().get("x-rate-limit-reset").is_some() && r.headers().get("date").is_some());
    let e = json(r).await;
    assert_eq!(e["errorCode"], "E0000047");
    assert_eq!(e["errorSummary"], "API call exceeded rate limit due to too many requests.");
    // Another bucket still has budget.
    assert_eq!(get(&sim, "/api/v1/groups").await.status(), StatusCode::OK);
    sim.control().advance_clock(61);
    assert_eq!(get(&sim, "/api/v1/users?limit=1").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_12k_user_org_pages_completely_and_quickly() {
    let f = generate(12_000, 300, 42);
    let expected = f.users.iter().filter(|u| u.status != okta_sim::fixture::UserStatus::Deprovisioned).count();
    let mut sw = f.switches.clone();
    sw.rate_limit_per_minute = 100_000;
    let sim = start_with(f, Options { switches: Some(sw), ..Options::default() }).await;
    let started = std::time::Instant::now();
    let (all, pages) = follow_all(format!("{}/api/v1/users?limit=200", sim.base_url())).await;
    assert_eq!(all.len(), expected);
    assert_eq!(pages, expected.div_ceil(200));
    let ids: HashSet<&str> = all.iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), expected);
    assert!(started.elapsed().as_secs() < 20, "paging took {:?}", started.elapsed());

    let (groups, _) = follow_all(format!("{}/api/v1/groups?limit=200", sim.base_url())).await;
    assert_eq!(groups.len(), 301);
    let big = groups.iter().find(|g| g["profile"]["name"] == "Engineering").unwrap()["id"].as_str().unwrap().to_owned();
    let (members, _) = follow_all(format!("{}/api/v1/groups/{big}/users?limit=200", sim.base_url())).await;
    assert!(members.len() > 500);
    assert!(sim.control().request_count() > 60);
}
