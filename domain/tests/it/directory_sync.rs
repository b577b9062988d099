//! Directory synchronization against the Okta simulator, over real HTTP.

use std::{collections::BTreeSet, time::Duration};

use okta_sim::{
    fixture::{GroupType, UserStatus},
    ControlOp, Fixture, Options, Sim,
};
use portcullis_domain::{
    audit::Action,
    crypto::SecretBox,
    okta::Patience,
    providers::service::secret_context,
    store::{new_id, now_ms, AuditQuery, DirectoryQuery, IdentityRow, ProviderRow, RoleMappingRow, Store},
    sync::{DeprovisionAction, Phase, RunKind, Scope, SyncError, SyncOptions, SyncService, SyncSettings, Trigger},
};

use super::support::{admin_caller, editor_caller, file_store, loopback_outbound, okta_provider};

struct Env {
    sim: Sim,
    _dir: tempfile::TempDir,
    store: Store,
    svc: SyncService,
    provider_id: String,
}

enum Auth {
    ApiToken,
    /// The sample's DPoP-bound API service app.
    ServiceApp,
}

async fn env_with(fixture: Fixture, options: SyncOptions, auth: Auth, timeout: Duration) -> Env {
    let creds = fixture.credentials("http://unused");
    let sim = Sim::start_local(fixture, Options::default()).await.unwrap();
    // A database file, as in production: a run cancelled mid-query closes its connection.
    let (dir, store) = file_store().await;
    let secrets = SecretBox::from_key(&[3u8; 32]);
    let id = new_id();
    let (mode, client_id, secret) = match auth {
        Auth::ApiToken => ("api_token", None, creds.api_token.clone().unwrap()),
        Auth::ServiceApp => {
            ("service_app", creds.service_client_id.clone(), creds.service_private_jwk.clone().unwrap().to_string())
        }
    };
    let row = ProviderRow {
        directory_client_id: client_id,
        directory_secret_sealed: Some(secrets.seal(&secret_context(&id, "directory_secret"), &secret)),
        ..okta_provider(
            &id,
            "Acme Okta",
            sim.base_url(),
            mode,
            secrets.seal(&secret_context(&id, "client_secret"), "secret"),
        )
    };
    store.save_provider(&row, &[], "wizard").await.unwrap();
    let svc = SyncService::with_options(store.clone(), secrets, loopback_outbound(Some(timeout)), options);
    Env { sim, _dir: dir, store, svc, provider_id: id }
}

async fn env(fixture: Fixture, options: SyncOptions) -> Env {
    env_with(fixture, options, Auth::ApiToken, Duration::from_secs(20)).await
}

fn small_pages() -> SyncOptions {
    SyncOptions { user_page: 50, group_page: 7, member_page: 25, ..SyncOptions::default() }
}

fn manual() -> Trigger {
    Trigger::Manual { caller: admin_caller() }
}

impl Env {
    async fn sync(&self, kind: RunKind) -> portcullis_domain::sync::RunSummary {
        self.svc.sync_now(&self.provider_id, kind, manual()).await.unwrap()
    }

    async fn settings(&self, f: impl FnOnce(&mut SyncSettings)) {
        let mut s = self.svc.settings(&self.provider_id).await.unwrap();
        f(&mut s);
        self.svc.save_settings(&self.provider_id, s, &admin_caller()).await.unwrap();
    }

    /// Active directory users' external ids.
    async fn active_users(&self) -> BTreeSet<String> {
        let q = DirectoryQuery {
            provider_id: Some(self.provider_id.clone()),
            state: Some("active".into()),
            limit: 500,
            ..Default::default()
        };
        let mut out = BTreeSet::new();
        let mut offset = 0;
        loop {
            let page = self.store.directory_users(&DirectoryQuery { offset, ..q.clone() }).await.unwrap();
            if page.items.is_empty() {
                break;
            }
            offset += page.items.len() as u32;
            out.extend(page.items.into_iter().map(|u| u.external_id));
        }
        out
    }

    async fn user(&self, external_id: &str) -> Option<portcullis_domain::store::DirectoryUserView> {
        let q = DirectoryQuery { provider_id: Some(self.provider_id.clone()), limit: 500, ..Default::default() };
        let mut offset = 0;
        loop {
            let page = self.store.directory_users(&DirectoryQuery { offset, ..q.clone() }).await.unwrap();
            if page.items.is_empty() {
                return None;
            }
            offset += page.items.len() as u32;
            if let Some(u) = page.items.into_iter().find(|u| u.external_id == external_id) {
                return Some(u);
            }
        }
    }

    async fn pairs(&self) -> BTreeSet<(String, String)> {
        self.store.directory_membership_pairs(&self.provider_id).await.unwrap().into_iter().collect()
    }

    /// Everything a page of the directory shows: users with their state, groups, memberships.
    async fn snapshot(
        &self,
    ) -> (Vec<(String, String, String, String)>, Vec<(String, String)>, BTreeSet<(String, String)>) {
        let mut users = Vec::new();
        let mut offset = 0;
        loop {
            let q = DirectoryQuery {
                provider_id: Some(self.provider_id.clone()),
                limit: 500,
                offset,
                ..Default::default()
            };
            let page = self.store.directory_users(&q).await.unwrap();
            if page.items.is_empty() {
                break;
            }
            offset += page.items.len() as u32;
            users.extend(page.items.into_iter().map(|u| (u.external_id, u.state, u.okta_status, u.display_name)));
        }
        users.sort();
        let q = DirectoryQuery { provider_id: Some(self.provider_id.clone()), limit: 500, ..Default::default() };
        let mut groups: Vec<(String, String)> =
            self.store.directory_groups(&q).await.unwrap().items.into_iter().map(|g| (g.external_id, g.name)).collect();
        groups.sort();
        (users, groups, self.pairs().await)
    }

    async fn audit(&self, action: Action) -> Vec<serde_json::Value> {
        let page = self
            .store
            .audit_page(&AuditQuery { action: Some(action.as_str().into()), limit: 500, ..Default::default() })
            .await
            .unwrap();
        page.records
            .into_iter()
            .map(|r| {
                let mut v: serde_json::Value = serde_json::from_str(&r.details).unwrap();
                v["_target"] = r.target.into();
                v["_actor"] = r.actor.into();
                v["_ip"] = r.ip.into();
                v["_outcome"] = r.outcome.into();
                v
            })
            .collect()
    }

    fn user_id(&self, login: &str) -> String {
        self.sim.control().user_id(login).unwrap()
    }

    fn group_id(&self, name: &str) -> String {
        self.sim.control().group_id(name).unwrap()
    }
}

/// What the org holds: users Okta lists (all but DEPROVISIONED), and the memberships of those
/// users in every group but Everyone.
fn expected(f: &Fixture) -> (BTreeSet<String>, BTreeSet<(String, String)>) {
    let users: BTreeSet<String> =
        f.users.iter().filter(|u| u.status != UserStatus::Deprovisioned).map(|u| u.id.clone()).collect();
    let mut pairs = BTreeSet::new();
    for g in f.groups.iter().filter(|g| g.group_type != GroupType::BuiltIn) {
        for m in g.members.iter().filter(|m| users.contains(*m)) {
            pairs.insert((g.id.clone(), m.clone()));
        }
    }
    (users, pairs)
}

