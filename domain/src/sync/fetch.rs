//! The Okta side of a run: pages of users, groups and group members, streamed into the
//! run's staging by one writer while the next pages download. Users and groups are read
//! in parallel (Okta counts them in separate rate-limit buckets); members a few groups at
//! a time.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use futures_util::future::try_join_all;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::{ProgressHandle, Scope, SyncError, SyncOptions};
use crate::{
    okta::{OktaAppGroup, OktaAppUser, OktaClient, OktaError, OktaGroup, OktaMember, OktaUser, Page},
    store::{new_id, StageBatch, StageGroup, StageUser, Store},
};

pub(crate) struct Plan {
    pub run_id: String,
    pub provider_id: String,
    pub scope: Scope,
    /// Incremental: only what changed after this Okta time.
    pub since: Option<String>,
}

pub(crate) struct Fetched {
    pub users: u64,
    pub groups: u64,
    pub memberships: u64,
    /// Okta's clock when the listing began (epoch seconds): the next watermark.
    pub server_start: Option<i64>,
}

/// Pages waiting for the writer; bounds memory when the database is slower than Okta.
const QUEUE: usize = 16;
/// Rows the writer gathers into one transaction.
const WRITE_BATCH: usize = 5000;

pub(crate) async fn fetch(
    store: &Store,
    client: &OktaClient,
    options: &SyncOptions,
    plan: &Plan,
    progress: &ProgressHandle,
) -> Result<Fetched, SyncError> {
    // Incremental: the stored lastMembershipUpdated of each group says whose members to list again.
    let marks: Option<HashMap<String, Option<String>>> = match plan.since {
        Some(_) => Some(store.group_membership_marks(&plan.provider_id).await?.into_iter().collect()),
        None => None,
    };
    let server_start = Mutex::new(None::<i64>);
    let (tx, rx) = mpsc::channel::<StageBatch>(QUEUE);
    let ctx = Ctx { client, options, plan, progress, server_start: &server_start };
    let users = fetch_users(&ctx, tx.clone());
    let groups = fetch_groups(&ctx, marks.as_ref(), tx);
    // The writer is never cancelled mid-transaction: when a fetcher fails, the senders drop
    // and the writer drains what is queued, then ends.
    let fetchers = async { tokio::try_join!(users, groups) };
    let writer = write(store, &plan.run_id, rx);
    let (fetched, written) = tokio::join!(fetchers, writer);
    written?;
    let (users, (groups, memberships)) = fetched?;
    let server_start = server_start.lock().ok().and_then(|s| *s);
    Ok(Fetched { users, groups, memberships, server_start })
}

struct Ctx<'a> {
    client: &'a OktaClient,
    options: &'a SyncOptions,
    plan: &'a Plan,
    progress: &'a ProgressHandle,
    server_start: &'a Mutex<Option<i64>>,
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

async fn fetch_users(ctx: &Ctx<'_>, tx: mpsc::Sender<StageBatch>) -> Result<u64, SyncError> {
    let c = ctx.client;
    let mut count = 0u64;
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
                send(&tx, StageBatch { users: page.items.into_iter().map(stage_user).collect(), ..Default::default() }).await?;
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
                        Some(e) => users.push(stage_user(e.user)),
                        None => {
                            return Err(OktaError::BadResponse(format!("app user {} came without its user (expand=user)", a.id)).into())
                        }
                    }
                }
                send(&tx, StageBatch { users, ..Default::default() }).await?;
            }
        }
    }
    Ok(count)
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

