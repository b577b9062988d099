//! Configuration as code over `/api/v1/config` and the `portcullis config` command line: a
//! console configured against the simulator, exported, applied to an empty second console,
//! exported again.

use okta_sim::{Fixture, Options, Sim};
use portcullis_domain::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::api::{api, code, json_of, Api};

pub(crate) async fn configure(a: &Api, admin: &str, sim: &Sim) -> String {
    let creds = Fixture::sample().credentials(sim.base_url());
    let provider = json!({
        "kind": "okta", "name": "Okta", "base_url": sim.base_url(),
        "client_id": creds.oidc_client_id.clone().unwrap(), "client_secret": creds.oidc_client_secret.clone().unwrap(),
        "directory": {"mode": "service_app", "client_id": creds.service_client_id.clone().unwrap(),
                      "private_key": creds.service_private_jwk.clone().unwrap().to_string()},
    });
    let (status, saved) = a.send(Method::POST, "/providers", admin, provider).await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    let id = saved["provider"]["id"].as_str().unwrap().to_string();
    let (status, started) = sync_now(a, admin, &id, json!({})).await;
    assert!(status.is_success(), "{started}");
    let run = started["run_id"].as_str().unwrap().to_string();
    for _ in 0..300 {
        let (_, d) = a.get(&format!("/sync/runs/{run}"), admin).await;
        if d["run"]["status"] != "running" {
            assert_eq!(d["run"]["status"], "succeeded", "{d}");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    id
}

/// Sync now, as an admin does right after connecting a provider. The scheduler may have
/// started the provider's first run already; Sync now is refused with 409 until that ends.
pub(crate) async fn sync_now(a: &Api, admin: &str, provider: &str, body: Value) -> (StatusCode, Value) {
    for _ in 0..300 {
        let (status, answer) = a.send(Method::POST, &format!("/providers/{provider}/sync"), admin, body.clone()).await;
        if status != StatusCode::CONFLICT {
            return (status, answer);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the provider's sync stayed busy for 30 s");
}

/// Every active directory user's decision on every application, by email.
async fn decisions(a: &Api, token: &str) -> Vec<(String, String, String)> {
    let (_, apps) = a.get("/applications", token).await;
    let (_, users) = a.get("/directory/users?state=active&limit=500", token).await;
    let mut out = Vec::new();
    for app in apps["items"].as_array().unwrap() {
        for user in users["items"].as_array().unwrap() {
            let email = user["email"].as_str().unwrap();
            let body = json!({"application_id": app["id"], "user": user["id"]});
            let (status, answer) = a.send(Method::POST, "/decisions/test", token, body).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
            out.push((
                app["name"].as_str().unwrap().to_string(),
                email.to_string(),
                answer["decision"]["outcome"].to_string(),
            ));
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn a_configuration_exported_and_applied_to_an_empty_console_exports_the_same_and_decides_the_same() {
    let sim = Sim::start_local(Fixture::sample(), Options::default()).await.unwrap();
    let creds = Fixture::sample().credentials(sim.base_url());
    let loopback = [("PORTCULLIS_OUTBOUND_ALLOW", "127.0.0.1")];
    let a = api(&loopback).await;
    let admin = a.token(Role::Admin).await;
    let provider_id = configure(&a, &admin, &sim).await;

    let (_, groups) = a.get("/directory/groups?limit=500", &admin).await;
    let group = groups["items"].as_array().unwrap().iter().find(|g| g["name"] != "Everyone").unwrap().clone();
    let (_, users) = a.get("/directory/users?state=active&limit=2", &admin).await;
    let user = users["items"][0].clone();
    let mapping = json!({"provider_id": provider_id, "group": group["external_id"], "role": "editor"});
    assert_eq!(a.send(Method::POST, "/role-mappings", &admin, mapping).await.0, StatusCode::CREATED);
    for (name, host, rules) in [
        (
            "Wiki",
            "wiki.example.com",
            json!({"include": [{"type": "group", "provider_id": provider_id, "external_id": group["external_id"]}],
                                              "exclude": [{"type": "user", "provider_id": provider_id, "external_id": user["external_id"]}]}),
        ),
        (
            "Grafana",
            "grafana.example.com",
            json!({"include": [{"type": "identity_provider", "provider_id": provider_id}],
                                                   "require": [{"type": "email_domain", "domain": "example.com"}]}),
        ),
    ] {
        let app = json!({"name": name, "hosts": [{"hostname": host}], "session_duration_minutes": 120});
        let (_, app) = a.send(Method::POST, "/applications", &admin, app).await;
        let policy = json!({"name": format!("{name} staff"), "action": "allow", "rules": rules});
        let (status, p) = a
            .send(Method::POST, &format!("/applications/{}/policies", app["id"].as_str().unwrap()), &admin, policy)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{p}");
    }
    let (_, mut settings) = a.get(&format!("/providers/{provider_id}/sync/settings"), &admin).await;
    settings["interval_minutes"] = json!(45);
    assert_eq!(
        a.send(Method::PUT, &format!("/providers/{provider_id}/sync/settings"), &admin, settings).await.0,
        StatusCode::OK
    );

    let (status, exported) = a.get("/config", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!exported.to_string().contains(creds.oidc_client_secret.as_deref().unwrap()), "no secrets in an export");
    assert_eq!(exported["providers"][0]["client_secret"], "${env:OKTA_CLIENT_SECRET}");
    let (_, plan) = a.send(Method::POST, "/config/plan", &admin, exported.clone()).await;
    assert_eq!(plan["changes"], json!([]), "a console's own export plans no change");

    // The second console, empty, through the command line as a pipeline would.
    let b = api(&loopback).await;
    let b_admin = b.token(Role::Admin).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("portcullis.yaml");
    let (secret, key) =
        (creds.oidc_client_secret.clone().unwrap(), creds.service_private_jwk.clone().unwrap().to_string());
    let cli = move |args: &[&str], url: &str, token: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(args)
            .env("PORTCULLIS_URL", url)
            .env("PORTCULLIS_TOKEN", token)
            .env("OKTA_CLIENT_SECRET", &secret)
            .env("OKTA_DIRECTORY_KEY", &key)
            .output()
            .unwrap()
    };
    let path = file.to_str().unwrap();
    let out = tokio::task::spawn_blocking({
        let (base, token, path, cli) = (a.server.base.clone(), admin.clone(), path.to_string(), cli.clone());
        move || cli(&["config", "export", &path], &base, &token)
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let plan_b = tokio::task::spawn_blocking({
        let (base, token, path) = (b.server.base.clone(), b_admin.clone(), path.to_string());
        let cli = cli.clone();
        move || cli(&["config", "plan", &path], &base, &token)
    })
    .await
    .unwrap();
    assert_eq!(
        plan_b.status.code(),
        Some(2),
        "a plan with changes exits 2: {}",
        String::from_utf8_lossy(&plan_b.stderr)
    );
    let text = String::from_utf8_lossy(&plan_b.stdout);
    assert!(text.contains("+ provider Okta") && text.contains("+ application Wiki"), "{text}");

    let apply = tokio::task::spawn_blocking({
        let (base, token, path) = (b.server.base.clone(), b_admin.clone(), path.to_string());
        let cli = cli.clone();
        move || cli(&["config", "apply", &path], &base, &token)
    })
    .await
    .unwrap();
    assert!(
        apply.status.success(),
        "{}{}",
        String::from_utf8_lossy(&apply.stdout),
        String::from_utf8_lossy(&apply.stderr)
    );

    let (_, again) = b.get("/config", &b_admin).await;
    assert_eq!(again, exported, "the second console exports the same document");
    let replan = tokio::task::spawn_blocking({
        let (base, token, path) = (b.server.base.clone(), b_admin.clone(), path.to_string());
        move || cli(&["config", "plan", &path], &base, &token)
    })
    .await
    .unwrap();
    assert_eq!(replan.status.code(), Some(0), "{}", String::from_utf8_lossy(&replan.stdout));
    let (on_a, on_b) = (decisions(&a, &admin).await, decisions(&b, &b_admin).await);
    assert!(
        on_a.len() >= 4 && on_a.iter().any(|d| d.2.contains("allow")) && on_a.iter().any(|d| !d.2.contains("allow"))
    );
    assert_eq!(on_a, on_b, "both consoles decide the same for everyone");
    let (_, log) = b.get("/audit?action=config.applied", &b_admin).await;
    assert_eq!(log["items"].as_array().unwrap().len(), 1, "one change set in the audit log");

    // A document naming a person the provider does not have is refused before anything is written.
    let mut broken = exported.clone();
    broken["applications"][1]["session_duration_minutes"] = json!(15);
    assert_eq!(broken["applications"][1]["name"], "Wiki");
    broken["applications"].as_array_mut().unwrap().push(json!({
        "name": "Zed", "hosts": [{"hostname": "zed.example.com"}], "session_duration_minutes": 60,
        "policies": [{"name": "Nobody", "action": "allow", "include": [{"type": "user", "provider": "Okta", "id": "00unobody"}]}],
    }));
    let (status, problem) = b.send(Method::PUT, "/config", &b_admin, broken).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("00unobody"), "{problem}");
    assert_eq!(b.get("/config", &b_admin).await.1, exported, "nothing of it was applied");

    // A failure inside the transaction itself (the database refuses the last write: a trigger
    // stands in for a disk error or a concurrent change) leaves nothing of the document either.
    let trigger = Trigger::create(&b.server.database_url).await;
    let mut late = exported.clone();
    late["applications"][1]["session_duration_minutes"] = json!(15);
    late["role_mappings"][0]["role"] = json!("viewer");
    late["applications"].as_array_mut().unwrap().push(json!({
        "name": "Zed", "hosts": [{"hostname": "zed.example.com"}], "session_duration_minutes": 60,
        "policies": [{"name": "Zed staff", "action": "allow", "include": [{"type": "everyone"}]}],
    }));
    let (status, _) = b.send(Method::PUT, "/config", &b_admin, late.clone()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(b.get("/config", &b_admin).await.1, exported, "the changes written before the failure were rolled back");
    let (_, log) = b.get("/audit?action=config.applied", &b_admin).await;
    assert_eq!(log["items"][0]["outcome"], "failure");
    trigger.drop().await;
    let (status, body) = b.send(Method::PUT, "/config", &b_admin, late).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, log) = b.get("/audit?action=config.applied", &b_admin).await;
    assert_eq!(log["items"][0]["outcome"], "success");
    assert_eq!(b.send(Method::PUT, "/config?prune=true", &b_admin, exported.clone()).await.0, StatusCode::OK);

    // A provider renamed in the console is the same provider to the document: changed back, not
    // deleted and connected again (its people, sessions and ids stay).
    let (_, providers) = b.get("/providers", &b_admin).await;
    let okta = providers["items"][0].clone();
    let renamed = json!({
        "kind": "okta", "name": "Okta EU", "base_url": okta["base_url"], "client_id": okta["client_id"],
        "directory": {"mode": "service_app", "client_id": okta["directory_client_id"]},
    });
    let (status, body) =
        b.send(Method::PUT, &format!("/providers/{}", okta["id"].as_str().unwrap()), &b_admin, renamed).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, plan) = b.send(Method::POST, "/config/plan", &b_admin, exported.clone()).await;
    let changes = plan["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{plan}");
    assert_eq!((changes[0]["op"].as_str(), changes[0]["kind"].as_str()), (Some("update"), Some("provider")));
    assert_eq!(changes[0]["details"][0], "name: Okta EU → Okta");
    let (status, _) = b.send(Method::PUT, "/config", &b_admin, exported.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let (_, back) = b.get("/providers", &b_admin).await;
    assert_eq!(back["items"][0]["id"], okta["id"], "the same provider, renamed back");
    assert_eq!(b.get("/config", &b_admin).await.1, exported);
}

#[tokio::test]
async fn applying_refuses_deletions_unless_pruned_and_is_for_admins_only() {
    let a = api(&[]).await;
    let (admin, editor) = (a.token(Role::Admin).await, a.token(Role::Editor).await);
    for name in ["Keep", "Drop"] {
        let app = json!({"name": name, "hosts": [{"hostname": format!("{}.example.com", name.to_lowercase())}], "session_duration_minutes": 60});
        assert_eq!(a.send(Method::POST, "/applications", &admin, app).await.0, StatusCode::CREATED);
    }
    let (_, mut doc) = a.get("/config", &admin).await;
    doc["applications"].as_array_mut().unwrap().retain(|app| app["name"] == "Keep");
    let (status, problem) = a.send(Method::PUT, "/config", &editor, doc.clone()).await;
    assert_eq!((status, code(&problem)), (StatusCode::FORBIDDEN, "forbidden"));
    let (status, plan) = a.send(Method::POST, "/config/plan", &editor, doc.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(plan["changes"][0]["op"], "delete");
    let (status, problem) = a.send(Method::PUT, "/config", &admin, doc.clone()).await;
    assert_eq!((status, code(&problem)), (StatusCode::CONFLICT, "conflict"), "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("Drop"));
    assert_eq!(a.get("/applications", &admin).await.1["items"].as_array().unwrap().len(), 2, "nothing changed");
    let (status, applied) = a.send(Method::PUT, "/config?prune=true", &admin, doc.clone()).await;
    assert_eq!(status, StatusCode::OK, "{applied}");
    assert_eq!(a.get("/applications", &admin).await.1["items"].as_array().unwrap().len(), 1);

    // YAML in, a broken document refused whole.
    let yaml = "format: portcullis.config\nversion: 1\napplications:\n  - name: Keep\n    hosts: [{hostname: keep.example.com}]\n    session_duration_minutes: 60\n  - name: New\n    hosts: [{hostname: 'bad host'}]\n    session_duration_minutes: 60\n";
    let r = a
        .server
        .client
        .put(format!("{}/api/v1/config", a.server.base))
        .bearer_auth(&admin)
        .header("content-type", "application/yaml")
        .body(yaml)
        .send()
        .await
        .unwrap();
    let (status, problem) = json_of(r).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(a.get("/applications", &admin).await.1["items"].as_array().unwrap().len(), 1, "nothing applied");
    let unknown = json!({"format": "portcullis.config", "version": 1, "applications": [], "secrets": {}});
    let (status, problem) = a.send(Method::POST, "/config/plan", &admin, unknown).await;
    assert_eq!((status, code(&problem)), (StatusCode::BAD_REQUEST, "bad-body"));
    let (status, schema) =
        json_of(a.server.client.get(format!("{}/api/v1/config.schema.json", a.server.base)).send().await.unwrap())
            .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert!(schema["$defs"]["ProviderConfig"].is_object());
    assert!(!schema.to_string().contains("#/components/"), "references point into $defs");
    let _: Value = schema;
}

/// A trigger that refuses to insert the policy "Zed staff", on either backend.
enum Trigger {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Trigger {
    async fn create(url: &str) -> Self {
        if url.starts_with("postgres") {
            let db = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query(
                "CREATE FUNCTION refuse_zed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 IF NEW.name = 'Zed staff' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$",
            )
            .execute(&db)
            .await
            .unwrap();
            sqlx::query(
                "CREATE TRIGGER refuse_zed BEFORE INSERT ON policies FOR EACH ROW EXECUTE FUNCTION refuse_zed()",
            )
            .execute(&db)
            .await
            .unwrap();
            Trigger::Postgres(db)
        } else {
            let db = sqlx::SqlitePool::connect(url).await.unwrap();
            sqlx::query(
                "CREATE TRIGGER refuse_zed BEFORE INSERT ON policies WHEN NEW.name = 'Zed staff' \
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
            )
            .execute(&db)
            .await
            .unwrap();
            Trigger::Sqlite(db)
        }
    }

    async fn drop(self) {
        match self {
            Trigger::Sqlite(db) => {
                sqlx::query("DROP TRIGGER refuse_zed").execute(&db).await.unwrap();
                db.close().await;
            }
            Trigger::Postgres(db) => {
                sqlx::query("DROP TRIGGER refuse_zed ON policies").execute(&db).await.unwrap();
                db.close().await;
            }
        }
    }
}
