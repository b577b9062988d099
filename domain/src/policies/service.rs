//! The policy builder's operations: applications and policies (every change audited in the
//! same transaction), live preview against the synced directory, "Test a user", export and
//! import, labels with current names, and the compiled snapshot for forward auth.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, PoisonError, RwLock,
    },
};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{
    eval::{Decision, Facts, Subject},
    export::{ImportMode, ImportResult, ImportTarget, PolicyDocument, Reference},
    model::{Action, Application, ApplicationInput, GroupRef, HostRule, Policy, PolicyInput, Rules, Selector, UserRef},
    snapshot::{Snapshot, Verdict},
    validate::{self, PolicyError, MAX_POLICIES},
};
use crate::{
    audit::{self, Actor, Audit, Event},
    store::{
        new_id, now_ms,
        policies::{ApplicationRow, DirectoryStamp, HostRow, NewApplication, PersonRow, PolicyRow},
        DirectoryQuery, Store, StoreError,
    },
};

/// How many matched people a preview lists.
pub const PREVIEW_LIST: usize = 100;

/// A policy with its selectors' current labels, for the list and the editor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyView {
    pub policy: Policy,
    pub include: Vec<SelectorView>,
    pub require: Vec<SelectorView>,
    pub exclude: Vec<SelectorView>,
}

/// A selector as the UI shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectorView {
    pub selector: Selector,
    /// "Group", "Email", …
    pub kind: String,
    /// The current name: a group's name, "Name <email>" for a user, a provider's name, the
    /// email or domain; "(group no longer in the directory)" and the like when gone.
    pub label: String,
    /// The group, user or provider no longer exists: the selector matches no one.
    pub missing: bool,
}

/// Current labels of a set of selectors.
#[derive(Debug, Clone, Default)]
pub struct Labels {
    map: HashMap<Selector, (String, bool)>,
}

impl Labels {
    fn entry(&self, s: &Selector) -> (String, bool) {
        self.map.get(s).cloned().unwrap_or_else(|| (own_label(s), false))
    }
    pub fn label(&self, s: &Selector) -> String {
        self.entry(s).0
    }
    pub fn view(&self, s: &Selector) -> SelectorView {
        let (label, missing) = self.entry(s);
        SelectorView { selector: s.clone(), kind: s.kind_label().into(), label, missing }
    }
    /// For sentences: "group 'Engineering'", "email ann@example.com", "Everyone".
    pub fn phrase(&self, s: &Selector) -> String {
        let label = self.label(s);
        match s {
            Selector::Everyone => "Everyone".into(),
            Selector::Email { .. } | Selector::EmailDomain { .. } => {
                format!("{} {label}", s.kind_label().to_lowercase())
            }
            _ => format!("{} '{label}'", s.kind_label().to_lowercase()),
        }
    }
}

fn own_label(s: &Selector) -> String {
    match s {
        Selector::Everyone => "Everyone".into(),
        Selector::Email { email } => email.clone(),
        Selector::EmailDomain { domain } => domain.clone(),
        other => other.plain_label(),
    }
}

/// The live preview of a draft policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    /// Active directory users the draft's rules match.
    pub matched: usize,
    /// Active directory users.
    pub total: usize,
    /// The first [`PREVIEW_LIST`] matched, by display name.
    pub users: Vec<PreviewUser>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewUser {
    /// The directory user's row id (for "Test a user").
    pub id: String,
    pub email: String,
    pub display_name: String,
}

/// A group for the selector picker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupOption {
    pub selector: Selector,
    pub name: String,
    pub provider_name: String,
    /// OKTA_GROUP, APP_GROUP, BUILT_IN, …
    pub kind: String,
}

/// A person for the selector picker and "Test a user".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserOption {
    pub directory_user_id: String,
    pub selector: Selector,
    pub email: String,
    pub display_name: String,
    pub provider_name: String,
}

/// Moving a policy one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Move {
    Up,
    Down,
}

/// The active directory, with groups interned, for previews. Rebuilt when the directory changes.
#[derive(Debug, Default)]
struct DirectoryIndex {
    people: Vec<IndexedPerson>,
    groups: HashMap<GroupRef, u32>,
}

#[derive(Debug)]
struct IndexedPerson {
    id: String,
    provider_id: Arc<str>,
    external_id: String,
    email: String,
    email_verified: bool,
    display_name: String,
    /// Sorted interned group ids.
    groups: Vec<u32>,
}

struct IndexedFacts<'a> {
    person: &'a IndexedPerson,
    index: &'a DirectoryIndex,
}

impl Facts for IndexedFacts<'_> {
    fn provider_id(&self) -> Option<&str> {
        Some(&self.person.provider_id)
    }
    fn external_id(&self) -> Option<&str> {
        Some(&self.person.external_id)
    }
    fn email(&self) -> &str {
        &self.person.email
    }
    fn email_verified(&self) -> bool {
        self.person.email_verified
    }
    fn in_group(&self, group: &GroupRef) -> bool {
        self.index.groups.get(group).is_some_and(|id| self.person.groups.binary_search(id).is_ok())
    }
}

#[derive(Debug, Default)]
struct Shared {
    /// Bumped by every change: a snapshot built before it is stale.
    generation: AtomicU64,
    snapshot: RwLock<Option<(u64, Arc<Snapshot>)>>,
    directory: tokio::sync::Mutex<Option<(DirectoryStamp, Arc<DirectoryIndex>)>>,
}

