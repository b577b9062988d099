//! The Okta side of a run: pages of users, groups and group members, compared with the
//! directory as they arrive, and only the differences streamed into the run's staging by
//! one writer while the next pages download. Users and groups are read in parallel (Okta
//! counts them in separate rate-limit buckets); members a few groups at a time.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use futures_util::future::try_join_all;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::{ProgressHandle, Scope, SyncError, SyncOptions};
use crate::{
    okta::{OktaAppGroup, OktaAppUser, OktaClient, OktaError, OktaGroup, OktaMember, OktaUser, Page},
    store::{new_id, GroupMark, StageBatch, StageGroup, StageMembership, StageUser, Store, UserMark},
};

pub(crate) struct Plan {
    pub run_id: String,
    pub provider_id: String,
    pub scope: Scope,
    /// Org-scope incremental runs: only users changed after this Okta time. Otherwise every
    /// user is listed, and those not listed are gone.
    pub since: Option<String>,
    /// List the members of every group (full runs), or only of groups whose
    /// lastMembershipUpdated moved (incremental runs).
    pub relist_all: bool,
}

pub(crate) struct Fetched {
    pub users: u64,
    /// Listed users that are stored and unchanged.
    pub unchanged: u64,
    pub groups: u64,
    pub memberships: u64,
    /// Okta's clock when the listing began (epoch seconds): the next watermark.
    pub server_start: Option<i64>,
}

/// Pages waiting for the writer; bounds memory when the database is slower than Okta.
const QUEUE: usize = 16;
/// Rows the writer gathers into one transaction.
const WRITE_BATCH: usize = 5000;
const DEPROVISIONED: &str = "DEPROVISIONED";

pub(crate) async fn fetch(
    store: &Store,
    client: &OktaClient,
    options: &SyncOptions,
    plan: &Plan,
    progress: &ProgressHandle,
) -> Result<Fetched, SyncError> {
    let server_start = Mutex::new(None::<i64>);
    // Runs that list everyone compare with every stored user; incremental runs look users up page by page.
    let users = Mutex::new(match plan.since {
        None => known(store.user_marks(&plan.provider_id).await?),
        Some(_) => HashMap::new(),
    });
    let reverse = Mutex::new(None);
    let (tx, rx) = mpsc::channel::<StageBatch>(QUEUE);
    let ctx =
        Ctx { store, client, options, plan, progress, server_start: &server_start, users: &users, reverse: &reverse };
    let users = fetch_users(&ctx, tx.clone());
    let groups = fetch_groups(&ctx, tx.clone());
    // The writer is never cancelled mid-transaction: when a fetcher fails, the senders drop
    // and the writer drains what is queued, then ends.
    let fetchers = async {
        let done = tokio::try_join!(users, groups)?;
        // Members the run met but did not create (deactivated users, say) are not added.
        let phantom_users: Vec<String> = match ctx.users.lock() {
            Ok(m) => m.values().filter(|k| !k.stored && !k.created).map(|k| k.id.clone()).collect(),
            Err(_) => return Err(SyncError::Internal("the user map is poisoned".into())),
        };
        send(&tx, StageBatch { phantom_users, ..Default::default() }).await?;
        drop(tx);
        Ok(done)
    };
    let writer = write(store, &plan.run_id, rx);
    let (fetched, written) = tokio::join!(fetchers, writer);
    written?;
    let ((users, unchanged), (groups, memberships)) = fetched?;
    let server_start = server_start.lock().ok().and_then(|s| *s);
    Ok(Fetched { users, unchanged, groups, memberships, server_start })
}

struct Ctx<'a> {
    store: &'a Store,
    client: &'a OktaClient,
    options: &'a SyncOptions,
    plan: &'a Plan,
    progress: &'a ProgressHandle,
    server_start: &'a Mutex<Option<i64>>,
    /// Users by provider id, shared by the users and the members fetchers: stored users, and
    /// the row ids given to new ones (whichever fetcher meets them first).
    users: &'a Mutex<HashMap<String, Known>>,
    /// Row id → provider id of stored users, built when a full run first removes a membership.
    reverse: &'a Mutex<Option<HashMap<String, String>>>,
}