async fn console_account(store: &Store, email: &str, role: &str) -> String {
    account_with_session(store, email, Some(role)).await
}

async fn account_with_session(store: &Store, email: &str, role: Option<&str>) -> String {
    let id = new_id();
    store.insert_user(&id, email, email, None, role).await.unwrap();
    let now = now_ms();
    store.insert_session(&new_id(), &id, now, now + 3_600_000, None, None, None).await.unwrap();
    id
}

/// A console account whose identity at the provider is `subject`, as sign-in links it.
async fn linked_account(e: &Env, email: &str, role: Option<&str>, subject: &str) -> String {
    let id = account_with_session(&e.store, email, role).await;
    let now = now_ms();
    let identity = IdentityRow {
        id: new_id(),
        user_id: id.clone(),
        provider_id: e.provider_id.clone(),
        subject: subject.into(),
        email: email.into(),
        groups: "[]".into(),
        created_at: now,
        last_login_at: now,
        email_verified: true,
    };
    e.store.insert_identity(&identity).await.unwrap();
    id
}

/// Members of this provider's group get `role`.
async fn map_group(e: &Env, group_name: &str, role: &str) {
    let m = RoleMappingRow {
        id: new_id(),
        provider_id: e.provider_id.clone(),
        group_external_id: e.group_id(group_name),
        group_name: group_name.into(),
        current_name: None,
        role: role.into(),
        created_by: None,
        created_at: now_ms(),
    };
    e.store.insert_role_mapping(&m).await.unwrap();
}

#[tokio::test]
async fn a_full_sync_follows_every_page_and_mirrors_users_groups_and_memberships() {
    let fixture = okta_sim::generate(600, 30, 5);
    let (users, pairs) = expected(&fixture);
    let e = env(fixture.clone(), small_pages()).await;
    let s = e.sync(RunKind::Full).await;
    assert_eq!(s.run.status, "succeeded", "{:?}", s.run);
    assert_eq!(e.active_users().await, users);
    assert_eq!(e.pairs().await, pairs);
    let (_, groups, _) = e.store.directory_counts(&e.provider_id).await.unwrap();
    assert_eq!(groups as usize, fixture.groups.len());
    assert_eq!(s.run.created as usize, users.len());
    assert_eq!(s.run.memberships_added as usize, pairs.len());
    // 50 users a page, 7 groups a page, 25 members a page: many pages, none missed.
    assert!(s.run.requests as usize > users.len() / 50 + pairs.len() / 25, "{} requests", s.run.requests);

    // Nothing changed in Okta: a second run changes nothing.
    let again = e.sync(RunKind::Full).await;
    assert_eq!((again.run.created, again.run.updated, again.run.disabled), (0, 0, 0));
    assert_eq!(again.run.unchanged as usize, users.len());
    assert_eq!((again.run.memberships_added, again.run.memberships_removed), (0, 0));
}

#[tokio::test]
async fn an_org_over_ten_thousand_users_is_synced_in_full_without_a_cap() {
    let fixture = okta_sim::generate(10_400, 12, 2);
    let (users, pairs) = expected(&fixture);
    assert!(users.len() > 10_000);
    let e = env(fixture, SyncOptions::default()).await;
    let s = e.sync(RunKind::Full).await;
    assert_eq!(s.run.status, "succeeded", "{:?}", s.run);
    assert_eq!(s.run.users_seen as usize, users.len());
    assert_eq!(e.active_users().await, users);
    assert_eq!(e.pairs().await, pairs);
    assert_eq!(s.run.disabled, 0);
}

#[tokio::test]
async fn a_429_mid_run_waits_for_oktas_reset_and_resumes_from_the_same_page() {
    let fixture = Fixture::sample();
    let (users, pairs) = expected(&fixture);
    let token = fixture.credentials("x").api_token.unwrap();
    let e = env(fixture, SyncOptions { user_page: 10, ..SyncOptions::default() }).await;
    assert_eq!(e.sync(RunKind::Full).await.run.status, "succeeded");

    // Three user-list requests a minute; one spent now opens the window, and the clock moves
    // to 3 s before its reset so the test waits seconds, not a minute.
    let mut sw = e.sim.control().switches();
    sw.rate_limit_overrides.insert("GET /api/v1/users".into(), 3);
    e.sim.control().set_switches(sw);
    e.sim.control().apply(ControlOp::ResetRateLimits).unwrap();
    let r = reqwest::Client::new()
        .get(format!("{}/api/v1/users?limit=1", e.sim.base_url()))
        .header("Authorization", format!("SSWS {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    e.sim.control().advance_clock(57);

    let started = std::time::Instant::now();
    let s = e.sync(RunKind::Full).await;
    assert_eq!(s.run.status, "succeeded", "{:?}", s.run);
    assert_eq!(s.run.rate_limit_waits, 1, "one 429, one wait");
    assert!(started.elapsed() >= Duration::from_secs(2), "it waited for the reset");
    assert!(started.elapsed() < Duration::from_secs(20));
    // Five pages of users, each once: resumed from the cursor, not restarted.
    assert_eq!(s.run.users_seen as usize, users.len());
    assert_eq!(s.run.unchanged as usize, users.len());
    assert_eq!((s.run.disabled, s.run.deleted), (0, 0));
    assert_eq!(e.active_users().await, users);
    assert_eq!(e.pairs().await, pairs);
}

#[tokio::test]
async fn the_run_slows_down_before_the_rate_limit_runs_out_instead_of_hitting_429() {
    let fixture = okta_sim::generate(200, 25, 3);
    let token = fixture.credentials("x").api_token.unwrap();
    let e = env(fixture, SyncOptions { member_concurrency: 1, ..SyncOptions::default() }).await;
    // 20 group requests a minute: a reserve of 2 is left to other callers of the org.
    let mut sw = e.sim.control().switches();
    sw.rate_limit_overrides.insert("GET /api/v1/groups".into(), 20);
    e.sim.control().set_switches(sw);
    let r = reqwest::Client::new()
        .get(format!("{}/api/v1/groups?limit=1", e.sim.base_url()))
        .header("Authorization", format!("SSWS {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    e.sim.control().advance_clock(57);
    let s = e.sync(RunKind::Full).await;
    assert_eq!(s.run.status, "succeeded", "{:?}", s.run);
    assert!(s.run.paced_waits >= 1, "{:?}", s.run);
    assert_eq!(s.run.rate_limit_waits, 0, "no 429");
}

#[tokio::test]
async fn a_rate_limit_that_outlasts_the_runs_patience_fails_it_and_removes_no_one() {
    let fixture = Fixture::sample();
    let (users, _) = expected(&fixture);
    let patience = Patience { max_rate_limit_wait: Duration::from_secs(1), attempts: 2 };
    let e = env(fixture, SyncOptions { user_page: 10, patience, ..SyncOptions::default() }).await;
    e.sync(RunKind::Full).await;
    // Okta loses a user and then rate-limits us for a minute: the user must stay.
    let gone = e.user_id("alan.turing@example.com");
    e.sim.control().delete_user(&gone).unwrap();
    e.sim.control().set_rate_limit(2);
    let s = e.sync(RunKind::Full).await;
    assert_eq!(s.run.status, "failed");
    let error = s.run.error.clone().unwrap();
    assert!(error.contains("rate limit") && error.contains("resets in"), "{error}");
    assert!(s.run.error_fix.unwrap().contains("rate limit"));
    assert_eq!(e.active_users().await, users, "a failed run removes no one");
}

#[tokio::test]
async fn server_errors_are_retried_and_the_run_completes() {
    let fixture = Fixture::sample();
    let (users, pairs) = expected(&fixture);
    let e = env(fixture, SyncOptions::default()).await;
    let mut sw = e.sim.control().switches();
    sw.error_rate = 1.0;
    sw.error_path_prefix = "/api/v1/groups".into();
    e.sim.control().set_switches(sw);
    let control = e.sim.control();
    let heal = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        control.set_error_rate(0.0).unwrap();
    });
    let s = e.sync(RunKind::Full).await;
    heal.await.unwrap();
    assert_eq!(s.run.status, "succeeded", "{:?}", s.run);
    assert!(s.run.retries >= 1, "{:?}", s.run);
    assert_eq!(e.active_users().await, users);
    assert_eq!(e.pairs().await, pairs);
}

#[tokio::test]
async fn persistent_server_errors_fail_the_run_with_the_reason_and_change_nothing() {
    let fixture = Fixture::sample();
    let patience = Patience { max_rate_limit_wait: Duration::from_secs(5), attempts: 3 };
    let e = env(fixture, SyncOptions { patience, ..SyncOptions::default() }).await;
    e.sync(RunKind::Full).await;
    let before = e.snapshot().await;
    // Okta deletes people, then fails: the users list succeeds, the groups never do.
    for login in ["alan.turing@example.com", "grace.hopper@example.com"] {
        let id = e.user_id(login);
        e.sim.control().delete_user(&id).unwrap();
    }
    let mut sw = e.sim.control().switches();
    sw.error_rate = 1.0;
    sw.error_path_prefix = "/api/v1/groups".into();
    e.sim.control().set_switches(sw);
    let s = e.sync(RunKind::Full).await;
    assert_eq!(s.run.status, "failed");
    assert!(s.run.error.as_deref().unwrap().contains("HTTP 500"), "{:?}", s.run.error);
    assert!(s.run.retries >= 2);
    assert_eq!(e.snapshot().await, before, "nothing deleted, disabled or changed");
    assert_eq!(e.audit(Action::SyncFailed).await.len(), 1);
}

#[tokio::test]
async fn timeouts_are_retried_and_a_provider_that_never_answers_fails_the_run_cleanly() {
    let fixture = Fixture::sample();
    let (users, _) = expected(&fixture);
    let patience = Patience { max_rate_limit_wait: Duration::from_secs(5), attempts: 3 };
    let e = env_with(
        fixture,
        SyncOptions { patience, ..SyncOptions::default() },
        Auth::ApiToken,
        Duration::from_millis(400),
    )
    .await;
    // Slow for a moment: the first requests time out, the retries get through.
    e.sim.control().set_latency(900);
    let control = e.sim.control();
    let heal = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(600)).await;
        control.set_latency(0);
    });
    let s = e.sync(RunKind::Full).await;
    heal.await.unwrap();
    assert_eq!(s.run.status, "succeeded", "{:?}", s.run);
    assert!(s.run.retries >= 1);
    assert_eq!(e.active_users().await, users);

    // Never answers in time: failed, with the reason, nobody removed.
    let id = e.user_id("alan.turing@example.com");
    e.sim.control().delete_user(&id).unwrap();
    e.sim.control().set_latency(900);
    let s = e.sync(RunKind::Full).await;
    assert_eq!(s.run.status, "failed");
    assert!(s.run.error.as_deref().unwrap().contains("did not answer within"), "{:?}", s.run.error);
    assert_eq!(e.active_users().await, users);
}