/// Clones share the cached snapshot and directory: keep one service per process.
#[derive(Clone, Debug)]
pub struct PolicyService {
    store: Store,
    audit: Audit,
    shared: Arc<Shared>,
}

impl PolicyService {
    pub fn new(store: Store) -> Self {
        let audit = Audit::new(store.clone());
        Self { store, audit, shared: Arc::default() }
    }

    // ---------- applications ----------

    /// Every application, by name.
    pub async fn applications(&self) -> Result<Vec<Application>, PolicyError> {
        let rows = self.store.applications().await?;
        let mut hosts = hosts_by_app(self.store.application_hosts().await?);
        Ok(rows.into_iter().map(|r| application_from(r, &mut hosts)).collect())
    }

    pub async fn application(&self, id: &str) -> Result<Application, PolicyError> {
        let row = self.store.application(id).await?.ok_or(PolicyError::ApplicationNotFound)?;
        let mut hosts = hosts_by_app(self.store.hosts_of(id).await?);
        Ok(application_from(row, &mut hosts))
    }

    pub async fn create_application(
        &self,
        actor: &Actor,
        ip: Option<&str>,
        input: &ApplicationInput,
    ) -> Result<Application, PolicyError> {
        let input = validate::application(input)?;
        self.check_application(&input, None).await?;
        let now = now_ms();
        let row = ApplicationRow {
            id: new_id(),
            name: input.name.clone(),
            session_duration_minutes: i64::from(input.session_duration_minutes),
            created_at: now,
            updated_at: now,
        };
        let hosts = host_rows(&row.id, &input.hosts);
        let record = Event::new(actor.clone(), audit::Action::ApplicationCreated)
            .target(row.name.clone())
            .ip(ip)
            .detail("application_id", row.id.clone())
            .detail("hosts", hosts_detail(&input.hosts))
            .detail("session_duration_minutes", input.session_duration_minutes)
            .into_record();
        self.store
            .insert_application(NewApplication { row: &row, hosts: &hosts }, &record)
            .await
            .map_err(|e| conflict(e, &input))?;
        self.changed().await;
        Ok(Application {
            id: row.id,
            name: row.name,
            hosts: input.hosts,
            session_duration_minutes: input.session_duration_minutes,
            created_at: now,
            updated_at: now,
        })
    }

    pub async fn update_application(
        &self,
        actor: &Actor,
        ip: Option<&str>,
        id: &str,
        input: &ApplicationInput,
    ) -> Result<Application, PolicyError> {
        let before = self.application(id).await?;
        let input = validate::application(input)?;
        self.check_application(&input, Some(id)).await?;
        let now = now_ms();
        let row = ApplicationRow {
            id: id.to_string(),
            name: input.name.clone(),
            session_duration_minutes: i64::from(input.session_duration_minutes),
            created_at: before.created_at,
            updated_at: now,
        };
        let record = Event::new(actor.clone(), audit::Action::ApplicationUpdated)
            .target(row.name.clone())
            .ip(ip)
            .detail("application_id", id)
            .detail(
                "before",
                json!({"name": before.name, "hosts": hosts_detail(&before.hosts), "session_duration_minutes": before.session_duration_minutes}),
            )
            .detail(
                "after",
                json!({"name": input.name, "hosts": hosts_detail(&input.hosts), "session_duration_minutes": input.session_duration_minutes}),
            )
            .into_record();
        let updated = self
            .store
            .update_application(&row, &host_rows(id, &input.hosts), &record)
            .await
            .map_err(|e| conflict(e, &input))?;
        if !updated {
            return Err(PolicyError::ApplicationNotFound);
        }
        self.changed().await;
        Ok(Application {
            id: row.id,
            name: row.name,
            hosts: input.hosts,
            session_duration_minutes: input.session_duration_minutes,
            created_at: before.created_at,
            updated_at: now,
        })
    }

    /// Deletes the application with its policies.
    pub async fn delete_application(&self, actor: &Actor, ip: Option<&str>, id: &str) -> Result<(), PolicyError> {
        let app = self.application(id).await?;
        let policies = self.store.application_policies(id).await?;
        let record = Event::new(actor.clone(), audit::Action::ApplicationDeleted)
            .target(app.name.clone())
            .ip(ip)
            .detail("application_id", id)
            .detail("hosts", hosts_detail(&app.hosts))
            .detail("policies_deleted", policies.len())
            .detail("policies", policies.iter().map(|p| p.name.clone()).collect::<Vec<_>>())
            .into_record();
        if !self.store.delete_application(id, &record).await? {
            return Err(PolicyError::ApplicationNotFound);
        }
        self.changed().await;
        Ok(())
    }

    /// Name free, and no host and prefix of another application's.
    async fn check_application(&self, input: &ApplicationInput, id: Option<&str>) -> Result<(), PolicyError> {
        if let Some(other) = self.store.application_by_name(&input.name).await? {
            if Some(other.id.as_str()) != id {
                return Err(PolicyError::ApplicationNameTaken(input.name.clone()));
            }
        }
        let taken: HashMap<(String, String), String> = self
            .store
            .application_hosts()
            .await?
            .into_iter()
            .filter(|h| Some(h.application_id.as_str()) != id)
            .map(|h| ((h.hostname, h.path_prefix), h.application_id))
            .collect();
        for h in &input.hosts {
            if let Some(owner) = taken.get(&(h.hostname.clone(), h.path_prefix.clone())) {
                let application = self.store.application(owner).await?.map(|a| a.name).unwrap_or_else(|| owner.clone());
                return Err(PolicyError::HostTaken { host: h.display(), application });
            }
        }
        Ok(())
    }

