//! `/api/v1` over real HTTP: tokens, roles, problems, paging, ETags, and the providers,
//! sync and decisions against the Okta simulator.

use okta_sim::{Fixture, Options, Sim};
use portcullis_domain::{
    api_tokens::{ApiTokens, NewToken},
    audit::{Actor, Caller},
    Role,
};
use reqwest::{header, Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::server::{start, TestServer};

pub(crate) struct Api {
    pub(crate) server: TestServer,
}

pub(crate) async fn api(extra: &[(&str, &str)]) -> Api {
    Api { server: start(extra).await }
}

impl Api {
    pub(crate) fn tokens(&self) -> &ApiTokens {
        &self.server.state.services.tokens
    }

    pub(crate) async fn token(&self, role: Role) -> String {
        self.token_with(NewToken { name: format!("{} token", role.label()), role: Some(role), ..NewToken::default() })
            .await
    }

    pub(crate) async fn token_with(&self, new: NewToken) -> String {
        let by = Caller { actor: Actor::CommandLine, role: Role::Admin, ip: None };
        self.tokens().create(&by, new).await.unwrap().0
    }

    pub(crate) async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Response {
        let mut req = self.server.client.request(method, format!("{}/api/v1{path}", self.server.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }

    pub(crate) async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        json_of(self.call(Method::GET, path, Some(token), None).await).await
    }

    pub(crate) async fn send(&self, method: Method, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        json_of(self.call(method, path, Some(token), Some(body)).await).await
    }
}

pub(crate) async fn json_of(r: Response) -> (StatusCode, Value) {
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// A problem's stable code, from its `type`.
pub(crate) fn code(problem: &Value) -> &str {
    problem["type"].as_str().and_then(|t| t.strip_prefix("urn:portcullis:problem:")).unwrap_or("")
}

#[tokio::test]
async fn a_token_that_is_missing_malformed_unknown_expired_revoked_or_from_a_refused_address_is_401() {
    let api = api(&[]).await;
    let good = api.token(Role::Viewer).await;
    let (status, _) = api.get("/applications", &good).await;
    assert_eq!(status, StatusCode::OK);

    let r = api.call(Method::GET, "/applications", None, None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()[header::CONTENT_TYPE], "application/problem+json");
    assert!(r.headers()[header::WWW_AUTHENTICATE].to_str().unwrap().starts_with("Bearer"));
    assert_eq!(code(&json_of(r).await.1), "token-missing");

    let mut typo = good.clone().into_bytes();
    typo[10] = if typo[10] == b'x' { b'y' } else { b'x' };
    let typo = String::from_utf8(typo).unwrap();
    for (token, expected) in [
        (typo.as_str(), "token-malformed"),
        ("pcat_", "token-malformed"),
        ("Basic abc", "token-malformed"),
        (portcullis_domain::api_tokens::generate().as_str(), "token-unknown"),
    ] {
        let (status, problem) = api.get("/applications", token).await;
        assert_eq!((status, code(&problem)), (StatusCode::UNAUTHORIZED, expected), "{token}");
    }

    let expired = api.token(Role::Admin).await;
    let id = api.tokens().list().await.unwrap().into_iter().find(|t| expired.starts_with(&t.prefix)).unwrap().id;
    api.server.store.set_api_token_expiry(&id, 1).await.unwrap();
    let (status, problem) = api.get("/applications", &expired).await;
    assert_eq!((status, code(&problem)), (StatusCode::UNAUTHORIZED, "token-expired"));

    let revoked = api.token(Role::Admin).await;
    let admin = api.token(Role::Admin).await;
    let prefix = portcullis_domain::api_tokens::shown_prefix(&revoked);
    let (status, view) =
        json_of(api.call(Method::DELETE, &format!("/tokens/{prefix}"), Some(&admin), None).await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(view["revoked_at"].is_i64());
    let (status, problem) = api.get("/applications", &revoked).await;
    assert_eq!((status, code(&problem)), (StatusCode::UNAUTHORIZED, "token-revoked"));

    let elsewhere = api
        .token_with(NewToken {
            name: "office only".into(),
            role: Some(Role::Admin),
            allowed_cidrs: vec!["10.0.0.0/8".into()],
            ..NewToken::default()
        })
        .await;
    let (status, problem) = api.get("/applications", &elsewhere).await;
    assert_eq!((status, code(&problem)), (StatusCode::UNAUTHORIZED, "token-source-refused"));
    let here = api
        .token_with(NewToken {
            name: "loopback".into(),
            role: Some(Role::Viewer),
            allowed_cidrs: vec!["127.0.0.0/8".into()],
            ..NewToken::default()
        })
        .await;
    assert_eq!(api.get("/applications", &here).await.0, StatusCode::OK);

    // Refusals are in the audit log, by reason, with the prefix of a token of our shape only.
    let (_, log) = api.get("/audit?action=api_token.refused&limit=20", &here).await;
    let reasons: Vec<&str> =
        log["items"].as_array().unwrap().iter().map(|e| e["details"]["reason"].as_str().unwrap()).collect();
    for reason in ["token-malformed", "token-unknown", "token-expired", "token-revoked", "token-source-refused"] {
        assert!(reasons.contains(&reason), "{reason} in {reasons:?}");
    }
    let revoked_entry =
        log["items"].as_array().unwrap().iter().find(|e| e["details"]["reason"] == "token-revoked").unwrap();
    assert_eq!(revoked_entry["target"], prefix.as_str());
    assert!(!log.to_string().contains(&revoked[13..]), "never more of a token than its prefix");
}

#[tokio::test]
async fn a_viewer_changes_nothing_and_an_editor_cannot_manage_tokens_or_role_mappings() {
    let api = api(&[]).await;
    let (viewer, editor, admin) =
        (api.token(Role::Viewer).await, api.token(Role::Editor).await, api.token(Role::Admin).await);
    let app = json!({"name": "Wiki", "hosts": [{"hostname": "wiki.example.com"}], "session_duration_minutes": 60});
    let (status, created) = api.send(Method::POST, "/applications", &editor, app.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let app_id = created["id"].as_str().unwrap().to_string();
    let policy = json!({"name": "Everyone", "action": "allow", "rules": {"include": [{"type": "everyone"}]}});
    let writes: Vec<(Method, String, Value)> = vec![
        (
            Method::POST,
            "/applications".into(),
            json!({"name": "Other", "hosts": [{"hostname": "o.example.com"}], "session_duration_minutes": 60}),
        ),
        (Method::PUT, format!("/applications/{app_id}"), app.clone()),
        (Method::DELETE, format!("/applications/{app_id}"), Value::Null),
        (Method::POST, format!("/applications/{app_id}/policies"), policy.clone()),
        (
            Method::POST,
            "/providers".into(),
            json!({"kind": "oidc", "name": "X", "base_url": "https://idp.example.com", "client_id": "c", "client_secret": "s"}),
        ),
        (Method::POST, "/providers/none/sync".into(), json!({})),
        (Method::POST, "/sync/runs/none/approve".into(), Value::Null),
        (Method::POST, "/tokens".into(), json!({"name": "x", "role": "viewer"})),
        (Method::POST, "/role-mappings".into(), json!({"provider_id": "p", "group": "g", "role": "admin"})),
    ];
    for (method, path, body) in &writes {
        let body = (!body.is_null()).then(|| body.clone());
        let (status, problem) = json_of(api.call(method.clone(), path, Some(&viewer), body).await).await;
        assert_eq!((status, code(&problem)), (StatusCode::FORBIDDEN, "forbidden"), "viewer {method} {path}");
    }
    for path in ["/tokens", "/role-mappings"] {
        let body = if path == "/tokens" {
            json!({"name": "x", "role": "viewer"})
        } else {
            json!({"provider_id": "p", "group": "g", "role": "viewer"})
        };
        let (status, problem) = api.send(Method::POST, path, &editor, body).await;
        assert_eq!((status, code(&problem)), (StatusCode::FORBIDDEN, "forbidden"), "editor POST {path}");
    }
    assert_eq!(api.get("/tokens", &editor).await.0, StatusCode::FORBIDDEN);
    let (status, problem) = json_of(api.call(Method::POST, "/sync/runs/any/approve", Some(&editor), None).await).await;
    assert_eq!((status, code(&problem)), (StatusCode::FORBIDDEN, "forbidden"), "approving held removals is for Admins");
    // Reads are open to every role.
    for path in ["/applications", "/providers", "/role-mappings", "/directory/users", "/directory/groups", "/audit"] {
        assert_eq!(api.get(path, &viewer).await.0, StatusCode::OK, "viewer GET {path}");
    }
    // An Admin makes a token over the API: shown once, then listed by prefix without it.
    let (status, made) = api
        .send(Method::POST, "/tokens", &admin, json!({"name": "pipeline", "role": "editor", "expires_days": 7}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let token = made["token"].as_str().unwrap();
    assert!(token.starts_with("pcat_"));
    let (_, list) = api.get("/tokens", &admin).await;
    let listed = list["items"].as_array().unwrap().iter().find(|t| t["name"] == "pipeline").unwrap();
    assert_eq!(listed["prefix"], made["prefix"]);
    assert!(!list.to_string().contains(token), "a listed token never carries the token");
    assert_eq!(api.get("/applications", token).await.0, StatusCode::OK);
}

#[tokio::test]
async fn applications_and_policies_page_by_cursor_and_refuse_a_stale_if_match() {
    let api = api(&[]).await;
    let editor = api.token(Role::Editor).await;
    for i in 0..3 {
        let app = json!({"name": format!("App {i}"), "hosts": [{"hostname": format!("app{i}.example.com")}], "session_duration_minutes": 60});
        assert_eq!(api.send(Method::POST, "/applications", &editor, app).await.0, StatusCode::CREATED);
    }
    let (_, first) = api.get("/applications?limit=2", &editor).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = api.get(&format!("/applications?limit=2&cursor={cursor}"), &editor).await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert!(second["next_cursor"].is_null());
    let (status, problem) = api.get("/applications?cursor=not-ours", &editor).await;
    assert_eq!((status, code(&problem)), (StatusCode::BAD_REQUEST, "bad-cursor"));
    let (status, problem) = api.get("/applications?limit=0", &editor).await;
    assert_eq!((status, code(&problem)), (StatusCode::BAD_REQUEST, "bad-query"));

    let app_id = first["items"][0]["id"].as_str().unwrap().to_string();
    let r = api.call(Method::GET, &format!("/applications/{app_id}"), Some(&editor), None).await;
    let etag = r.headers()[header::ETAG].to_str().unwrap().to_string();
    let mut body = json_of(r).await.1;
    let changed = json!({"name": "Renamed", "hosts": body["hosts"].take(), "session_duration_minutes": 30});
    let put = |tag: &str| {
        api.server
            .client
            .put(format!("{}/api/v1/applications/{app_id}", api.server.base))
            .bearer_auth(&editor)
            .header(header::IF_MATCH, tag.to_string())
            .json(&changed)
            .send()
    };
    let r = put(&etag).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (status, problem) = json_of(put(&etag).await.unwrap()).await;
    assert_eq!(
        (status, code(&problem)),
        (StatusCode::PRECONDITION_FAILED, "precondition-failed"),
        "the second writer loses"
    );

    for name in ["First", "Second", "Third"] {
        let policy = json!({"name": name, "action": "allow", "rules": {"include": [{"type": "email_domain", "domain": "example.com"}]}});
        let (status, p) = api.send(Method::POST, &format!("/applications/{app_id}/policies"), &editor, policy).await;
        assert_eq!(status, StatusCode::CREATED, "{p}");
    }
    let (_, policies) = api.get(&format!("/applications/{app_id}/policies"), &editor).await;
    let third = policies["items"][2]["id"].as_str().unwrap().to_string();
    let (status, order) =
        api.send(Method::POST, &format!("/policies/{third}/move"), &editor, json!({"position": 1})).await;
    assert_eq!(status, StatusCode::OK, "{order}");
    let names: Vec<&str> = order.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Third", "First", "Second"]);
    let (status, problem) =
        api.send(Method::POST, &format!("/policies/{third}/move"), &editor, json!({"position": 9})).await;
    assert_eq!((status, code(&problem)), (StatusCode::BAD_REQUEST, "invalid"));
    let r = api.call(Method::DELETE, &format!("/policies/{third}"), Some(&editor), None).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(api.get(&format!("/policies/{third}"), &editor).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_requests_are_problems_with_stable_types_and_never_500() {
    let api = api(&[]).await;
    let editor = api.token(Role::Editor).await;
    let (status, problem) = api
        .send(
            Method::POST,
            "/applications",
            &editor,
            json!({"name": "A", "hosts": [], "session_duration_minutes": 60, "owner": "me"}),
        )
        .await;
    assert_eq!((status, code(&problem)), (StatusCode::BAD_REQUEST, "bad-body"), "unknown fields are refused");
    assert!(problem["detail"].as_str().unwrap().contains("owner"), "{problem}");
    let r = api
        .server
        .client
        .post(format!("{}/api/v1/applications", api.server.base))
        .bearer_auth(&editor)
        .header(header::CONTENT_TYPE, "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(code(&json_of(r).await.1), "unsupported-media-type");
    let r = api
        .server
        .client
        .post(format!("{}/api/v1/applications", api.server.base))
        .bearer_auth(&editor)
        .header(header::CONTENT_TYPE, "application/json")
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let (status, problem) = api.get("/no-such-thing", &editor).await;
    assert_eq!((status, code(&problem)), (StatusCode::NOT_FOUND, "not-found"));
    let (status, problem) = json_of(api.call(Method::PATCH, "/applications", Some(&editor), None).await).await;
    assert_eq!((status, code(&problem)), (StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed"));
    let (status, problem) = api.get("/applications/nope", &editor).await;
    assert_eq!((status, code(&problem)), (StatusCode::NOT_FOUND, "not-found"));
    let (status, problem) = api.get("/audit?from=yesterday", &editor).await;
    assert_eq!((status, code(&problem)), (StatusCode::BAD_REQUEST, "invalid"));
    let (status, problem) = api.get("/directory/users?state=gone", &editor).await;
    assert_eq!((status, code(&problem)), (StatusCode::BAD_REQUEST, "bad-query"));
}

#[tokio::test]
async fn the_openapi_document_describes_every_route_and_the_reference_is_served() {
    let api = api(&[]).await;
    let (status, doc) =
        json_of(api.server.client.get(format!("{}/api/v1/openapi.json", api.server.base)).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/tokens",
        "/providers/{id}",
        "/providers/{id}/test",
        "/providers/{id}/sync",
        "/providers/{id}/sync/settings",
        "/sync/runs/{id}/approve",
        "/role-mappings/{id}",
        "/applications/{id}/policies",
        "/policies/{id}/move",
        "/directory/users",
        "/decisions/test",
        "/audit",
    ] {
        assert!(paths.contains_key(path), "{path} is documented");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let r = api.server.client.get(format!("{}/api/docs", api.server.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("/api/docs/swagger-ui-bundle.js") && !page.contains("https://"), "no CDN");
}

#[tokio::test]
async fn providers_sync_and_decisions_over_the_api_work_like_the_console_and_never_return_secrets() {
    let sim = Sim::start_local(Fixture::sample(), Options::default()).await.unwrap();
    let creds = Fixture::sample().credentials(sim.base_url());
    let api = api(&[("PORTCULLIS_OUTBOUND_ALLOW", "127.0.0.1")]).await;
    let (admin, viewer) = (api.token(Role::Admin).await, api.token(Role::Viewer).await);
    let secret = creds.oidc_client_secret.clone().unwrap();
    let jwk = creds.service_private_jwk.clone().unwrap().to_string();
    let provider = json!({
        "kind": "okta", "name": "Okta", "base_url": sim.base_url(),
        "client_id": creds.oidc_client_id.clone().unwrap(), "client_secret": secret,
        "directory": {"mode": "service_app", "client_id": creds.service_client_id.clone().unwrap(), "private_key": jwk},
    });

    let (status, dry) = api.send(Method::POST, "/providers?dry_run=true", &admin, provider.clone()).await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    assert_eq!(dry["dry_run"], true);
    assert!(dry["report"]["checks"].as_array().unwrap().len() > 5);
    assert_eq!(api.get("/providers", &admin).await.1["items"].as_array().unwrap().len(), 0, "a dry run saves nothing");

    let mut wrong = provider.clone();
    wrong["client_secret"] = json!("not-the-secret");
    let (status, problem) = api.send(Method::POST, "/providers", &admin, wrong).await;
    assert_eq!((status, code(&problem)), (StatusCode::UNPROCESSABLE_ENTITY, "checks-failed"));
    assert!(problem["report"]["checks"].as_array().unwrap().iter().any(|c| c["status"] == "failed"));

    let (status, saved) = api.send(Method::POST, "/providers", &admin, provider.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    let id = saved["provider"]["id"].as_str().unwrap().to_string();
    let (_, got) = api.get(&format!("/providers/{id}"), &viewer).await;
    assert_eq!(got["client_secret_set"], true);
    for s in [&secret, &jwk] {
        assert!(
            !got.to_string().contains(s.as_str()) && !saved.to_string().contains(s.as_str()),
            "secrets are write-only"
        );
    }
    let (status, report) =
        json_of(api.call(Method::POST, &format!("/providers/{id}/test"), Some(&admin), None).await).await;
    assert_eq!(status, StatusCode::OK, "{report}");

    let (status, started) = crate::config::sync_now(&api, &admin, &id, json!({"kind": "full"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let run_id = started["run_id"].as_str().unwrap().to_string();
    let mut run = Value::Null;
    for _ in 0..200 {
        let (status, detail) = api.get(&format!("/sync/runs/{run_id}"), &viewer).await;
        if status == StatusCode::OK && detail["run"]["status"] != "running" {
            run = detail;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(run["run"]["status"], "succeeded", "{run}");
    let (_, runs) = api.get(&format!("/providers/{id}/sync/runs"), &viewer).await;
    assert_eq!(runs["items"][0]["id"], run_id.as_str());

    let (_, users) = api.get("/directory/users?limit=2", &viewer).await;
    assert!(users["total"].as_i64().unwrap() > 2);
    assert_eq!(users["items"].as_array().unwrap().len(), 2);
    assert!(users["next_cursor"].is_string());
    let (_, groups) = api.get("/directory/groups?search=everyone", &viewer).await;
    let group = &groups["items"][0];
    assert_eq!(group["name"], "Everyone");
    let (status, detail) = api.get(&format!("/directory/groups/{}", group["id"].as_str().unwrap()), &viewer).await;
    assert_eq!(status, StatusCode::OK);
    assert!(detail["members"]["total"].as_i64().unwrap() > 0);

    let r = api.call(Method::GET, &format!("/providers/{id}/sync/settings"), Some(&viewer), None).await;
    let etag = r.headers()[header::ETAG].to_str().unwrap().to_string();
    let mut settings = json_of(r).await.1;
    settings["interval_minutes"] = json!(30);
    let r = api
        .server
        .client
        .put(format!("{}/api/v1/providers/{id}/sync/settings", api.server.base))
        .bearer_auth(&admin)
        .header(header::IF_MATCH, &etag)
        .json(&settings)
        .send()
        .await
        .unwrap();
    let (status, saved_settings) = json_of(r).await;
    assert_eq!((status, saved_settings["interval_minutes"].as_i64()), (StatusCode::OK, Some(30)));

    let (status, mapping) = api
        .send(
            Method::POST,
            "/role-mappings",
            &admin,
            json!({"provider_id": id, "group": group["external_id"], "role": "viewer"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{mapping}");
    assert_eq!(mapping["group_name"], "Everyone");

    let app = json!({"name": "Wiki", "hosts": [{"hostname": "wiki.example.com"}], "session_duration_minutes": 60});
    let (_, app) = api.send(Method::POST, "/applications", &admin, app).await;
    let app_id = app["id"].as_str().unwrap();
    let rule = json!({"type": "group", "provider_id": id, "external_id": group["external_id"]});
    let policy = json!({"name": "Staff", "action": "allow", "rules": {"include": [rule]}});
    assert_eq!(
        api.send(Method::POST, &format!("/applications/{app_id}/policies"), &admin, policy).await.0,
        StatusCode::CREATED
    );
    let email = users["items"][0]["email"].as_str().unwrap();
    let (status, answer) =
        api.send(Method::POST, "/decisions/test", &viewer, json!({"application_id": app_id, "user": email})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer["decision"]["summary"].as_str().unwrap().len() > 10);
    assert_eq!(answer["person"]["email"], email);

    // Every change is in the audit log as the token that made it.
    let (_, log) = api.get("/audit?action=application.created", &viewer).await;
    let actor = log["items"][0]["actor"].as_str().unwrap();
    assert!(actor.starts_with("API token pcat_") && actor.contains("Admin token"), "{actor}");
    let (_, first) = api.get("/audit?limit=1", &viewer).await;
    let next = first["next_cursor"].as_str().unwrap();
    let (_, second) = api.get(&format!("/audit?limit=1&cursor={next}"), &viewer).await;
    assert_ne!(first["items"][0]["id"], second["items"][0]["id"]);
}