#[tokio::test]
async fn a_user_deactivated_in_okta_is_disabled_here_with_their_console_account_and_comes_back_when_reactivated() {
    let fixture = Fixture::sample();
    let e = env(fixture.clone(), SyncOptions::default()).await;
    let first = e.sync(RunKind::Full).await;
    let alan = e.user_id("alan.turing@example.com");
    let account = linked_account(&e, "alan.turing@example.com", Some("editor"), &alan).await;

    e.sim.control().deactivate_user(&alan).unwrap();
    let s = e.sync(RunKind::Incremental).await;
    assert_eq!(s.run.mode, "incremental");
    assert_eq!((s.run.disabled, s.run.deleted, s.run.updated), (1, 0, 0));
    let u = e.user(&alan).await.unwrap();
    assert_eq!((u.state.as_str(), u.okta_status.as_str()), ("disabled", "DEPROVISIONED"));
    assert_eq!(u.last_changed_run.as_deref(), Some(s.run.id.as_str()));
    assert_eq!(u.first_seen_run.as_deref(), Some(first.run.id.as_str()));
    let acct = e.store.user_by_id(&account).await.unwrap().unwrap();
    assert!(acct.disabled_at.is_some(), "the console account is disabled");
    assert_eq!(e.store.delete_user_sessions(&account).await.unwrap(), 0, "its sessions were revoked");
    let audit = e.audit(Action::DirectoryUserDisabled).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["sync_run_id"], s.run.id.as_str());
    assert_eq!(audit[0]["_target"], "alan.turing@example.com");
    assert_eq!(audit[0]["sessions_revoked"], 1);
    assert_eq!(audit[0]["_actor"], "system");

    e.sim.control().set_user_status(&alan, UserStatus::Active).unwrap();
    let s = e.sync(RunKind::Incremental).await;
    assert_eq!(s.run.updated, 1);
    assert_eq!(e.user(&alan).await.unwrap().state, "active");
    assert!(e.store.user_by_id(&account).await.unwrap().unwrap().disabled_at.is_none(), "the account is back");
    let restored = e.audit(Action::DirectoryUserRestored).await;
    assert_eq!(restored.len(), 1);
    assert_eq!(restored[0]["console_account_enabled"], true);
}

#[tokio::test]
async fn a_user_deleted_in_okta_is_deleted_here_when_the_setting_says_delete() {
    let fixture = Fixture::sample();
    let e = env(fixture.clone(), SyncOptions::default()).await;
    e.settings(|s| s.deprovision = DeprovisionAction::Delete).await;
    e.sync(RunKind::Full).await;
    let grace = e.user_id("grace.hopper@example.com");
    let engineering = e.group_id("Engineering");
    assert!(e.pairs().await.contains(&(engineering.clone(), grace.clone())));
    e.sim.control().delete_user(&grace).unwrap();
    let s = e.sync(RunKind::Full).await;
    assert_eq!((s.run.deleted, s.run.disabled), (1, 0));
    assert!(e.user(&grace).await.is_none());
    assert!(!e.pairs().await.iter().any(|(_, u)| *u == grace), "memberships went with the user");
    let audit = e.audit(Action::DirectoryUserDeleted).await;
    assert_eq!(audit[0]["okta_status"], "GONE");
    assert_eq!(audit[0]["sync_run_id"], s.run.id.as_str());
}