impl Ctx<'_> {
    /// Notes a page: progress, request counts, and Okta's clock at the first page.
    async fn page_done<T>(&self, page: &Page<T>, users: u64, groups: u64, memberships: u64) {
        if let (Some(t), Ok(mut s)) = (page.server_time, self.server_start.lock()) {
            *s = Some(s.map_or(t, |cur| cur.min(t)));
        }
        let stats = self.client.stats().await;
        self.progress.update(|p| {
            p.pages_done += 1;
            p.users_so_far += users;
            p.groups_so_far += groups;
            p.memberships_so_far += memberships;
            p.requests = stats.requests;
            p.waiting_until = None;
        });
    }
}

async fn send(tx: &mpsc::Sender<StageBatch>, batch: StageBatch) -> Result<(), SyncError> {
    if batch.is_empty() {
        return Ok(());
    }
    tx.send(batch).await.map_err(|_| SyncError::Internal("the staging writer stopped".into()))
}

/// The single writer: gathers queued pages into transactions.
async fn write(store: &Store, run_id: &str, mut rx: mpsc::Receiver<StageBatch>) -> Result<(), SyncError> {
    while let Some(mut batch) = rx.recv().await {
        while batch.len() < WRITE_BATCH {
            match rx.try_recv() {
                Ok(more) => {
                    batch.users.extend(more.users);
                    batch.groups.extend(more.groups);
                    batch.memberships.extend(more.memberships);
                    batch.vanished_groups.extend(more.vanished_groups);
                    batch.phantom_users.extend(more.phantom_users);
                }
                Err(_) => break,
            }
        }
        store.stage(run_id, &batch).await?;
    }
    Ok(())
}