    // ---------- policies ----------

    /// The application's policies by position.
    pub async fn policies(&self, application_id: &str) -> Result<Vec<Policy>, PolicyError> {
        self.store.application(application_id).await?.ok_or(PolicyError::ApplicationNotFound)?;
        Ok(self.store.application_policies(application_id).await?.into_iter().map(policy_from).collect())
    }

    /// The application's policies by position, with current group and user names.
    pub async fn policy_views(&self, application_id: &str) -> Result<Vec<PolicyView>, PolicyError> {
        let policies = self.policies(application_id).await?;
        let labels = self.labels(policies.iter().flat_map(|p| p.rules.selectors())).await?;
        let views = |list: &[Selector]| list.iter().map(|s| labels.view(s)).collect();
        Ok(policies
            .into_iter()
            .map(|p| PolicyView {
                include: views(&p.rules.include),
                require: views(&p.rules.require),
                exclude: views(&p.rules.exclude),
                policy: p,
            })
            .collect())
    }

    pub async fn policy(&self, id: &str) -> Result<Policy, PolicyError> {
        self.store.policy(id).await?.map(policy_from).ok_or(PolicyError::PolicyNotFound)
    }

    /// Adds a policy after the application's last one.
    pub async fn create_policy(
        &self,
        actor: &Actor,
        ip: Option<&str>,
        application_id: &str,
        input: &PolicyInput,
    ) -> Result<Policy, PolicyError> {
        let app = self.store.application(application_id).await?.ok_or(PolicyError::ApplicationNotFound)?;
        let input = validate::policy(input)?;
        let existing = self.store.application_policies(application_id).await?;
        if existing.len() >= MAX_POLICIES {
            return Err(PolicyError::TooManyPolicies);
        }
        if existing.iter().any(|p| p.name.eq_ignore_ascii_case(&input.name)) {
            return Err(PolicyError::PolicyNameTaken(input.name.clone()));
        }
        self.check_references(&input.rules, &HashSet::new(), &HashMap::new()).await?;
        let now = now_ms();
        let mut policy = Policy {
            id: new_id(),
            application_id: application_id.to_string(),
            position: 0,
            name: input.name,
            action: input.action,
            rules: input.rules,
            enabled: input.enabled,
            created_at: now,
            updated_at: now,
        };
        let record = Event::new(actor.clone(), audit::Action::PolicyCreated)
            .target(policy.name.clone())
            .ip(ip)
            .detail("application_id", app.id)
            .detail("application", app.name)
            .detail("policy_id", policy.id.clone())
            .detail("policy", policy_detail(&policy))
            .into_record();
        let position = self.store.insert_policy(&policy_row(&policy), &record).await?;
        policy.position = u32::try_from(position).unwrap_or(u32::MAX);
        self.changed().await;
        Ok(policy)
    }

    /// Changes name, action, rules and whether it is enabled. Groups and users already in
    /// the policy are kept even if gone from the directory (so a policy can still be
    /// disabled or renamed); new ones must exist.
    pub async fn update_policy(
        &self,
        actor: &Actor,
        ip: Option<&str>,
        id: &str,
        input: &PolicyInput,
    ) -> Result<Policy, PolicyError> {
        let before = self.policy(id).await?;
        let input = validate::policy(input)?;
        let siblings = self.store.application_policies(&before.application_id).await?;
        if siblings.iter().any(|p| p.id != id && p.name.eq_ignore_ascii_case(&input.name)) {
            return Err(PolicyError::PolicyNameTaken(input.name.clone()));
        }
        let known: HashSet<Selector> = before.rules.selectors().cloned().collect();
        self.check_references(&input.rules, &known, &HashMap::new()).await?;
        let app_name = self.store.application(&before.application_id).await?.map(|a| a.name).unwrap_or_default();
        let after = Policy {
            name: input.name,
            action: input.action,
            rules: input.rules,
            enabled: input.enabled,
            updated_at: now_ms(),
            ..before.clone()
        };
        let record = Event::new(actor.clone(), audit::Action::PolicyUpdated)
            .target(after.name.clone())
            .ip(ip)
            .detail("application_id", after.application_id.clone())
            .detail("application", app_name)
            .detail("policy_id", id)
            .detail("before", policy_detail(&before))
            .detail("after", policy_detail(&after))
            .into_record();
        if !self.store.update_policy(&policy_row(&after), &record).await? {
            return Err(PolicyError::PolicyNotFound);
        }
        self.changed().await;
        Ok(after)
    }

    pub async fn delete_policy(&self, actor: &Actor, ip: Option<&str>, id: &str) -> Result<(), PolicyError> {
        let policy = self.policy(id).await?;
        let app_name = self.store.application(&policy.application_id).await?.map(|a| a.name).unwrap_or_default();
        let record = Event::new(actor.clone(), audit::Action::PolicyDeleted)
            .target(policy.name.clone())
            .ip(ip)
            .detail("application_id", policy.application_id.clone())
            .detail("application", app_name)
            .detail("policy_id", id)
            .detail("policy", policy_detail(&policy))
            .into_record();
        if !self.store.delete_policy(id, &record).await? {
            return Err(PolicyError::PolicyNotFound);
        }
        self.changed().await;
        Ok(())
    }