#[tokio::test]
async fn admins_follow_their_own_setting_and_the_last_active_admin_is_never_disabled() {
    let fixture = Fixture::sample();
    let e = env(fixture.clone(), SyncOptions::default()).await;
    e.sync(RunKind::Full).await;
    let ada = e.user_id("ada.lovelace@example.com");
    let alan = e.user_id("alan.turing@example.com");
    let ada_account = linked_account(&e, "ada.lovelace@example.com", Some("admin"), &ada).await;

    // Ada is the only admin: deactivated in Okta, she is kept, and the log says why.
    e.sim.control().deactivate_user(&ada).unwrap();
    let s = e.sync(RunKind::Full).await;
    assert_eq!((s.run.kept, s.run.disabled), (1, 0));
    assert_eq!(e.user(&ada).await.unwrap().state, "kept");
    assert!(e.store.user_by_id(&ada_account).await.unwrap().unwrap().disabled_at.is_none());
    let kept = e.audit(Action::DirectoryUserKept).await;
    assert!(kept[0]["reason"].as_str().unwrap().contains("last active admin"));
    assert_eq!(kept[0]["_outcome"], "failure");

    // With another admin, the admin setting applies: Keep here.
    console_account(&e.store, "root@example.com", "admin").await;
    let alan_account = linked_account(&e, "alan.turing@example.com", Some("admin"), &alan).await;
    e.settings(|s| s.admin_deprovision = DeprovisionAction::Keep).await;
    e.sim.control().deactivate_user(&alan).unwrap();
    let s = e.sync(RunKind::Full).await;
    assert_eq!((s.run.kept, s.run.disabled), (1, 0));
    assert!(e.store.user_by_id(&alan_account).await.unwrap().unwrap().disabled_at.is_none());
}

#[tokio::test]
async fn a_user_moved_between_groups_changes_exactly_those_memberships() {
    let fixture = Fixture::sample();
    let e = env(fixture, SyncOptions::default()).await;
    e.sync(RunKind::Full).await;
    let dennis = e.user_id("dennis.ritchie@example.com");
    let (eng, sales) = (e.group_id("Engineering"), e.group_id("Sales"));
    e.sim.control().remove_membership(&eng, &dennis).unwrap();
    e.sim.control().add_membership(&sales, &dennis).unwrap();
    e.sim.control().rename_group(&sales, "Sales & Revenue").unwrap();
    let before = e.pairs().await;

    let s = e.sync(RunKind::Incremental).await;
    assert_eq!((s.run.memberships_added, s.run.memberships_removed), (1, 1));
    assert_eq!(s.run.groups_updated, 1);
    let mut expect = before.clone();
    expect.remove(&(eng.clone(), dennis.clone()));
    expect.insert((sales.clone(), dennis.clone()));
    assert_eq!(e.pairs().await, expect);

    let user = e.user(&dennis).await.unwrap();
    let groups: Vec<String> =
        e.store.directory_user_groups(&user.id).await.unwrap().into_iter().map(|g| g.name).collect();
    assert_eq!(groups, vec!["Everyone".to_string(), "Sales & Revenue".to_string()]);
    let changes = e.audit(Action::DirectoryMembershipsChanged).await;
    let latest = changes.iter().find(|c| c["sync_run_id"] == s.run.id.as_str()).unwrap();
    let groups = latest["groups"].as_array().unwrap();
    let entry =
        |name: &str| groups.iter().find(|g| g["group"] == name).unwrap_or_else(|| panic!("{name} in {groups:?}"));
    assert_eq!(entry("Engineering")["removed"], serde_json::json!([dennis]));
    assert_eq!(entry("Sales & Revenue")["added"], serde_json::json!([dennis]));
    let renamed = e.audit(Action::DirectoryGroupsUpdated).await;
    assert_eq!(renamed[0]["groups"][0]["old_name"], "Sales");
}

#[tokio::test]
async fn the_breaker_stops_a_mass_removal_until_an_admin_approves_the_diff() {
    let fixture = Fixture::sample();
    let (users, _) = expected(&fixture);
    let e = env(fixture.clone(), SyncOptions::default()).await;
    e.sync(RunKind::Full).await;
    let before = e.snapshot().await;
    let gone: Vec<String> = fixture.users[10..20].iter().map(|u| u.id.clone()).collect();
    for id in &gone {
        e.sim.control().deactivate_user(id).unwrap();
    }

    let s = e.sync(RunKind::Full).await;
    assert_eq!(s.run.status, "awaiting_approval");
    assert!(s.run.error.as_deref().unwrap().contains("10 of 49 users (20 %)"), "{:?}", s.run.error);
    assert_eq!(e.snapshot().await, before, "nothing applied while waiting");
    let diff = e.svc.pending_diff(&s.run.id).await.unwrap().unwrap();
    assert_eq!(diff.removal_count, 10);
    assert_eq!(diff.threshold_percent, 10);
    let listed: BTreeSet<String> = diff.removals.iter().map(|r| r.external_id.clone()).collect();
    assert_eq!(listed, gone.iter().cloned().collect());
    assert!(diff.removals.iter().all(|r| r.action == "disable" && r.okta_status == "GONE"));
    // The scheduler leaves a provider alone while a diff waits.
    assert!(e.svc.start_due_runs().await.unwrap().is_empty());

    let approved = e.svc.approve(&s.run.id, &admin_caller()).await.unwrap();
    assert_eq!(approved.run.status, "approved");
    assert_eq!(approved.run.decided_by.as_deref(), Some("root@example.com"));
    assert_eq!(approved.run.disabled, 10);
    let expect: BTreeSet<String> = users.iter().filter(|u| !gone.contains(u)).cloned().collect();
    assert_eq!(e.active_users().await, expect);
    let audit = e.audit(Action::SyncApproved).await;
    assert_eq!(audit[0]["_actor"], "root@example.com");
    assert_eq!(e.audit(Action::DirectoryUserDisabled).await.len(), 10);
    assert!(matches!(e.svc.approve(&s.run.id, &admin_caller()).await, Err(SyncError::NotAwaitingApproval { .. })));
}

/// Kept people lose application access (forward auth refuses anyone removed), so keeping
/// them is a removal too: a mass "keep" waits for approval like a mass disable.
#[tokio::test]
async fn the_breaker_weighs_kept_users_too() {
    let fixture = Fixture::sample();
    let e = env(fixture.clone(), SyncOptions::default()).await;
    e.settings(|s| {
        s.deprovision = DeprovisionAction::Keep;
        s.admin_deprovision = DeprovisionAction::Keep;
    })
    .await;
    e.sync(RunKind::Full).await;
    let before = e.snapshot().await;
    for u in &fixture.users[10..20] {
        e.sim.control().deactivate_user(&u.id).unwrap();
    }
    let s = e.sync(RunKind::Full).await;
    assert_eq!(s.run.status, "awaiting_approval", "{:?}", s.run.error);
    assert_eq!(e.snapshot().await, before, "nothing applied while waiting");
}