fn query(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

fn path_segment(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

/// A user as the run knows it: stored (with its fingerprint and state), or new in this run.
struct Known {
    id: String,
    fingerprint: String,
    active: bool,
    stored: bool,
    /// Listed by the users fetcher in this run.
    seen: bool,
    /// Staged as new by this run.
    created: bool,
}

fn known(marks: Vec<UserMark>) -> HashMap<String, Known> {
    marks.into_iter().map(|m| (m.external_id, stored(m.id, m.fingerprint, &m.state))).collect()
}

fn stored(id: String, fingerprint: String, state: &str) -> Known {
    Known { id, fingerprint, active: state == "active", stored: true, seen: false, created: false }
}

impl Ctx<'_> {
    /// Makes sure every one of these users is in the shared map: incremental runs look the
    /// missing ones up; who is not stored gets a new row id.
    async fn resolve(&self, ids: Vec<String>) -> Result<(), SyncError> {
        let missing: Vec<String> = match self.users.lock() {
            Ok(m) => ids.into_iter().filter(|id| !m.contains_key(id)).collect(),
            Err(_) => return Err(SyncError::Internal("the user map is poisoned".into())),
        };
        if missing.is_empty() {
            return Ok(());
        }
        let found = match self.plan.since {
            Some(_) => self.store.user_marks_for(&self.plan.provider_id, &missing).await?,
            None => Vec::new(),
        };
        let mut m = self.users.lock().map_err(|_| SyncError::Internal("the user map is poisoned".into()))?;
        for f in found {
            m.entry(f.external_id).or_insert_with(|| stored(f.id, f.fingerprint, &f.state));
        }
        for id in missing {
            m.entry(id).or_insert_with(|| Known {
                id: new_id(),
                fingerprint: String::new(),
                active: false,
                stored: false,
                seen: false,
                created: false,
            });
        }
        Ok(())
    }
}

/// What a listed user changes.
enum Verdict {
    Stage(Box<StageUser>),
    Unchanged,
    /// Listed twice, or deactivated and not held.
    Skip,
}

fn classify_user(mut u: StageUser, known: &mut HashMap<String, Known>) -> Verdict {
    let deprovisioned = u.okta_status == DEPROVISIONED;
    let Some(k) = known.get_mut(&u.external_id) else { return Verdict::Skip };
    if k.seen {
        return Verdict::Skip;
    }
    k.seen = true;
    if !k.stored {
        if deprovisioned {
            return Verdict::Skip;
        }
        u.id = k.id.clone();
        u.change = "create".into();
        k.created = true;
        return Verdict::Stage(Box::new(u));
    }
    if deprovisioned {
        // Deactivated in Okta: gone, if it is still active here.
        if k.active {
            u.change = "gone".into();
            return Verdict::Stage(Box::new(u));
        }
        return Verdict::Skip;
    }
    if k.fingerprint != u.fingerprint || !k.active {
        u.change = "update".into();
        Verdict::Stage(Box::new(u))
    } else {
        Verdict::Unchanged
    }
}

/// A user no longer listed by a run that lists everyone.
fn gone_user(external_id: String) -> StageUser {
    StageUser {
        external_id,
        id: String::new(),
        change: "gone".into(),
        email: String::new(),
        login: String::new(),
        first_name: String::new(),
        last_name: String::new(),
        display_name: String::new(),
        okta_status: "GONE".into(),
        last_updated: None,
        fingerprint: String::new(),
    }
}

/// Lists the users; (listed, unchanged).
async fn fetch_users(ctx: &Ctx<'_>, tx: mpsc::Sender<StageBatch>) -> Result<(u64, u64), SyncError> {
    let c = ctx.client;
    let mut count = 0u64;
    let mut unchanged = 0u64;
    let stage_page = |users: Vec<OktaUser>, unchanged: &mut u64| -> Result<Vec<StageUser>, SyncError> {
        let mut m = ctx.users.lock().map_err(|_| SyncError::Internal("the user map is poisoned".into()))?;
        let mut out = Vec::new();
        for u in users {
            match classify_user(stage_user(u), &mut m) {
                Verdict::Stage(s) => out.push(*s),
                Verdict::Unchanged => *unchanged += 1,
                Verdict::Skip => {}
            }
        }
        Ok(out)
    };
    match &ctx.plan.scope {
        Scope::Org => {
            let limit = ctx.options.user_page.to_string();
            // Without a filter Okta lists every user but DEPROVISIONED ones, which count as gone.
            // The lastUpdated filter lists DEPROVISIONED ones too: that is how deactivations arrive.
            let q = match &ctx.plan.since {
                Some(since) => query(&[("limit", &limit), ("filter", &format!("lastUpdated gt \"{since}\""))]),
                None => query(&[("limit", &limit)]),
            };
            let mut next = Some(c.url(&format!("/api/v1/users?{q}")));
            while let Some(url) = next {
                let page = c.page::<OktaUser>(&url).await?;
                let n = page.items.len() as u64;
                ctx.page_done(&page, n, 0, 0).await;
                next = page.next;
                count += n;
                ctx.resolve(page.items.iter().map(|u| u.id.clone()).collect()).await?;
                let users = stage_page(page.items, &mut unchanged)?;
                send(&tx, StageBatch { users, ..Default::default() }).await?;
            }
        }
        Scope::App(app) => {
            // The app's assignments are listed in full every run (the endpoint has no lastUpdated filter).
            let q = query(&[("limit", &ctx.options.app_user_page.to_string()), ("expand", "user")]);
            let mut next = Some(c.url(&format!("/api/v1/apps/{}/users?{q}", path_segment(app))));
            while let Some(url) = next {
                let page = c.page::<OktaAppUser>(&url).await.map_err(|e| app_error(e, app))?;
                let n = page.items.len() as u64;
                ctx.page_done(&page, n, 0, 0).await;
                next = page.next;
                count += n;
                let mut users = Vec::with_capacity(page.items.len());
                for a in page.items {
                    match a.embedded {
                        Some(e) => users.push(e.user),
                        None => {
                            return Err(OktaError::BadResponse(format!(
                                "app user {} came without its user (expand=user)",
                                a.id
                            ))
                            .into())
                        }
                    }
                }
                ctx.resolve(users.iter().map(|u| u.id.clone()).collect()).await?;
                let users = stage_page(users, &mut unchanged)?;
                send(&tx, StageBatch { users, ..Default::default() }).await?;
            }
        }
    }
    if ctx.plan.since.is_none() {
        // Listed everyone: whoever is stored, active and was not listed is gone.
        let gone: Vec<StageUser> = match ctx.users.lock() {
            Ok(m) => {
                m.iter().filter(|(_, k)| k.stored && k.active && !k.seen).map(|(id, _)| gone_user(id.clone())).collect()
            }
            Err(_) => return Err(SyncError::Internal("the user map is poisoned".into())),
        };
        for chunk in gone.chunks(1000) {
            send(&tx, StageBatch { users: chunk.to_vec(), ..Default::default() }).await?;
        }
    }
    Ok((count, unchanged))
}

/// A 404 on an app's assignments means a wrong app id: say so.
fn app_error(e: OktaError, app: &str) -> SyncError {
    match e {
        OktaError::Unexpected { status: 404, .. } => SyncError::BadSettings(format!(
            "Okta has no app with the ID {app}: check the app ID in the directory sync settings (Applications → the app; the ID is in its URL)."
        )),
        other => other.into(),
    }
}

/// A group whose members the run lists: its provider id, its row id, and whether it is stored.
struct Relist {
    external_id: String,
    name: String,
    row_id: String,
    stored: bool,
}

/// Lists the groups, then the members of those that need it; (groups, memberships).
async fn fetch_groups(ctx: &Ctx<'_>, tx: mpsc::Sender<StageBatch>) -> Result<(u64, u64), SyncError> {
    let c = ctx.client;
    let mut stored: HashMap<String, GroupMark> =
        ctx.store.group_marks(&ctx.plan.provider_id).await?.into_iter().map(|g| (g.external_id.clone(), g)).collect();
    let mut listed: HashSet<String> = HashSet::new();
    let mut queue: VecDeque<Relist> = VecDeque::new();
    let mut count = 0u64;
    let relist_all = ctx.plan.relist_all;
    let mut stage = |groups: Vec<OktaGroup>| -> Vec<StageGroup> {
        let mut out = Vec::new();
        for g in groups {
            if !listed.insert(g.id.clone()) {
                continue;
            }
            // Everyone holds every user: its members are not listed (nor stored).
            let listable = g.kind != "BUILT_IN";
            let old = stored.remove(&g.id);
            let (change, relist) = match &old {
                None => (Some("create"), listable),
                Some(o) => {
                    let content = o.name != g.profile.name
                        || o.description.as_deref().unwrap_or_default()
                            != g.profile.description.as_deref().unwrap_or_default()
                        || o.kind != g.kind;
                    let marks = o.source != "sync"
                        || o.last_updated != g.last_updated
                        || o.last_membership_updated != g.last_membership_updated;
                    let moved =
                        o.last_membership_updated.is_none() || o.last_membership_updated != g.last_membership_updated;
                    let change = if content {
                        Some("update")
                    } else if marks {
                        Some("marks")
                    } else {
                        None
                    };
                    (change, listable && (relist_all || moved))
                }
            };
            let row_id = old.as_ref().map_or_else(new_id, |o| o.id.clone());
            if relist {
                queue.push_back(Relist {
                    external_id: g.id.clone(),
                    name: g.profile.name.clone(),
                    row_id: row_id.clone(),
                    stored: old.is_some(),
                });
            }
            if let Some(change) = change {
                out.push(StageGroup {
                    id: row_id,
                    change: change.into(),
                    external_id: g.id,
                    name: g.profile.name,
                    description: g.profile.description,
                    kind: g.kind,
                    last_updated: g.last_updated,
                    last_membership_updated: g.last_membership_updated,
                });
            }
        }
        out
    };
    // Full runs compare every group's members: read them all at once, while the groups list.
    let preload = async {
        match relist_all {
            true => ctx.store.provider_membership_ids(&ctx.plan.provider_id).await.map(Some),
            false => Ok(None),
        }
    };
    let listing = async {
        match &ctx.plan.scope {
            Scope::Org => {
                let mut limit = ctx.options.group_page;
                let mut next = Some(c.url(&format!("/api/v1/groups?{}", query(&[("limit", &limit.to_string())]))));
                while let Some(url) = next {
                    let page = match c.page::<OktaGroup>(&url).await {
                        Ok(p) => p,
                        // Okta orgs that cap `limit` at 200 may refuse more (E0000054): ask again with 200.
                        Err(OktaError::Unexpected { status: 400, body })
                            if body.contains("E0000054") && limit > 200 && count == 0 =>
                        {
                            limit = 200;
                            next = Some(c.url(&format!("/api/v1/groups?{}", query(&[("limit", "200")]))));
                            continue;
                        }
                        Err(e) => return Err(e.into()),
                    };
                    let n = page.items.len() as u64;
                    ctx.page_done(&page, 0, n, 0).await;
                    next = page.next;
                    count += n;
                    let groups = stage(page.items);
                    send(&tx, StageBatch { groups, ..Default::default() }).await?;
                }
            }
            Scope::App(app) => {
                let q = query(&[("limit", &ctx.options.app_group_page.to_string()), ("expand", "group")]);
                let mut next = Some(c.url(&format!("/api/v1/apps/{}/groups?{q}", path_segment(app))));
                while let Some(url) = next {
                    let page = c.page::<OktaAppGroup>(&url).await.map_err(|e| app_error(e, app))?;
                    let n = page.items.len() as u64;
                    ctx.page_done(&page, 0, n, 0).await;
                    next = page.next;
                    count += n;
                    let mut groups = Vec::with_capacity(page.items.len());
                    for a in page.items {
                        match a.embedded {
                            Some(e) => groups.push(e.group),
                            None => {
                                return Err(OktaError::BadResponse(format!(
                                    "app group {} came without its group (expand=group)",
                                    a.id
                                ))
                                .into())
                            }
                        }
                    }
                    let groups = stage(groups);
                    send(&tx, StageBatch { groups, ..Default::default() }).await?;
                }
            }
        }
        Ok::<(), SyncError>(())
    };
    let (listed_ok, preloaded) = tokio::join!(listing, preload);
    listed_ok?;
    let mut by_group: HashMap<String, Vec<String>> = HashMap::new();
    let preloaded = preloaded?.is_some_and(|rows| {
        for (group, user_id) in rows {
            by_group.entry(group).or_default().push(user_id);
        }
        true
    });
    let by_group = Mutex::new(by_group);
    // Stored groups the provider no longer lists are gone.
    let gone: Vec<String> = stored.into_keys().collect();
    for chunk in gone.chunks(1000) {
        send(&tx, StageBatch { vanished_groups: chunk.to_vec(), ..Default::default() }).await?;
    }

    let total = queue.len() as u64;
    ctx.progress.update(|p| p.groups_to_list = total);
    let queue = Mutex::new(queue);
    let workers = (0..ctx.options.member_concurrency.max(1)).map(|_| async {
        let mut n = 0u64;
        loop {
            let next = queue.lock().ok().and_then(|mut q| q.pop_front());
            let Some(group) = next else { break };
            let members = match preloaded {
                true => Some(by_group.lock().ok().and_then(|mut m| m.remove(&group.row_id)).unwrap_or_default()),
                false => None,
            };
            n += list_members(ctx, &group, members, &tx).await?;
        }
        Ok::<u64, SyncError>(n)
    });
    let memberships = try_join_all(workers).await?.into_iter().sum();
    Ok((count, memberships))
}

/// Lists a group's members and stages the difference with its stored members (full runs
/// preload them: their row ids).
async fn list_members(
    ctx: &Ctx<'_>,
    group: &Relist,
    preloaded: Option<Vec<String>>,
    tx: &mpsc::Sender<StageBatch>,
) -> Result<u64, SyncError> {
    let c = ctx.client;
    // Stored members: row id → provider id (looked up later when preloaded).
    let mut stored: HashMap<String, Option<String>> = match (preloaded, group.stored) {
        (Some(ids), _) => ids.into_iter().map(|id| (id, None)).collect(),
        (None, true) => {
            ctx.store.group_member_ids(&group.row_id).await?.into_iter().map(|(ext, id)| (id, Some(ext))).collect()
        }
        (None, false) => HashMap::new(),
    };
    let mut listed: HashSet<String> = HashSet::new();
    let membership = |user: String, user_id: String, change: &'static str| StageMembership {
        group_external_id: group.external_id.clone(),
        user_external_id: user,
        group_id: group.row_id.clone(),
        user_id,
        change,
    };
    let q = query(&[("limit", &ctx.options.member_page.to_string())]);
    let mut next = Some(c.url(&format!("/api/v1/groups/{}/users?{q}", path_segment(&group.external_id))));
    let mut count = 0u64;
    while let Some(url) = next {
        let page = match c.page::<OktaMember>(&url).await {
            Ok(p) => p,
            // Deleted since it was listed, if Okta no longer has the group either: it goes
            // with this run. A group Okta still has never loses its members to a 404.
            Err(OktaError::Unexpected { status: 404, .. }) => {
                let one = c.url(&format!("/api/v1/groups/{}", path_segment(&group.external_id)));
                match c.get(&one).await {
                    Err(OktaError::Unexpected { status: 404, .. }) => {
                        send(tx, StageBatch { vanished_groups: vec![group.external_id.clone()], ..Default::default() })
                            .await?;
                        return Ok(0);
                    }
                    Err(e) => return Err(e.into()),
                    Ok(_) => {
                        return Err(SyncError::MembersNotFound {
                            group: group.name.clone(),
                            group_id: group.external_id.clone(),
                        })
                    }
                }
            }
            Err(e) => return Err(e.into()),
        };
        let n = page.items.len() as u64;
        ctx.page_done(&page, 0, 0, n).await;
        next = page.next;
        count += n;
        let members: Vec<String> =
            page.items.into_iter().map(|m| m.id).filter(|id| listed.insert(id.clone())).collect();
        ctx.resolve(members.clone()).await?;
        let memberships = {
            let m = ctx.users.lock().map_err(|_| SyncError::Internal("the user map is poisoned".into()))?;
            members
                .into_iter()
                .filter_map(|u| {
                    let id = m.get(&u)?.id.clone();
                    stored.remove(&id).is_none().then(|| membership(u, id, "add"))
                })
                .collect()
        };
        send(tx, StageBatch { memberships, ..Default::default() }).await?;
    }
    if !stored.is_empty() {
        let memberships = {
            let mut reverse = ctx.reverse.lock().map_err(|_| SyncError::Internal("the user map is poisoned".into()))?;
            if stored.values().any(Option::is_none) && reverse.is_none() {
                let m = ctx.users.lock().map_err(|_| SyncError::Internal("the user map is poisoned".into()))?;
                *reverse =
                    Some(m.iter().filter(|(_, k)| k.stored).map(|(ext, k)| (k.id.clone(), ext.clone())).collect());
            }
            stored
                .into_iter()
                .filter_map(|(id, ext)| {
                    let ext = ext.or_else(|| reverse.as_ref().and_then(|r| r.get(&id).cloned()))?;
                    Some(membership(ext, id, "remove"))
                })
                .collect()
        };
        send(tx, StageBatch { memberships, ..Default::default() }).await?;
    }
    ctx.progress.update(|p| p.groups_listed += 1);
    Ok(count)
}