    /// Moves a policy one place up or down; at either end nothing changes. Returns the new order.
    pub async fn move_policy(
        &self,
        actor: &Actor,
        ip: Option<&str>,
        id: &str,
        to: Move,
    ) -> Result<Vec<Policy>, PolicyError> {
        let policy = self.policy(id).await?;
        let mut ids: Vec<String> = self.policies(&policy.application_id).await?.into_iter().map(|p| p.id).collect();
        let at = ids.iter().position(|p| p == id).ok_or(PolicyError::PolicyNotFound)?;
        let other = match to {
            Move::Up if at > 0 => at - 1,
            Move::Down if at + 1 < ids.len() => at + 1,
            _ => return self.policies(&policy.application_id).await,
        };
        ids.swap(at, other);
        self.reorder_policies(actor, ip, &policy.application_id, &ids).await
    }

    /// Sets the full order: `ids` must list each of the application's policies once.
    pub async fn reorder_policies(
        &self,
        actor: &Actor,
        ip: Option<&str>,
        application_id: &str,
        ids: &[String],
    ) -> Result<Vec<Policy>, PolicyError> {
        let app = self.store.application(application_id).await?.ok_or(PolicyError::ApplicationNotFound)?;
        let current = self.store.application_policies(application_id).await?;
        let given: HashSet<&str> = ids.iter().map(String::as_str).collect();
        let have: HashSet<&str> = current.iter().map(|p| p.id.as_str()).collect();
        if given.len() != ids.len() || given != have {
            return Err(PolicyError::BadOrder);
        }
        let names: HashMap<&str, &str> = current.iter().map(|p| (p.id.as_str(), p.name.as_str())).collect();
        let record = Event::new(actor.clone(), audit::Action::PoliciesReordered)
            .target(app.name.clone())
            .ip(ip)
            .detail("application_id", application_id)
            .detail("before", current.iter().map(|p| p.name.clone()).collect::<Vec<_>>())
            .detail(
                "after",
                ids.iter().map(|id| names.get(id.as_str()).copied().unwrap_or_default()).collect::<Vec<_>>(),
            )
            .into_record();
        if !self.store.set_policy_order(application_id, ids, &record).await? {
            return Err(PolicyError::BadOrder);
        }
        self.changed().await;
        self.policies(application_id).await
    }

    /// Groups, users and providers named by the rules exist, except those in `known`.
    /// `hints` name groups for the error (from an import's references).
    async fn check_references(
        &self,
        rules: &Rules,
        known: &HashSet<Selector>,
        hints: &HashMap<Selector, String>,
    ) -> Result<(), PolicyError> {
        let fresh: Vec<&Selector> = rules.selectors().filter(|s| !known.contains(*s)).collect();
        let group_ids: Vec<String> = fresh
            .iter()
            .filter_map(|s| match s {
                Selector::Group(g) => Some(g.external_id.clone()),
                _ => None,
            })
            .collect();
        let user_ids: Vec<String> = fresh
            .iter()
            .filter_map(|s| match s {
                Selector::User(u) => Some(u.external_id.clone()),
                _ => None,
            })
            .collect();
        let groups: HashSet<(String, String)> = if group_ids.is_empty() {
            HashSet::new()
        } else {
            self.store
                .groups_by_external_ids(&group_ids)
                .await?
                .into_iter()
                .map(|g| (g.provider_id, g.external_id))
                .collect()
        };
        let people: HashSet<(String, String)> = if user_ids.is_empty() {
            HashSet::new()
        } else {
            self.store
                .people_by_external_ids(&user_ids)
                .await?
                .into_iter()
                .map(|p| (p.provider_id, p.external_id))
                .collect()
        };
        let providers: HashSet<String> = if fresh.iter().any(|s| matches!(s, Selector::IdentityProvider { .. })) {
            self.store.provider_names().await?.into_iter().map(|(id, _)| id).collect()
        } else {
            HashSet::new()
        };
        for s in fresh {
            match s {
                Selector::Group(g) if !groups.contains(&(g.provider_id.clone(), g.external_id.clone())) => {
                    return Err(PolicyError::UnknownGroup {
                        external_id: g.external_id.clone(),
                        hint: hints.get(s).cloned(),
                    });
                }
                Selector::User(u) if !people.contains(&(u.provider_id.clone(), u.external_id.clone())) => {
                    return Err(PolicyError::UnknownUser { external_id: u.external_id.clone() });
                }
                Selector::IdentityProvider { provider_id } if !providers.contains(provider_id) => {
                    return Err(PolicyError::UnknownProvider(provider_id.clone()));
                }
                _ => {}
            }
        }
        Ok(())
    }

    // ---------- labels and pickers ----------