#[tokio::test]
async fn a_discarded_diff_changes_nothing() {
    let fixture = Fixture::sample();
    let e = env(fixture.clone(), SyncOptions::default()).await;
    e.settings(|s| s.removal_threshold_percent = 0).await;
    e.sync(RunKind::Full).await;
    let before = e.snapshot().await;
    e.sim.control().deactivate_user(&fixture.users[3].id).unwrap();
    let s = e.sync(RunKind::Full).await;
    assert_eq!(s.run.status, "awaiting_approval", "0 % stops every removal");
    e.svc.discard(&s.run.id, &admin_caller()).await.unwrap();
    let run = e.svc.run_row(&s.run.id).await.unwrap();
    assert_eq!(run.status, "cancelled");
    assert_eq!(run.error, None, "the hold's 'approve the diff' is answered");
    assert_eq!(e.snapshot().await, before);
    let discarded = e.audit(Action::SyncDiscarded).await;
    assert_eq!((discarded.len(), &discarded[0]["_ip"]), (1, &serde_json::json!("192.0.2.10")));
    // The overview shows the last real sync, not the discarded hold as if it had applied.
    let overview = e.svc.overview().await.unwrap();
    let last = overview[0].last_sync.as_ref().unwrap();
    assert_eq!(last.id, run.id);
    assert!(overview[0].pending.is_none());
}

#[tokio::test]
async fn a_settings_save_that_changes_nothing_writes_no_audit_entry_and_one_that_does_records_the_address() {
    let e = env(Fixture::sample(), SyncOptions::default()).await;
    let s = SyncSettings { interval_minutes: 30, ..SyncSettings::default() };
    assert!(e.svc.save_settings(&e.provider_id, s.clone(), &admin_caller()).await.unwrap());
    assert!(!e.svc.save_settings(&e.provider_id, s, &admin_caller()).await.unwrap(), "nothing changed");
    let changed = e.audit(Action::SyncSettingsChanged).await;
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["_ip"], "192.0.2.10");
}

#[tokio::test]
async fn a_dry_run_does_not_hide_the_last_sync_and_the_last_full_run_sizes_the_next() {
    let e = env(Fixture::sample(), SyncOptions::default()).await;
    let full = e.sync(RunKind::Full).await;
    let dry = e.sync(RunKind::DryRun).await;
    let o = &e.svc.overview().await.unwrap()[0];
    assert_eq!(o.last_sync.as_ref().map(|r| r.id.as_str()), Some(full.run.id.as_str()));
    assert_eq!(o.dry_run.as_ref().map(|d| d.run_id.as_str()), Some(dry.run.id.as_str()));
    assert_eq!(o.estimate, Some((full.run.users_seen + full.run.groups_seen) as u64));
    assert!(o.estimate.unwrap() > 0);
}

#[tokio::test]
async fn a_dry_run_shows_the_diff_and_applies_nothing() {
    let fixture = Fixture::sample();
    let e = env(fixture.clone(), SyncOptions::default()).await;
    e.sync(RunKind::Full).await;
    let before = e.snapshot().await;
    let audit_before = e.audit(Action::DirectoryUsersUpdated).await.len();
    e.sim.control().deactivate_user(&fixture.users[5].id).unwrap();
    e.sim
        .control()
        .apply(ControlOp::UpdateUserProfile {
            user_id: fixture.users[6].id.clone(),
            profile: serde_json::from_str(r#"{"lastName":"Ritchie-Thompson"}"#).unwrap(),
        })
        .unwrap();
    let s = e.sync(RunKind::DryRun).await;
    assert_eq!((s.run.status.as_str(), s.run.mode.as_str()), ("succeeded", "dry_run"));
    let diff = s.diff.unwrap();
    assert_eq!((diff.removal_count, diff.updated), (1, 1));
    assert_eq!(diff.removals[0].external_id, fixture.users[5].id);
    assert_eq!(e.svc.pending_diff(&s.run.id).await.unwrap().unwrap().removal_count, 1);
    assert_eq!(e.snapshot().await, before, "a dry run changes nothing");
    assert_eq!(e.audit(Action::DirectoryUsersUpdated).await.len(), audit_before);
}

#[tokio::test]
async fn a_run_killed_between_batches_leaves_the_previous_directory_and_its_lock() {
    let fixture = okta_sim::generate(1500, 30, 9);
    let e = env(fixture.clone(), SyncOptions { user_page: 50, member_page: 50, ..SyncOptions::default() }).await;
    e.sync(RunKind::Full).await;
    let before = e.snapshot().await;
    // Okta changes a lot; the next run dies half-way through.
    for u in &fixture.users[100..300] {
        e.sim.control().deactivate_user(&u.id).unwrap();
    }
    e.sim.control().rename_group(&fixture.groups[3].id, "Renamed").unwrap();
    e.sim.control().set_latency(15);
    let svc = e.svc.clone();
    let provider = e.provider_id.clone();
    let task = tokio::spawn(async move { svc.sync_now(&provider, RunKind::Full, Trigger::Schedule).await });
    let run_id = loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let p = e.svc.progress(&e.provider_id).await.expect("running");
        if p.phase == Phase::Fetching && p.pages_done >= 12 {
            break p.run_id;
        }
    };
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    e.sim.control().set_latency(0);

    assert_eq!(e.snapshot().await, before, "the killed run changed nothing");
    assert!(e.svc.progress(&e.provider_id).await.is_none(), "the lock is released");
    let mut status = String::new();
    for _ in 0..50 {
        status = e.svc.run_row(&run_id).await.unwrap().status;
        if status == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, "failed");
    assert!(e.svc.run_row(&run_id).await.unwrap().error.unwrap().contains("interrupted"));

    // The next run applies everything (the breaker is off for this bulk change).
    e.settings(|s| s.removal_threshold_percent = 100).await;
    let s = e.sync(RunKind::Full).await;
    assert_eq!(s.run.status, "succeeded");
    let deprovisioned_before = fixture.users[100..300].iter().filter(|u| u.status == UserStatus::Deprovisioned).count();
    assert_eq!(s.run.disabled as usize, 200 - deprovisioned_before);
}