/// Lists the groups, then the members of those that need it; (groups, memberships).
async fn fetch_groups(
    ctx: &Ctx<'_>,
    marks: Option<&HashMap<String, Option<String>>>,
    tx: mpsc::Sender<StageBatch>,
) -> Result<(u64, u64), SyncError> {
    let c = ctx.client;
    let mut queue: VecDeque<String> = VecDeque::new();
    let mut count = 0u64;
    let stage = |groups: Vec<OktaGroup>, queue: &mut VecDeque<String>| -> Vec<StageGroup> {
        groups
            .into_iter()
            .map(|g| {
                // Everyone holds every user: its members are not listed (nor stored).
                let listable = g.kind != "BUILT_IN";
                let changed = match marks {
                    None => true,
                    Some(m) => m.get(&g.id).is_none_or(|stored| stored.is_none() || *stored != g.last_membership_updated),
                };
                let relisted = listable && changed;
                if relisted {
                    queue.push_back(g.id.clone());
                }
                StageGroup {
                    id: new_id(),
                    external_id: g.id,
                    name: g.profile.name,
                    description: g.profile.description,
                    kind: g.kind,
                    last_updated: g.last_updated,
                    last_membership_updated: g.last_membership_updated,
                    relisted,
                }
            })
            .collect()
    };
    match &ctx.plan.scope {
        Scope::Org => {
            let mut limit = ctx.options.group_page;
            let mut next = Some(c.url(&format!("/api/v1/groups?{}", query(&[("limit", &limit.to_string())]))));
            while let Some(url) = next {
                let page = match c.page::<OktaGroup>(&url).await {
                    Ok(p) => p,
                    // Okta orgs that cap `limit` at 200 may refuse more (E0000054): ask again with 200.
                    Err(OktaError::Unexpected { status: 400, body }) if body.contains("E0000054") && limit > 200 && count == 0 => {
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
                let groups = stage(page.items, &mut queue);
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
                            return Err(OktaError::BadResponse(format!("app group {} came without its group (expand=group)", a.id)).into())
                        }
                    }
                }
                let groups = stage(groups, &mut queue);
                send(&tx, StageBatch { groups, ..Default::default() }).await?;
            }
        }
    }

    let total = queue.len() as u64;
    ctx.progress.update(|p| p.groups_to_list = total);
    let queue = Mutex::new(queue);
    let workers = (0..ctx.options.member_concurrency.max(1)).map(|_| async {
        let mut n = 0u64;
        loop {
            let next = queue.lock().ok().and_then(|mut q| q.pop_front());
            let Some(group) = next else { break };
            n += list_members(ctx, &group, &tx).await?;
        }
        Ok::<u64, SyncError>(n)
    });
    let memberships = try_join_all(workers).await?.into_iter().sum();
    Ok((count, memberships))
}

async fn list_members(ctx: &Ctx<'_>, group: &str, tx: &mpsc::Sender<StageBatch>) -> Result<u64, SyncError> {
    let c = ctx.client;
    let q = query(&[("limit", &ctx.options.member_page.to_string())]);
    let mut next = Some(c.url(&format!("/api/v1/groups/{}/users?{q}", path_segment(group))));
    let mut count = 0u64;
    while let Some(url) = next {
        let page = match c.page::<OktaMember>(&url).await {
            Ok(p) => p,
            // Deleted since it was listed: it goes from the directory with this run.
            Err(OktaError::Unexpected { status: 404, .. }) => {
                send(tx, StageBatch { vanished_groups: vec![group.to_string()], ..Default::default() }).await?;
                return Ok(0);
            }
            Err(e) => return Err(e.into()),
        };
        let n = page.items.len() as u64;
        ctx.page_done(&page, 0, 0, n).await;
        next = page.next;
        count += n;
        let memberships = page.items.into_iter().map(|m| (group.to_string(), m.id)).collect();
        send(tx, StageBatch { memberships, ..Default::default() }).await?;
    }
    ctx.progress.update(|p| p.groups_listed += 1);
    Ok(count)
}

/// The stored form of an Okta user; the fingerprint tells a changed user from an unchanged one.
pub(crate) fn stage_user(u: OktaUser) -> StageUser {
    let p = u.profile;
    let login = p.login.unwrap_or_default();
    let email = p.email.unwrap_or_else(|| login.clone()).trim().to_lowercase();
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
    fn emails_are_lower_cased_and_any_synced_field_changes_the_fingerprint() {
        let a = stage_user(user("ACTIVE", "Ada"));
        assert_eq!(a.email, "ada@example.com");
        assert_eq!(a.display_name, "Ada Lovelace");
        assert_eq!(a.fingerprint, stage_user(user("ACTIVE", "Ada")).fingerprint);
        assert_ne!(a.fingerprint, stage_user(user("SUSPENDED", "Ada")).fingerprint);
        assert_ne!(a.fingerprint, stage_user(user("ACTIVE", "Augusta")).fingerprint);
    }
}