    /// Current labels for these selectors, in a few queries.
    pub async fn labels<'a>(&self, selectors: impl IntoIterator<Item = &'a Selector>) -> Result<Labels, PolicyError> {
        let selectors: HashSet<&Selector> = selectors.into_iter().collect();
        let mut group_ids = Vec::new();
        let mut user_ids = Vec::new();
        let mut wants_providers = false;
        for s in &selectors {
            match s {
                Selector::Group(g) => group_ids.push(g.external_id.clone()),
                Selector::User(u) => user_ids.push(u.external_id.clone()),
                Selector::IdentityProvider { .. } => wants_providers = true,
                _ => {}
            }
        }
        let groups: HashMap<(String, String), String> = if group_ids.is_empty() {
            HashMap::new()
        } else {
            let rows = self.store.groups_by_external_ids(&group_ids).await?;
            rows.into_iter().map(|g| ((g.provider_id, g.external_id), g.name)).collect()
        };
        let people: HashMap<(String, String), PersonRow> = if user_ids.is_empty() {
            HashMap::new()
        } else {
            let rows = self.store.people_by_external_ids(&user_ids).await?;
            rows.into_iter().map(|p| ((p.provider_id.clone(), p.external_id.clone()), p)).collect()
        };
        let providers: HashMap<String, String> =
            if wants_providers { self.store.provider_names().await?.into_iter().collect() } else { HashMap::new() };
        let mut map = HashMap::with_capacity(selectors.len());
        for s in selectors {
            let entry = match s {
                Selector::Group(g) => match groups.get(&(g.provider_id.clone(), g.external_id.clone())) {
                    Some(name) => (name.clone(), false),
                    None => ("(group no longer in the directory)".to_string(), true),
                },
                Selector::User(u) => match people.get(&(u.provider_id.clone(), u.external_id.clone())) {
                    Some(p) if p.display_name.is_empty() => (p.email.clone(), false),
                    Some(p) => (format!("{} <{}>", p.display_name, p.email), false),
                    None => ("(user no longer in the directory)".to_string(), true),
                },
                Selector::IdentityProvider { provider_id } => match providers.get(provider_id) {
                    Some(name) => (name.clone(), false),
                    None => ("(identity provider deleted)".to_string(), true),
                },
                other => (own_label(other), false),
            };
            map.insert(s.clone(), entry);
        }
        Ok(Labels { map })
    }

    /// One selector's current label.
    pub async fn describe(&self, selector: &Selector) -> Result<String, PolicyError> {
        Ok(self.labels([selector]).await?.label(selector))
    }

    /// Groups whose name contains `search` (or whose id is `search`), for the group picker.
    pub async fn search_groups(&self, search: &str, limit: u32) -> Result<Vec<GroupOption>, PolicyError> {
        Ok(self
            .store
            .search_group_labels(search, limit)
            .await?
            .into_iter()
            .map(|g| GroupOption {
                selector: Selector::Group(GroupRef { provider_id: g.provider_id, external_id: g.external_id }),
                name: g.name,
                provider_name: g.provider_name,
                kind: g.kind,
            })
            .collect())
    }

    /// Active directory users by name, email or login, for the user picker and "Test a user".
    pub async fn search_users(&self, search: &str, limit: u32) -> Result<Vec<UserOption>, PolicyError> {
        let q = DirectoryQuery {
            search: Some(search.to_string()),
            state: Some("active".into()),
            limit: limit.clamp(1, 500),
            ..Default::default()
        };
        Ok(self
            .store
            .directory_users(&q)
            .await?
            .items
            .into_iter()
            .map(|u| UserOption {
                directory_user_id: u.id,
                selector: Selector::User(UserRef { provider_id: u.provider_id, external_id: u.external_id }),
                email: u.email,
                display_name: u.display_name,
                provider_name: u.provider_name,
            })
            .collect())
    }

    /// Identity providers as (id, name), for the provider picker.
    pub async fn providers(&self) -> Result<Vec<(String, String)>, PolicyError> {
        Ok(self.store.provider_names().await?)
    }

    // ---------- preview and test ----------

    /// Who a draft's rules match among active directory users (its action does not matter).
    /// An incomplete draft is not refused: an empty Include matches no one.
    pub async fn preview(&self, application_id: &str, draft: &Rules) -> Result<Preview, PolicyError> {
        self.store.application(application_id).await?.ok_or(PolicyError::ApplicationNotFound)?;
        let rules = validate::draft_rules(draft);
        let index = self.directory_index().await?;
        let mut matched = 0;
        let mut users = Vec::new();
        for person in &index.people {
            if rules.matches(&IndexedFacts { person, index: &index }) {
                matched += 1;
                if users.len() < PREVIEW_LIST {
                    users.push(PreviewUser {
                        id: person.id.clone(),
                        email: person.email.clone(),
                        display_name: person.display_name.clone(),
                    });
                }
            }
        }
        Ok(Preview { matched, total: index.people.len(), users })
    }

    /// The decision for a directory user on an application, with every policy's reason.
    pub async fn test_user(&self, directory_user_id: &str, application_id: &str) -> Result<Decision, PolicyError> {
        let person = self.store.person(directory_user_id).await?.ok_or(PolicyError::UserNotFound)?;
        let subject = self.subject_of(&person).await?;
        let snapshot = self.snapshot().await?;
        let app = snapshot.application(application_id).ok_or(PolicyError::ApplicationNotFound)?;
        let labels = self.labels(app.policies().iter().flat_map(|p| p.rules.selectors())).await?;
        let mut decision = app.explain(&subject, &|s| labels.phrase(s));
        if person.state != "active" {
            decision.summary.push_str(&format!(" (This user is {} in the directory.)", person.state));
        }
        Ok(decision)
    }

    /// The subject for a person of the synced directory, by provider and the provider's id
    /// (the ID token's `sub`), with their groups (Everyone included). `None`: not in the directory.
    pub async fn subject_for(&self, provider_id: &str, external_id: &str) -> Result<Option<Subject>, PolicyError> {
        Ok(self.directory_subject(provider_id, external_id).await?.map(|(subject, _)| subject))
    }

    /// The same, with whether the directory still has the person in good standing (not
    /// removed, deactivated or suspended): forward auth refuses them when not.
    pub async fn directory_subject(
        &self,
        provider_id: &str,
        external_id: &str,
    ) -> Result<Option<(Subject, bool)>, PolicyError> {
        match self.store.person_by_external(provider_id, external_id).await? {
            Some(person) => Ok(Some((self.subject_of(&person).await?, person.in_good_standing()))),
            None => Ok(None),
        }
    }

    /// The same, by the directory user's row id.
    pub async fn subject_for_directory_user(&self, id: &str) -> Result<Option<Subject>, PolicyError> {
        match self.store.person(id).await? {
            Some(person) => Ok(Some(self.subject_of(&person).await?)),
            None => Ok(None),
        }
    }

    async fn subject_of(&self, person: &PersonRow) -> Result<Subject, PolicyError> {
        let groups = self.store.person_group_keys(&person.id).await?;
        Ok(Subject::new(
            Some(person.provider_id.clone()),
            Some(person.external_id.clone()),
            &person.email,
            groups.into_iter().map(|(provider_id, external_id)| GroupRef { provider_id, external_id }),
        )
        .with_verified_email(person.email_verified))
    }

    /// The active directory, rebuilt only when it changed since the last preview.
    async fn directory_index(&self) -> Result<Arc<DirectoryIndex>, PolicyError> {
        let mut slot = self.shared.directory.lock().await;
        let stamp = self.store.directory_stamp().await?;
        if let Some((cached, index)) = slot.as_ref() {
            if *cached == stamp {
                return Ok(index.clone());
            }
        }
        let index = Arc::new(self.load_directory().await?);
        *slot = Some((stamp, index.clone()));
        Ok(index)
    }

    async fn load_directory(&self) -> Result<DirectoryIndex, PolicyError> {
        let mut providers: HashMap<String, Arc<str>> = HashMap::new();
        let rows = self.store.active_people().await?;
        let mut by_id: HashMap<String, usize> = HashMap::with_capacity(rows.len());
        let mut index = DirectoryIndex { people: Vec::with_capacity(rows.len()), groups: HashMap::new() };
        for r in rows {
            let provider_id =
                providers.entry(r.provider_id.clone()).or_insert_with(|| Arc::from(r.provider_id.as_str())).clone();
            by_id.insert(r.id.clone(), index.people.len());
            index.people.push(IndexedPerson {
                id: r.id,
                provider_id,
                external_id: r.external_id,
                email: r.email,
                email_verified: r.email_verified,
                display_name: r.display_name,
                groups: Vec::new(),
            });
        }
        let DirectoryIndex { people, groups } = &mut index;
        let intern = |groups: &mut HashMap<GroupRef, u32>, g: GroupRef| {
            let next = u32::try_from(groups.len()).unwrap_or(u32::MAX);
            *groups.entry(g).or_insert(next)
        };
        self.store
            .for_each_active_membership(|user_id, provider_id, external_id| {
                if let Some(&i) = by_id.get(&user_id) {
                    let id = intern(groups, GroupRef { provider_id, external_id });
                    people[i].groups.push(id);
                }
            })
            .await?;
        // Built-in groups (Everyone) hold every user of their provider without stored memberships.
        for (provider_id, external_id) in self.store.builtin_groups().await? {
            let id = intern(groups, GroupRef { provider_id: provider_id.clone(), external_id });
            for p in people.iter_mut().filter(|p| *p.provider_id == *provider_id) {
                p.groups.push(id);
            }
        }
        for p in people.iter_mut() {
            p.groups.sort_unstable();
            p.groups.dedup();
        }
        Ok(index)
    }

    // ---------- export and import ----------

    /// The application and its policies as a versioned document.
    pub async fn export(&self, application_id: &str) -> Result<PolicyDocument, PolicyError> {
        let app = self.application(application_id).await?;
        let policies = self.policies(application_id).await?;
        let labels = self.labels(policies.iter().flat_map(|p| p.rules.selectors())).await?;
        let mut seen = HashSet::new();
        let references = policies
            .iter()
            .flat_map(|p| p.rules.selectors())
            .filter(|s| matches!(s, Selector::Group(_) | Selector::User(_) | Selector::IdentityProvider { .. }))
            .filter(|s| seen.insert((*s).clone()))
            .map(|s| Reference { selector: s.clone(), label: labels.label(s) })
            .collect();
        Ok(PolicyDocument {
            exported_at: Some(now_ms()),
            references,
            ..PolicyDocument::new(
                Some(ApplicationInput {
                    name: app.name,
                    hosts: app.hosts,
                    session_duration_minutes: app.session_duration_minutes,
                }),
                policies
                    .into_iter()
                    .map(|p| PolicyInput { name: p.name, action: p.action, rules: p.rules, enabled: p.enabled })
                    .collect(),
            )
        })
    }

    /// Checks the whole document first, then applies it in one transaction: a bad file changes nothing.
    pub async fn import(
        &self,
        actor: &Actor,
        ip: Option<&str>,
        target: &ImportTarget,
        doc: &PolicyDocument,
        mode: ImportMode,
    ) -> Result<ImportResult, PolicyError> {
        doc.check_header()?;
        let (application_id, new_app, app_name) = match target {
            ImportTarget::Existing(id) => {
                let row = self.store.application(id).await?.ok_or(PolicyError::ApplicationNotFound)?;
                (row.id, None, row.name)
            }
            ImportTarget::New => {
                let input = doc.application.as_ref().ok_or(PolicyError::ImportNeedsApplication)?;
                let input = validate::application(input).map_err(|e| PolicyError::ImportApplication(Box::new(e)))?;
                self.check_application(&input, None).await.map_err(|e| match e {
                    PolicyError::Store(e) => PolicyError::Store(e),
                    other => PolicyError::ImportApplication(Box::new(other)),
                })?;
                let now = now_ms();
                let row = ApplicationRow {
                    id: new_id(),
                    name: input.name.clone(),
                    session_duration_minutes: i64::from(input.session_duration_minutes),
                    created_at: now,
                    updated_at: now,
                };
                (row.id.clone(), Some((row, input.hosts)), input.name)
            }
        };
        let existing = match (&new_app, mode) {
            (None, ImportMode::Append) => self.store.application_policies(&application_id).await?,
            _ => Vec::new(),
        };
        if existing.len() + doc.policies.len() > MAX_POLICIES {
            return Err(PolicyError::TooManyPolicies);
        }
        let hints: HashMap<Selector, String> =
            doc.references.iter().map(|r| (r.selector.clone(), r.label.clone())).collect();
        let mut names: HashSet<String> = existing.iter().map(|p| p.name.to_lowercase()).collect();
        let now = now_ms();
        let mut rows = Vec::with_capacity(doc.policies.len());
        for (index, input) in doc.policies.iter().enumerate() {
            let wrap = |e: PolicyError| match e {
                PolicyError::Store(e) => PolicyError::Store(e),
                other => PolicyError::ImportPolicy { index, name: input.name.clone(), source: Box::new(other) },
            };
            let input = validate::policy(input).map_err(wrap)?;
            if !names.insert(input.name.to_lowercase()) {
                return Err(wrap(PolicyError::PolicyNameTaken(input.name)));
            }
            self.check_references(&input.rules, &HashSet::new(), &hints).await.map_err(wrap)?;
            rows.push(policy_row(&Policy {
                id: new_id(),
                application_id: application_id.clone(),
                position: 0,
                name: input.name,
                action: input.action,
                rules: input.rules,
                enabled: input.enabled,
                created_at: now,
                updated_at: now,
            }));
        }
        let record = Event::new(actor.clone(), audit::Action::PoliciesImported)
            .target(app_name)
            .ip(ip)
            .detail("application_id", application_id.clone())
            .detail("created_application", new_app.is_some())
            .detail(
                "mode",
                match mode {
                    ImportMode::Replace => "replace",
                    ImportMode::Append => "append",
                },
            )
            .detail("policies", rows.iter().map(|r| r.name.clone()).collect::<Vec<_>>())
            .into_record();
        let host_rows_new = new_app.as_ref().map(|(row, hosts)| (row, host_rows(&row.id, hosts)));
        let replaced = self
            .store
            .import_policies(
                host_rows_new.as_ref().map(|(row, hosts)| NewApplication { row, hosts }),
                &application_id,
                mode == ImportMode::Replace,
                &rows,
                &record,
            )
            .await
            .map_err(|e| match (&new_app, e) {
                (Some((row, _)), StoreError::Conflict(_)) => {
                    PolicyError::ImportApplication(Box::new(PolicyError::ApplicationNameTaken(row.name.clone())))
                }
                (_, e) => PolicyError::Store(e),
            })?;
        self.changed().await;
        Ok(ImportResult { application_id, created_application: new_app.is_some(), imported: rows.len(), replaced })
    }

    // ---------- forward auth ----------

    /// Every application and policy, compiled. Cached: rebuilt after each change made
    /// through this service (or a clone of it), never per decision.
    pub async fn snapshot(&self) -> Result<Arc<Snapshot>, PolicyError> {
        let generation = self.shared.generation.load(Ordering::Acquire);
        if let Some((built, snapshot)) = self.shared.snapshot.read().unwrap_or_else(PoisonError::into_inner).as_ref() {
            if *built == generation {
                return Ok(snapshot.clone());
            }
        }
        let snapshot = Arc::new(self.build_snapshot().await?);
        let mut slot = self.shared.snapshot.write().unwrap_or_else(PoisonError::into_inner);
        // A build that started before a later change must not replace a newer one.
        if slot.as_ref().is_none_or(|(built, _)| *built <= generation) {
            *slot = Some((generation, snapshot.clone()));
        }
        Ok(snapshot)
    }

    async fn build_snapshot(&self) -> Result<Snapshot, PolicyError> {
        let rows = self.store.applications().await?;
        let mut hosts = hosts_by_app(self.store.application_hosts().await?);
        let apps = rows.into_iter().map(|r| application_from(r, &mut hosts)).collect();
        let policies = self.store.all_policies().await?.into_iter().map(policy_from).collect();
        Ok(Snapshot::build(apps, policies))
    }

    /// Marks the snapshot stale and rebuilds it now, so forward auth does not wait for it.
    async fn changed(&self) {
        self.shared.generation.fetch_add(1, Ordering::AcqRel);
        if let Err(e) = self.snapshot().await {
            tracing::error!(error = %e, "could not rebuild the policy snapshot; the next decision retries");
        }
    }

    /// Records a forward-auth decision (`access.allowed` or `access.blocked`); the caller
    /// decides which decisions are worth a row.
    pub async fn record_access(
        &self,
        verdict: &Verdict<'_>,
        who: &Subject,
        host: &str,
        path: &str,
        ip: Option<&str>,
        suppressed: u64,
    ) {
        let action = if verdict.permits() { audit::Action::AccessAllowed } else { audit::Action::AccessBlocked };
        let mut event = Event::new(Actor::Anonymous, action)
            .target(who.email.clone())
            .ip(ip)
            .detail("application_id", verdict.application.id.clone())
            .detail("application", verdict.application.name.clone())
            .detail("outcome", serde_json::to_value(verdict.outcome).unwrap_or(Value::Null))
            .detail("host", clip(host, AUDIT_TEXT_MAX))
            .detail("path", clip(path, AUDIT_TEXT_MAX));
        if let Some(p) = verdict.policy {
            event = event.detail("policy_id", p.id.clone()).detail("policy", p.name.clone());
        }
        if !verdict.permits() {
            event = event.failed();
        }
        if suppressed > 0 {
            event = event.detail("and_more", format!("and {suppressed} more denials in the minute before"));
        }
        self.audit.record_or_log(event).await;
    }

    /// A refusal because the directory removed, deactivated or suspended the person.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_removed_access(
        &self,
        who: &Subject,
        application_id: &str,
        application_name: &str,
        host: &str,
        path: &str,
        ip: Option<&str>,
        suppressed: u64,
    ) {
        let mut event = Event::new(Actor::Anonymous, audit::Action::AccessBlocked)
            .target(who.email.clone())
            .ip(ip)
            .failed()
            .detail("application_id", application_id)
            .detail("application", application_name)
            .detail("outcome", "block")
            .detail("reason", "removed, deactivated or suspended in the directory")
            .detail("host", clip(host, AUDIT_TEXT_MAX))
            .detail("path", clip(path, AUDIT_TEXT_MAX));
        if suppressed > 0 {
            event = event.detail("and_more", format!("and {suppressed} more denials in the minute before"));
        }
        self.audit.record_or_log(event).await;
    }
}