#[tokio::test]
async fn an_incremental_run_asks_only_for_what_changed() {
    let fixture = okta_sim::generate(3000, 60, 4);
    let e = env(fixture.clone(), SyncOptions::default()).await;
    let full = e.sync(RunKind::Full).await;
    assert!(full.run.requests > 60);

    let c = e.sim.control();
    let active: Vec<&okta_sim::fixture::UserDef> =
        fixture.users.iter().filter(|u| u.status == UserStatus::Active).collect();
    for u in &active[1..6] {
        c.apply(ControlOp::UpdateUserProfile {
            user_id: u.id.clone(),
            profile: serde_json::from_str(r#"{"title":"CTO","lastName":"Changed"}"#).unwrap(),
        })
        .unwrap();
    }
    c.deactivate_user(&active[7].id).unwrap();
    let mut newcomer = active[8].clone();
    newcomer.id = "00unewcomer000000001".into();
    for k in ["login", "email"] {
        newcomer.profile.insert(k.into(), "new.person@example.com".into());
    }
    c.apply(ControlOp::AddUser { user: Box::new(newcomer) }).unwrap();
    // Added with the copied user's old lastUpdated; an edit stamps it now, as Okta would have.
    c.apply(ControlOp::UpdateUserProfile {
        user_id: "00unewcomer000000001".into(),
        profile: serde_json::from_str(r#"{"title":"New"}"#).unwrap(),
    })
    .unwrap();
    let team = &fixture.groups[20];
    c.add_membership(&team.id, "00unewcomer000000001").unwrap();

    let s = e.sync(RunKind::Incremental).await;
    assert_eq!(s.run.status, "succeeded");
    assert_eq!(s.run.mode, "incremental");
    assert_eq!((s.run.created, s.run.updated, s.run.disabled), (1, 5, 1));
    assert_eq!(s.run.memberships_added, 1);
    // One page of changed users, one of groups, the one changed group's members.
    assert!(s.run.requests <= 4, "{} requests for an incremental run", s.run.requests);

    // A full run finds nothing the incremental one missed.
    e.settings(|s| s.removal_threshold_percent = 100).await;
    let check = e.sync(RunKind::Full).await;
    assert_eq!((check.run.created, check.run.updated, check.run.disabled, check.run.deleted), (0, 0, 0, 0));
    assert_eq!((check.run.memberships_added, check.run.memberships_removed), (0, 0));
}

#[tokio::test]
async fn the_app_scope_syncs_only_the_apps_users_and_groups_through_a_dpop_service_app() {
    let fixture = Fixture::sample();
    let e = env_with(fixture.clone(), SyncOptions::default(), Auth::ServiceApp, Duration::from_secs(20)).await;
    let app = okta_sim::sample::OIDC_CLIENT_ID.to_string();
    let (eng, ada) = (e.group_id("Engineering"), e.user_id("ada.lovelace@example.com"));
    let c = e.sim.control();
    c.apply(ControlOp::UnassignApp {
        app_id: app.clone(),
        user_ids: vec![],
        group_ids: vec![okta_sim::sample::EVERYONE_GROUP_ID.into()],
    })
    .unwrap();
    c.apply(ControlOp::AssignApp { app_id: app.clone(), user_ids: vec![ada.clone()], group_ids: vec![eng.clone()] })
        .unwrap();
    e.settings(|s| s.scope = Scope::App(app.clone())).await;

    let s = e.sync(RunKind::Full).await;
    assert_eq!(s.run.status, "succeeded", "{:?}", s.run);
    assert_eq!(s.run.scope, "app");
    let engineers: BTreeSet<String> =
        fixture.groups.iter().find(|g| g.id == eng).unwrap().members.iter().cloned().collect();
    let mut expect = engineers.clone();
    expect.insert(ada.clone());
    assert_eq!(e.active_users().await, expect);
    let groups = e
        .store
        .directory_groups(&DirectoryQuery { provider_id: Some(e.provider_id.clone()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(groups.items.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(), vec!["Engineering"]);
    let pairs: BTreeSet<(String, String)> = engineers.into_iter().map(|u| (eng.clone(), u)).collect();
    assert_eq!(e.pairs().await, pairs);

    // Unassigned from the app means gone from the directory.
    c.apply(ControlOp::UnassignApp { app_id: app.clone(), user_ids: vec![ada.clone()], group_ids: vec![] }).unwrap();
    let s = e.sync(RunKind::Incremental).await;
    assert_eq!(s.run.disabled, 1);
    assert_eq!(e.user(&ada).await.unwrap().state, "disabled");

    e.settings(|s| s.scope = Scope::App("0oaNoSuchApp000000001".into())).await;
    let s = e.sync(RunKind::Full).await;
    assert_eq!(s.run.status, "failed");
    assert!(s.run.error.unwrap().contains("no app with the ID 0oaNoSuchApp000000001"));
}

#[tokio::test]
async fn one_run_per_provider_at_a_time() {
    let e = env(Fixture::sample(), SyncOptions::default()).await;
    e.sim.control().set_latency(60);
    let run_id = e.svc.start_in_background(&e.provider_id, RunKind::Full, manual()).unwrap();
    assert!(matches!(
        e.svc.sync_now(&e.provider_id, RunKind::Full, manual()).await,
        Err(SyncError::AlreadyRunning { run_id: ref r }) if *r == run_id
    ));
    assert!(matches!(
        e.svc.start_in_background(&e.provider_id, RunKind::Incremental, manual()),
        Err(SyncError::AlreadyRunning { .. })
    ));
    while e.svc.progress(&e.provider_id).await.is_some() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let runs = e.svc.runs(&e.provider_id, 10).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].id.as_str(), runs[0].status.as_str()), (run_id.as_str(), "succeeded"));
    assert_eq!(runs[0].triggered_by.as_deref(), Some("root@example.com"));
}

#[tokio::test]
async fn the_scheduler_runs_a_full_sync_first_and_nothing_before_the_interval() {
    let e = env(Fixture::sample(), SyncOptions::default()).await;
    e.sim.control().set_latency(30);
    let started = e.svc.start_due_runs().await.unwrap();
    assert_eq!(started.len(), 1);
    assert_eq!(e.svc.progress(&e.provider_id).await.unwrap().kind, RunKind::Full);
    while e.svc.progress(&e.provider_id).await.is_some() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(e.svc.runs(&e.provider_id, 1).await.unwrap()[0].trigger_kind, "schedule");
    assert!(e.svc.start_due_runs().await.unwrap().is_empty(), "not due for 10 minutes");
    e.settings(|s| s.enabled = false).await;
    assert!(e.svc.start_due_runs().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_directory_pages_search_and_page_with_provider_and_run() {
    let fixture = Fixture::sample();
    let e = env(fixture, SyncOptions::default()).await;
    let s = e.sync(RunKind::Full).await;
    let q = DirectoryQuery { provider_id: Some(e.provider_id.clone()), limit: 20, ..Default::default() };
    let page = e.store.directory_users(&q).await.unwrap();
    assert_eq!((page.items.len(), page.total), (20, 49));
    let next = e.store.directory_users(&DirectoryQuery { offset: 40, ..q.clone() }).await.unwrap();
    assert_eq!(next.items.len(), 9);
    let found =
        e.store.directory_users(&DirectoryQuery { search: Some("LOVELACE".into()), ..q.clone() }).await.unwrap();
    assert_eq!(found.total, 1);
    let ada = &found.items[0];
    assert_eq!((ada.provider_name.as_str(), ada.source.as_str()), ("Acme Okta", "sync"));
    assert_eq!(ada.last_changed_run.as_deref(), Some(s.run.id.as_str()));
    let underscore = e.store.directory_users(&DirectoryQuery { search: Some("_".into()), ..q.clone() }).await.unwrap();
    assert_eq!(underscore.total, 0, "LIKE wildcards are matched literally");

    let groups = e.store.directory_groups(&DirectoryQuery { search: Some("vpn".into()), ..q.clone() }).await.unwrap();
    assert_eq!(groups.items[0].name, "VPN Users");
    assert_eq!(groups.items[0].member_count, 12);
    let everyone =
        e.store.directory_groups(&DirectoryQuery { search: Some("everyone".into()), ..q.clone() }).await.unwrap();
    assert_eq!(everyone.items[0].member_count, 49, "Everyone holds every user");
    let members = e
        .store
        .directory_group_members(&groups.items[0].id, &DirectoryQuery { limit: 5, ..Default::default() })
        .await
        .unwrap();
    assert_eq!((members.items.len(), members.total), (5, 12));
    let all = e.store.directory_group_members(&everyone.items[0].id, &DirectoryQuery::default()).await.unwrap();
    assert_eq!(all.total, 49);
}

#[tokio::test]
async fn every_change_a_sync_makes_is_in_the_audit_log_with_its_run() {
    let fixture = Fixture::sample();
    let (users, pairs) = expected(&fixture);
    let e = env(fixture, SyncOptions { audit_chunk: 20, ..SyncOptions::default() }).await;
    let s = e.sync(RunKind::Full).await;
    let created = e.audit(Action::DirectoryUsersCreated).await;
    assert_eq!(created.len(), 3, "49 users in entries of 20");
    let listed: BTreeSet<String> = created
        .iter()
        .flat_map(|c| c["users"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(listed, users);
    let memberships = e.audit(Action::DirectoryMembershipsChanged).await;
    let added: usize = memberships
        .iter()
        .flat_map(|m| m["groups"].as_array().unwrap().iter().map(|g| g["added"].as_array().unwrap().len()))
        .sum();
    assert_eq!(added, pairs.len());
    for action in [
        Action::DirectoryUsersCreated,
        Action::DirectoryGroupsCreated,
        Action::DirectoryMembershipsChanged,
        Action::SyncSucceeded,
    ] {
        let entries = e.audit(action).await;
        assert!(!entries.is_empty(), "{action:?}");
        assert!(entries.iter().all(|a| a["sync_run_id"] == s.run.id.as_str()), "{action:?}");
    }
    let started = e.audit(Action::SyncStarted).await;
    assert_eq!(started[0]["_actor"], "root@example.com");
}

// ---------- accounts are tied to directory people by identity, never by email ----------

#[tokio::test]
async fn a_directory_person_with_an_admins_email_does_not_disable_that_admin() {
    let e = env(Fixture::sample(), SyncOptions::default()).await;
    e.sync(RunKind::Full).await;
    let (ada, alan) = (e.user_id("ada.lovelace@example.com"), e.user_id("alan.turing@example.com"));
    console_account(&e.store, "root@example.com", "admin").await;
    // Ada's email, no identity at this provider: a local admin who merely shares the address.
    let local = console_account(&e.store, "ada.lovelace@example.com", "admin").await;
    // Alan's email, but the identity at this provider is someone else.
    let other = linked_account(&e, "alan.turing@example.com", Some("admin"), "00uSomeoneElse000001").await;

    e.sim.control().deactivate_user(&ada).unwrap();
    e.sim.control().deactivate_user(&alan).unwrap();
    let s = e.sync(RunKind::Full).await;
    assert_eq!((s.run.status.as_str(), s.run.disabled), ("succeeded", 2), "{:?}", s.run);
    for account in [&local, &other] {
        assert!(e.store.user_by_id(account).await.unwrap().unwrap().disabled_at.is_none(), "not this person's account");
        assert_eq!(e.store.delete_user_sessions(account).await.unwrap(), 1, "its session was left alone");
    }
    let disabled = e.audit(Action::DirectoryUserDisabled).await;
    assert_eq!(disabled.len(), 2);
    assert!(disabled.iter().all(|d| d["console_account"] == false && d["sessions_revoked"] == 0), "{disabled:?}");
    let page = e
        .store
        .directory_users(&DirectoryQuery { search: Some("lovelace".into()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(page.items[0].account_role, None, "the directory shows no console account for her");
}

#[tokio::test]
async fn an_sso_admin_by_role_mapping_is_an_admin_to_deprovisioning() {
    let e = env(Fixture::sample(), SyncOptions::default()).await;
    e.sync(RunKind::Full).await;
    map_group(&e, "Portcullis Admins", "admin").await;
    let ada = e.user_id("ada.lovelace@example.com");
    // Signed in through the provider: no role of her own, Admin through her group.
    let ada_account = linked_account(&e, "ada.lovelace@example.com", None, &ada).await;

    // The only admin: deactivated in Okta, she is kept, and the log says why.
    e.sim.control().deactivate_user(&ada).unwrap();
    let s = e.sync(RunKind::Full).await;
    assert_eq!((s.run.kept, s.run.disabled), (1, 0), "{:?}", s.run);
    assert!(e.store.user_by_id(&ada_account).await.unwrap().unwrap().disabled_at.is_none());
    let kept = e.audit(Action::DirectoryUserKept).await;
    assert!(kept[0]["reason"].as_str().unwrap().contains("last active admin"), "{kept:?}");
    assert_eq!(kept[0]["console_role"], "admin");

    // With another admin, the admin setting covers SSO admins: Keep here, Disable for everyone else.
    console_account(&e.store, "root@example.com", "admin").await;
    let radia = e.user_id("radia.perlman@example.com");
    let radia_account = linked_account(&e, "radia.perlman@example.com", None, &radia).await;
    e.settings(|s| {
        s.admin_deprovision = DeprovisionAction::Keep;
        s.deprovision = DeprovisionAction::Disable;
    })
    .await;
    let diff_run = {
        e.sim.control().deactivate_user(&radia).unwrap();
        e.sync(RunKind::DryRun).await
    };
    let diff = diff_run.diff.unwrap();
    let listed = diff.removals.iter().find(|r| r.external_id == radia).unwrap();
    assert_eq!((listed.action.as_str(), listed.account_role.as_deref()), ("keep", Some("admin")));
    let s = e.sync(RunKind::Full).await;
    assert_eq!((s.run.kept, s.run.disabled), (1, 0), "{:?}", s.run);
    assert!(e.store.user_by_id(&radia_account).await.unwrap().unwrap().disabled_at.is_none());
}

// ---------- what decides removals is for Admins ----------

#[tokio::test]
async fn an_editor_may_schedule_runs_but_not_change_who_is_removed_nor_approve() {
    let fixture = Fixture::sample();
    let e = env(fixture.clone(), SyncOptions::default()).await;
    e.sync(RunKind::Full).await;
    e.settings(|s| s.enabled = true).await;
    let before = e.svc.settings(&e.provider_id).await.unwrap();
    let changes: [fn(&mut SyncSettings); 5] = [
        |s| s.enabled = false,
        |s| s.removal_threshold_percent = 100,
        |s| s.admin_deprovision = DeprovisionAction::Keep,
        |s| s.deprovision = DeprovisionAction::Keep,
        |s| s.scope = Scope::App("0oa1234567890abcdef".into()),
    ];
    for change in changes {
        let mut s = before.clone();
        change(&mut s);
        let refused = e.svc.save_settings(&e.provider_id, s, &editor_caller()).await;
        assert!(matches!(refused, Err(SyncError::AdminOnly(_))), "{refused:?}");
    }
    assert_eq!(e.svc.settings(&e.provider_id).await.unwrap(), before, "nothing was saved");
    // The schedule is theirs to change.
    let mut s = before.clone();
    s.interval_minutes = 30;
    e.svc.save_settings(&e.provider_id, s, &editor_caller()).await.unwrap();

    // A held run: Editors may look, not approve.
    e.settings(|s| s.removal_threshold_percent = 0).await;
    e.sim.control().deactivate_user(&fixture.users[3].id).unwrap();
    let held =
        e.svc.sync_now(&e.provider_id, RunKind::Full, Trigger::Manual { caller: editor_caller() }).await.unwrap();
    assert_eq!(held.run.status, "awaiting_approval");
    let refused = e.svc.approve(&held.run.id, &editor_caller()).await;
    assert!(matches!(refused, Err(SyncError::AdminOnly(_))), "{refused:?}");
    assert_eq!(e.svc.run_row(&held.run.id).await.unwrap().status, "awaiting_approval");
    assert_eq!(e.svc.approve(&held.run.id, &admin_caller()).await.unwrap().run.status, "approved");
}

// ---------- removals are held, whatever is removed ----------

#[tokio::test]
async fn an_empty_group_list_is_held_and_discarding_keeps_every_group() {
    let e = env(Fixture::sample(), SyncOptions::default()).await;
    e.sync(RunKind::Full).await;
    // Even with the breaker off, an emptied group list waits for an admin.
    e.settings(|s| s.removal_threshold_percent = 100).await;
    let before = e.snapshot().await;
    let (_, groups, memberships) = e.store.directory_counts(&e.provider_id).await.unwrap();
    let mut sw = e.sim.control().switches();
    sw.empty_group_list = true;
    e.sim.control().set_switches(sw);

    let s = e.sync(RunKind::Full).await;
    assert_eq!(s.run.status, "awaiting_approval", "{:?}", s.run);
    assert!(s.run.error.as_deref().unwrap().contains("no groups"), "{:?}", s.run.error);
    assert_eq!((s.run.groups_deleted, s.run.memberships_removed), (groups, memberships), "in the run's counts");
    assert_eq!(e.snapshot().await, before, "nothing deleted while waiting");
    let diff = e.svc.pending_diff(&s.run.id).await.unwrap().unwrap();
    let names: BTreeSet<String> = diff.group_removals.iter().map(|g| g.name.clone()).collect();
    assert!(names.contains("Engineering") && names.contains("Portcullis Admins"), "{names:?}");
    assert_eq!(diff.group_removals.len() as i64, groups);
    assert_eq!(diff.membership_removals.len() as i64, memberships);
    let ada = e.user_id("ada.lovelace@example.com");
    assert!(diff
        .membership_removals
        .iter()
        .any(|m| m.group_name == "Portcullis Admins" && m.user_external_id == ada && m.group_deleted));

    e.svc.discard(&s.run.id, &admin_caller()).await.unwrap();
    assert_eq!(e.snapshot().await, before, "discarded: every group and membership stays");
    // The scheduler's next run is held again; approved, it applies.
    let s = e.sync(RunKind::Full).await;
    assert_eq!(s.run.status, "awaiting_approval");
    let approved = e.svc.approve(&s.run.id, &admin_caller()).await.unwrap();
    assert_eq!(approved.run.groups_deleted, groups);
    assert_eq!(e.store.directory_counts(&e.provider_id).await.unwrap().1, 0);
}

#[tokio::test]
async fn group_deletions_count_toward_the_threshold_and_are_listed_with_their_memberships() {
    let e = env(Fixture::sample(), SyncOptions::default()).await;
    e.sync(RunKind::Full).await;
    let before = e.snapshot().await;
    // One group of eight: 12 % of groups, its 5 memberships under 10 % of them.
    let marketing = e.group_id("Marketing");
    e.sim.control().apply(ControlOp::DeleteGroup { group_id: marketing.clone() }).unwrap();
    let s = e.sync(RunKind::Full).await;
    assert_eq!(s.run.status, "awaiting_approval", "{:?}", s.run);
    assert!(s.run.error.as_deref().unwrap().contains("1 of 8 groups (12 %)"), "{:?}", s.run.error);
    assert_eq!((s.run.groups_deleted, s.run.memberships_removed), (1, 5));
    assert_eq!(e.snapshot().await, before);
    let diff = e.svc.pending_diff(&s.run.id).await.unwrap().unwrap();
    assert_eq!(diff.group_removals.len(), 1);
    assert_eq!((diff.group_removals[0].external_id.as_str(), diff.group_removals[0].members), (marketing.as_str(), 5));
    assert_eq!(diff.membership_removals.len(), 5);
    assert!(diff.membership_removals.iter().all(|m| m.group_name == "Marketing" && m.group_deleted));
    e.svc.approve(&s.run.id, &admin_caller()).await.unwrap();
    assert!(!e.snapshot().await.1.iter().any(|(id, _)| *id == marketing));
}

#[tokio::test]
async fn a_member_listing_that_answers_404_for_a_listed_group_fails_the_run() {
    let e = env(Fixture::sample(), SyncOptions::default()).await;
    e.sync(RunKind::Full).await;
    e.settings(|s| s.removal_threshold_percent = 100).await;
    let before = e.snapshot().await;
    let mut sw = e.sim.control().switches();
    sw.group_members_not_found = true;
    e.sim.control().set_switches(sw);
    let s = e.sync(RunKind::Full).await;
    assert_eq!(s.run.status, "failed", "{:?}", s.run);
    assert!(s.run.error.as_deref().unwrap().contains("404 for its members"), "{:?}", s.run.error);
    assert!(s.run.error_fix.as_deref().unwrap().contains("admin role"));
    assert_eq!(e.snapshot().await, before, "no group was emptied");
}

#[tokio::test]
async fn paging_never_leaves_the_orgs_origin_with_the_credentials() {
    let e = env(Fixture::sample(), SyncOptions { user_page: 10, ..SyncOptions::default() }).await;
    e.sync(RunKind::Full).await;
    let before = e.snapshot().await;
    // A listener stands in for the foreign host: it must never be asked.
    let foreign = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut sw = e.sim.control().switches();
    sw.next_link_origin = format!("http://{}", foreign.local_addr().unwrap());
    e.sim.control().set_switches(sw);
    let s = e.sync(RunKind::Full).await;
    assert_eq!(s.run.status, "failed", "{:?}", s.run);
    let error = s.run.error.clone().unwrap();
    assert!(error.contains("outside the org") && error.contains(&foreign.local_addr().unwrap().to_string()), "{error}");
    assert!(s.run.error_fix.unwrap().contains("Base URL"));
    assert!(
        tokio::time::timeout(Duration::from_millis(200), foreign.accept()).await.is_err(),
        "nothing was sent there"
    );
    assert_eq!(e.snapshot().await, before);
}

/// Another replica fails a run whose replica stopped beating (a network partition, a stall):
/// if that replica was only slow, its run must not land after being reported failed.
#[tokio::test]
async fn a_run_failed_by_another_replica_while_fetching_applies_nothing() {
    let fixture = okta_sim::generate(1500, 30, 9);
    let e = env(fixture.clone(), SyncOptions { user_page: 50, member_page: 50, ..SyncOptions::default() }).await;
    e.sync(RunKind::Full).await;
    let before = e.snapshot().await;
    for u in &fixture.users[100..150] {
        e.sim.control().deactivate_user(&u.id).unwrap();
    }
    e.sim.control().set_latency(15);
    let svc = e.svc.clone();
    let provider = e.provider_id.clone();
    let task = tokio::spawn(async move { svc.sync_now(&provider, RunKind::Full, Trigger::Schedule).await });
    let run_id = loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let p = e.svc.progress(&e.provider_id).await.expect("running");
        if p.phase == Phase::Fetching && p.pages_done >= 5 {
            break p.run_id;
        }
    };
    // As the runner replica does for a run whose heartbeat is stale.
    assert!(e.svc.store().fail_interrupted_run(&run_id, "interrupted", "again", 1).await.unwrap());
    e.sim.control().set_latency(0);
    let summary = task.await.unwrap().unwrap();
    assert_eq!(summary.run.status, "failed");
    assert_eq!(e.snapshot().await, before, "nothing of the failed run landed");
    assert_eq!(e.svc.run_row(&run_id).await.unwrap().status, "failed");
}