/// The stored form of an Okta user; the fingerprint tells a changed user from an unchanged one.
pub(crate) fn stage_user(u: OktaUser) -> StageUser {
    let p = u.profile;
    let login = p.login.unwrap_or_default();
    // ASCII folding only: a Kelvin sign must not become a `k` and match another address.
    let email = crate::accounts::fold_email(&p.email.unwrap_or_else(|| login.clone()));
    let first_name = p.first_name.unwrap_or_default();
    let last_name = p.last_name.unwrap_or_default();
    let full = format!("{first_name} {last_name}");
    let display_name = if full.trim().is_empty() { login.clone() } else { full.trim().to_string() };
    let mut h = Sha256::new();
    for part in [&email, &login, &first_name, &last_name, &display_name, &u.status] {
        h.update(part.as_bytes());
        h.update([0x1f]);
    }
    let fingerprint = hex::encode(&h.finalize()[..16]);
    StageUser {
        external_id: u.id,
        id: new_id(),
        change: String::new(),
        email,
        login,
        first_name,
        last_name,
        display_name,
        okta_status: u.status,
        last_updated: u.last_updated,
        fingerprint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::okta::UserProfile;

    fn user(status: &str, first: &str) -> OktaUser {
        OktaUser {
            id: "00u1".into(),
            status: status.into(),
            profile: UserProfile {
                login: Some("Ada@Example.com".into()),
                email: Some("Ada@Example.com".into()),
                first_name: Some(first.into()),
                last_name: Some("Lovelace".into()),
            },
            last_updated: None,
        }
    }

    #[test]
    fn listed_users_are_created_updated_gone_or_left_alone() {
        let ada = stage_user(user("ACTIVE", "Ada"));
        let mut known: HashMap<String, Known> = HashMap::new();
        let stage = |u: StageUser, k: &mut HashMap<String, Known>| match classify_user(u, k) {
            Verdict::Stage(s) => s.change,
            Verdict::Unchanged => "unchanged".into(),
            Verdict::Skip => "skip".into(),
        };
        // Unknown to the map: skipped (the fetchers resolve every id first).
        assert_eq!(stage(ada.clone(), &mut known), "skip");
        // New: created with the row id the map gave it.
        known.insert(
            "00u1".into(),
            Known {
                id: "row-1".into(),
                fingerprint: String::new(),
                active: false,
                stored: false,
                seen: false,
                created: false,
            },
        );
        match classify_user(ada.clone(), &mut known) {
            Verdict::Stage(s) => assert_eq!((s.change.as_str(), s.id.as_str()), ("create", "row-1")),
            _ => panic!("not created"),
        }
        assert_eq!(stage(ada.clone(), &mut known), "skip", "listed twice");
        // Stored: unchanged, updated, restored, gone.
        let fresh = |fp: &str, state: &str| {
            let mut m = HashMap::new();
            m.insert("00u1".to_string(), stored("row-1".into(), fp.into(), state));
            m
        };
        assert_eq!(stage(ada.clone(), &mut fresh(&ada.fingerprint, "active")), "unchanged");
        assert_eq!(stage(ada.clone(), &mut fresh("old", "active")), "update");
        assert_eq!(stage(ada.clone(), &mut fresh(&ada.fingerprint, "disabled")), "update", "back in Okta");
        let gone = stage_user(user("DEPROVISIONED", "Ada"));
        assert_eq!(stage(gone.clone(), &mut fresh(&ada.fingerprint, "active")), "gone");
        assert_eq!(stage(gone, &mut fresh(&ada.fingerprint, "disabled")), "skip", "already removed");
    }

    #[test]
    fn emails_are_lower_cased_and_any_synced_field_changes_the_fingerprint() {
        let a = stage_user(user("ACTIVE", "Ada"));
        assert_eq!(a.email, "ada@example.com");
        assert_eq!(a.display_name, "Ada Lovelace");
        assert_eq!(a.fingerprint, stage_user(user("ACTIVE", "Ada")).fingerprint);
        assert_ne!(a.fingerprint, stage_user(user("SUSPENDED", "Ada")).fingerprint);
        assert_ne!(a.fingerprint, stage_user(user("ACTIVE", "Augusta")).fingerprint);
    }
}