/// Request text kept in an access audit row: enough to recognise, not a way to fill the log.
const AUDIT_TEXT_MAX: usize = 512;

fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

fn hosts_by_app(rows: Vec<HostRow>) -> HashMap<String, Vec<HostRule>> {
    let mut map: HashMap<String, Vec<HostRule>> = HashMap::new();
    for h in rows {
        map.entry(h.application_id).or_default().push(HostRule { hostname: h.hostname, path_prefix: h.path_prefix });
    }
    map
}

fn application_from(row: ApplicationRow, hosts: &mut HashMap<String, Vec<HostRule>>) -> Application {
    Application {
        hosts: hosts.remove(&row.id).unwrap_or_default(),
        id: row.id,
        name: row.name,
        session_duration_minutes: u32::try_from(row.session_duration_minutes)
            .unwrap_or(validate::DEFAULT_SESSION_MINUTES),
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

fn host_rows(application_id: &str, hosts: &[HostRule]) -> Vec<HostRow> {
    hosts
        .iter()
        .map(|h| HostRow {
            application_id: application_id.to_string(),
            hostname: h.hostname.clone(),
            path_prefix: h.path_prefix.clone(),
        })
        .collect()
}

/// A stored policy. One that cannot be read (edited by hand in the database) blocks
/// everyone: failing closed beats skipping what may have been a Block.
fn policy_from(row: PolicyRow) -> Policy {
    let action = Action::parse(&row.action);
    let rules = serde_json::from_str::<Rules>(&row.rules);
    let (name, action, rules) = match (action, rules) {
        (Some(action), Ok(rules)) => (row.name, action, rules),
        (action, rules) => {
            tracing::error!(policy_id = %row.id, action = ?action, rules_ok = rules.is_ok(), "unreadable policy: it blocks everyone");
            (
                format!("{} (unreadable: blocks everyone)", row.name),
                Action::Block,
                Rules { include: vec![Selector::Everyone], ..Default::default() },
            )
        }
    };
    Policy {
        id: row.id,
        application_id: row.application_id,
        position: u32::try_from(row.position).unwrap_or(u32::MAX),
        name,
        action,
        rules,
        enabled: row.enabled,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

fn policy_row(p: &Policy) -> PolicyRow {
    PolicyRow {
        id: p.id.clone(),
        application_id: p.application_id.clone(),
        position: i64::from(p.position),
        name: p.name.clone(),
        action: p.action.as_str().into(),
        // Plain data with string keys: serialising cannot fail.
        rules: serde_json::to_string(&p.rules).unwrap_or_default(),
        enabled: p.enabled,
        created_at: p.created_at,
        updated_at: p.updated_at,
    }
}

fn hosts_detail(hosts: &[HostRule]) -> Vec<String> {
    hosts.iter().map(HostRule::display).collect()
}

/// A policy for the audit log: what it does and to whom (ids, emails, domains; no secrets exist here).
fn policy_detail(p: &Policy) -> Value {
    json!({"name": p.name, "action": p.action.as_str(), "enabled": p.enabled, "position": p.position + 1, "rules": p.rules})
}

/// A unique index refused the write (a concurrent change since the checks).
fn conflict(e: StoreError, input: &ApplicationInput) -> PolicyError {
    match e {
        StoreError::Conflict(what) if what.contains("hostname") => PolicyError::HostTaken {
            host: hosts_detail(&input.hosts).join(", "),
            application: "another application".into(),
        },
        StoreError::Conflict(_) => PolicyError::ApplicationNameTaken(input.name.clone()),
        other => PolicyError::Store(other),
    }
}
