//! The org's directory, indexed for paging: users and groups in `BTreeMap`s keyed by id
//! (the `after` cursor is the last id of a page), memberships in both directions.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use regex::Regex;
use serde_json::{Map, Value};

use crate::fixture::{AuthServerDef, ClientAuthMethod, Fixture, GroupDef, GroupType, OrgDef, UserDef, UserStatus};
use crate::util::{okta_id, parse_ts};
use crate::SimError;

#[derive(Clone, Debug)]
pub(crate) struct User {
    pub id: String,
    pub status: UserStatus,
    pub created: i64,
    pub activated: Option<i64>,
    pub status_changed: Option<i64>,
    pub last_login: Option<i64>,
    pub last_updated: i64,
    pub password_changed: Option<i64>,
    pub profile: Map<String, Value>,
    pub password: Option<String>,
}

impl User {
    pub fn login(&self) -> &str {
        self.profile.get("login").and_then(Value::as_str).unwrap_or_default()
    }
    pub fn profile_str(&self, key: &str) -> Option<&str> {
        self.profile.get(key).and_then(Value::as_str)
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Group {
    pub id: String,
    pub group_type: GroupType,
    pub created: i64,
    pub last_updated: i64,
    pub last_membership_updated: i64,
    pub profile: Map<String, Value>,
    pub source: Option<String>,
}

impl Group {
    pub fn name(&self) -> &str {
        self.profile.get("name").and_then(Value::as_str).unwrap_or_default()
    }
}

#[derive(Clone, Debug)]
pub(crate) struct OidcApp {
    pub client_id: String,
    pub label: String,
    pub client_secret: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub auth_method: ClientAuthMethod,
    pub pkce_required: bool,
    pub groups_claim: Option<(String, Regex)>,
    pub dpop_bound: bool,
    pub refresh_token_rotation: bool,
    pub jwks: Vec<Value>,
}

#[derive(Clone, Debug)]
pub(crate) struct ServiceApp {
    pub client_id: String,
    pub jwks: Vec<Value>,
    pub granted_scopes: Vec<String>,
    pub dpop_required: bool,
    pub admin_role: bool,
    pub auth_method: ClientAuthMethod,
    pub client_secret: Option<String>,
}

/// Either kind of client, as the token endpoint sees it.
#[derive(Clone, Debug)]
pub(crate) enum Client {
    Oidc(OidcApp),
    Service(ServiceApp),
}

impl Client {
    pub fn id(&self) -> &str {
        match self {
            Client::Oidc(a) => &a.client_id,
            Client::Service(a) => &a.client_id,
        }
    }
    pub fn auth_method(&self) -> ClientAuthMethod {
        match self {
            Client::Oidc(a) => a.auth_method,
            Client::Service(a) => a.auth_method,
        }
    }
    pub fn secret(&self) -> Option<&str> {
        match self {
            Client::Oidc(a) => a.client_secret.as_deref(),
            Client::Service(a) => a.client_secret.as_deref(),
        }
    }
    pub fn jwks(&self) -> &[Value] {
        match self {
            Client::Oidc(a) => &a.jwks,
            Client::Service(a) => &a.jwks,
        }
    }
    pub fn grant_types(&self) -> Vec<String> {
        match self {
            Client::Oidc(a) => a.grant_types.clone(),
            Client::Service(_) => vec!["client_credentials".to_owned()],
        }
    }
    pub fn dpop_required(&self) -> bool {
        match self {
            Client::Oidc(a) => a.dpop_bound,
            Client::Service(a) => a.dpop_required,
        }
    }
}

pub(crate) struct Store {
    pub org: OrgDef,
    pub users: BTreeMap<String, User>,
    /// Lower-cased login → id.
    logins: HashMap<String, String>,
    /// Lower-cased login short name → id, or `None` when ambiguous.
    short_logins: HashMap<String, Option<String>>,
    pub groups: BTreeMap<String, Group>,
    /// Group → members, for every group but Everyone (which holds all users).
    members: HashMap<String, BTreeSet<String>>,
    /// User → groups, Everyone excluded.
    user_groups: HashMap<String, BTreeSet<String>>,
    pub everyone_id: String,
    pub oidc_apps: BTreeMap<String, OidcApp>,
    pub service_apps: BTreeMap<String, ServiceApp>,
    /// App → directly assigned users (user id → assigned at).
    app_users: HashMap<String, BTreeMap<String, i64>>,
    /// App → assigned groups (group id → assigned at).
    app_groups: HashMap<String, BTreeMap<String, i64>>,
    pub api_tokens: HashMap<String, String>,
    pub auth_servers: BTreeMap<String, AuthServerDef>,
}

fn ts(field: &str, id: &str, s: &str) -> Result<i64, SimError> {
    parse_ts(s).ok_or_else(|| SimError::Fixture(format!("{id}: {field} is not an ISO 8601 timestamp: {s}")))
}

fn opt_ts(field: &str, id: &str, s: &Option<String>) -> Result<Option<i64>, SimError> {
    s.as_deref().map(|s| ts(field, id, s)).transpose()
}

fn key_list(jwks: &Value, who: &str) -> Result<Vec<Value>, SimError> {
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| SimError::Fixture(format!("{who}: jwks must be {{\"keys\":[…]}}")))?;
    for k in keys {
        serde_json::from_value::<jsonwebtoken::jwk::Jwk>(k.clone())
            .map_err(|e| SimError::Fixture(format!("{who}: a jwks key is not a valid JWK: {e}")))?;
        if k.get("d").is_some() {
            return Err(SimError::Fixture(format!("{who}: jwks must hold public keys only")));
        }
    }
    Ok(keys.clone())
}

impl Store {
    pub fn from_fixture(f: &Fixture) -> Result<Store, SimError> {
        let org_created = ts("org.created", &f.org.id, &f.org.created)?;
        let mut store = Store {
            org: f.org.clone(),
            users: BTreeMap::new(),
            logins: HashMap::with_capacity(f.users.len()),
            short_logins: HashMap::with_capacity(f.users.len()),
            groups: BTreeMap::new(),
            members: HashMap::new(),
            user_groups: HashMap::with_capacity(f.users.len()),
            everyone_id: String::new(),
            oidc_apps: BTreeMap::new(),
            service_apps: BTreeMap::new(),
            app_users: HashMap::new(),
            app_groups: HashMap::new(),
            api_tokens: f.api_tokens.iter().map(|t| (t.token.clone(), t.name.clone())).collect(),
            auth_servers: f.authorization_servers.iter().map(|a| (a.id.clone(), a.clone())).collect(),
        };
        for u in &f.users {
            store.insert_user(u)?;
        }
        for g in &f.groups {
            store.insert_group(g)?;
        }
        if store.everyone_id.is_empty() {
            // Every Okta org has Everyone; synthesise it when the fixture leaves it out.
            let mut profile = Map::new();
            profile.insert("name".into(), Value::from("Everyone"));
            profile.insert("description".into(), Value::from("All users in your organization"));
            let id = okta_id(&mut rand::thread_rng(), "00g");
            store.everyone_id = id.clone();
            store.groups.insert(
                id.clone(),
                Group {
                    id,
                    group_type: GroupType::BuiltIn,
                    created: org_created,
                    last_updated: org_created,
                    last_membership_updated: org_created,
                    profile,
                    source: None,
                },
            );
        }
        for a in &f.oidc_apps {
            let who = format!("oidc app {}", a.client_id);
            let groups_claim = match &a.groups_claim {
                Some(gc) => {
                    // Okta's "Matches regex" matches the whole name.
                    let re = Regex::new(&format!("^(?:{})$", gc.filter_regex))
                        .map_err(|e| SimError::Fixture(format!("{who}: groups claim regex: {e}")))?;
                    Some((gc.name.clone(), re))
                }
                None => None,
            };
            let jwks = match &a.jwks {
                Some(j) => key_list(j, &who)?,
                None => vec![],
            };
            if a.client_secret.is_none()
                && matches!(
                    a.token_endpoint_auth_method,
                    ClientAuthMethod::ClientSecretBasic
                        | ClientAuthMethod::ClientSecretPost
                        | ClientAuthMethod::ClientSecretJwt
                )
            {
                return Err(SimError::Fixture(format!("{who}: its auth method needs a clientSecret")));
            }
            store.oidc_apps.insert(
                a.client_id.clone(),
                OidcApp {
                    client_id: a.client_id.clone(),
                    label: a.label.clone(),
                    client_secret: a.client_secret.clone(),
                    redirect_uris: a.redirect_uris.clone(),
                    post_logout_redirect_uris: a.post_logout_redirect_uris.clone(),
                    grant_types: a.grant_types.clone(),
                    auth_method: a.token_endpoint_auth_method,
                    pkce_required: a.pkce_required,
                    groups_claim,
                    dpop_bound: a.dpop_bound_access_tokens,
                    refresh_token_rotation: a.refresh_token_rotation,
                    jwks,
                },
            );
            let (users, groups) = match &a.assignments {
                Some(asg) => (asg.users.clone(), asg.groups.clone()),
                None => (vec![], vec![store.everyone_id.clone()]),
            };
            for u in users {
                if !store.users.contains_key(&u) {
                    return Err(SimError::Fixture(format!("{who}: assigned user {u} does not exist")));
                }
                store.app_users.entry(a.client_id.clone()).or_default().insert(u, org_created);
            }
            for g in groups {
                if !store.groups.contains_key(&g) {
                    return Err(SimError::Fixture(format!("{who}: assigned group {g} does not exist")));
                }
                store.app_groups.entry(a.client_id.clone()).or_default().insert(g, org_created);
            }
        }
        for a in &f.service_apps {
            let who = format!("service app {}", a.client_id);
            let jwks = key_list(&a.jwks, &who)?;
            store.service_apps.insert(
                a.client_id.clone(),
                ServiceApp {
                    client_id: a.client_id.clone(),
                    jwks,
                    granted_scopes: a.granted_scopes.clone(),
                    dpop_required: a.dpop_required,
                    admin_role: a.admin_role,
                    auth_method: a.token_endpoint_auth_method,
                    client_secret: a.client_secret.clone(),
                },
            );
        }
        Ok(store)
    }

    fn index_login(&mut self, id: &str, login: &str) {
        let lower = login.to_lowercase();
        self.logins.insert(lower.clone(), id.to_owned());
        if let Some((short, _)) = lower.split_once('@') {
            self.short_logins.entry(short.to_owned()).and_modify(|e| *e = None).or_insert_with(|| Some(id.to_owned()));
        }
    }

    fn unindex_login(&mut self, login: &str) {
        let lower = login.to_lowercase();
        self.logins.remove(&lower);
        if let Some((short, _)) = lower.split_once('@') {
            self.short_logins.remove(short);
        }
    }

    pub fn insert_user(&mut self, u: &UserDef) -> Result<(), SimError> {
        let who = format!("user {}", u.id);
        for field in ["login", "email", "firstName", "lastName"] {
            if !u.profile.get(field).is_some_and(Value::is_string) {
                return Err(SimError::Fixture(format!("{who}: profile.{field} is required")));
            }
        }
        if self.users.contains_key(&u.id) {
            return Err(SimError::Fixture(format!("{who}: duplicate id")));
        }
        let login = u.profile.get("login").and_then(Value::as_str).unwrap_or_default().to_owned();
        if self.logins.contains_key(&login.to_lowercase()) {
            return Err(SimError::Fixture(format!("{who}: duplicate login {login}")));
        }
        let user = User {
            id: u.id.clone(),
            status: u.status,
            created: ts("created", &u.id, &u.created)?,
            activated: opt_ts("activated", &u.id, &u.activated)?,
            status_changed: opt_ts("statusChanged", &u.id, &u.status_changed)?,
            last_login: opt_ts("lastLogin", &u.id, &u.last_login)?,
            last_updated: ts("lastUpdated", &u.id, &u.last_updated)?,
            password_changed: opt_ts("passwordChanged", &u.id, &u.password_changed)?,
            profile: u.profile.clone(),
            password: u.password.clone(),
        };
        self.index_login(&u.id, &login);
        self.users.insert(u.id.clone(), user);
        Ok(())
    }

    pub fn insert_group(&mut self, g: &GroupDef) -> Result<(), SimError> {
        let who = format!("group {}", g.id);
        if !g.profile.get("name").is_some_and(Value::is_string) {
            return Err(SimError::Fixture(format!("{who}: profile.name is required")));
        }
        if self.groups.contains_key(&g.id) {
            return Err(SimError::Fixture(format!("{who}: duplicate id")));
        }
        if g.group_type == GroupType::BuiltIn {
            if !self.everyone_id.is_empty() {
                return Err(SimError::Fixture(format!("{who}: only one BUILT_IN group (Everyone) is supported")));
            }
            self.everyone_id = g.id.clone();
        }
        let group = Group {
            id: g.id.clone(),
            group_type: g.group_type,
            created: ts("created", &g.id, &g.created)?,
            last_updated: ts("lastUpdated", &g.id, &g.last_updated)?,
            last_membership_updated: ts("lastMembershipUpdated", &g.id, &g.last_membership_updated)?,
            profile: g.profile.clone(),
            source: g.source.clone(),
        };
        self.groups.insert(g.id.clone(), group);
        if g.group_type != GroupType::BuiltIn {
            let set = self.members.entry(g.id.clone()).or_default();
            for m in &g.members {
                if !self.users.contains_key(m) {
                    return Err(SimError::Fixture(format!("{who}: member {m} does not exist")));
                }
                set.insert(m.clone());
                self.user_groups.entry(m.clone()).or_default().insert(g.id.clone());
            }
        }
        Ok(())
    }

    /// A user by id, login, or unambiguous login short name (okta-api.md §4.3).
    pub fn find_user(&self, id_or_login: &str) -> Option<&User> {
        if let Some(u) = self.users.get(id_or_login) {
            return Some(u);
        }
        let lower = id_or_login.to_lowercase();
        let id = self.logins.get(&lower).or_else(|| self.short_logins.get(&lower).and_then(Option::as_ref))?;
        self.users.get(id)
    }

    pub fn is_everyone(&self, group_id: &str) -> bool {
        group_id == self.everyone_id
    }

    /// Ids of the user's groups, Everyone included, in id order.
    pub fn groups_of(&self, user_id: &str) -> BTreeSet<String> {
        let mut set = self.user_groups.get(user_id).cloned().unwrap_or_default();
        if self.users.contains_key(user_id) {
            set.insert(self.everyone_id.clone());
        }
        set
    }

    /// Members of a group after the cursor, in id order, at most `limit`; and whether more remain.
    pub fn members_page(&self, group_id: &str, after: Option<&str>, limit: usize) -> (Vec<&User>, bool) {
        let ids: Box<dyn Iterator<Item = &String>> = if self.is_everyone(group_id) {
            Box::new(range_after(&self.users, after).map(|(k, _)| k))
        } else {
            match self.members.get(group_id) {
                Some(set) => Box::new(range_after_set(set, after)),
                None => Box::new(std::iter::empty()),
            }
        };
        let mut out = Vec::with_capacity(limit.min(1024));
        let mut more = false;
        for id in ids {
            if out.len() == limit {
                more = true;
                break;
            }
            if let Some(u) = self.users.get(id) {
                out.push(u);
            }
        }
        (out, more)
    }

    pub fn member_count(&self, group_id: &str) -> usize {
        if self.is_everyone(group_id) {
            self.users.len()
        } else {
            self.members.get(group_id).map_or(0, BTreeSet::len)
        }
    }

    pub fn app_exists(&self, app_id: &str) -> bool {
        self.oidc_apps.contains_key(app_id) || self.service_apps.contains_key(app_id)
    }

    pub fn app_group_assignments(&self, app_id: &str) -> Option<&BTreeMap<String, i64>> {
        self.app_groups.get(app_id)
    }

    /// Apps a group is assigned to (for `expand=stats`).
    pub fn apps_of_group(&self, group_id: &str) -> usize {
        self.app_groups.values().filter(|m| m.contains_key(group_id)).count()
    }

    /// Whether the user may use the app: assigned directly or through one of their groups.
    pub fn is_assigned(&self, app_id: &str, user_id: &str) -> bool {
        if self.app_users.get(app_id).is_some_and(|m| m.contains_key(user_id)) {
            return true;
        }
        let Some(groups) = self.app_groups.get(app_id) else {
            return false;
        };
        groups.keys().any(|g| self.is_everyone(g) || self.members.get(g).is_some_and(|s| s.contains(user_id)))
    }

    /// App users after the cursor: (user, scope "USER"/"GROUP", assigned at), and whether more remain.
    pub fn app_users_page(
        &self,
        app_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> (Vec<(&User, &'static str, i64)>, bool) {
        let direct = self.app_users.get(app_id);
        let groups = self.app_groups.get(app_id);
        let via_group = |uid: &str| -> Option<i64> {
            groups?.iter().find_map(|(g, at)| {
                (self.is_everyone(g) || self.members.get(g).is_some_and(|s| s.contains(uid))).then_some(*at)
            })
        };
        let classify = |u: &'_ User| -> Option<(&'static str, i64)> {
            if let Some(at) = direct.and_then(|d| d.get(&u.id)) {
                return Some(("USER", *at));
            }
            via_group(&u.id).map(|at| ("GROUP", at))
        };
        let everyone_assigned = groups.is_some_and(|g| g.contains_key(&self.everyone_id));
        let mut out = Vec::new();
        let mut more = false;
        if everyone_assigned {
            for (_, u) in range_after(&self.users, after) {
                if out.len() == limit {
                    more = true;
                    break;
                }
                if let Some((scope, at)) = classify(u) {
                    out.push((u, scope, at));
                }
            }
        } else {
            // Union of direct users and members of assigned groups; small next to the directory.
            let mut ids: BTreeSet<&String> = direct.map(|d| d.keys().collect()).unwrap_or_default();
            for g in groups.map(|g| g.keys().collect::<Vec<_>>()).unwrap_or_default() {
                if let Some(m) = self.members.get(g) {
                    ids.extend(m.iter());
                }
            }
            let iter = ids.into_iter().filter(|id| after.is_none_or(|a| id.as_str() > a));
            for id in iter {
                if out.len() == limit {
                    more = true;
                    break;
                }
                if let Some(u) = self.users.get(id) {
                    if let Some((scope, at)) = classify(u) {
                        out.push((u, scope, at));
                    }
                }
            }
        }
        (out, more)
    }

    // ---- mutations (control endpoint) ----

    pub fn set_user_status(&mut self, user_id: &str, status: UserStatus, now: i64) -> Option<()> {
        let u = self.users.get_mut(user_id)?;
        if u.status != status {
            u.status = status;
            u.status_changed = Some(now);
            if status == UserStatus::Active && u.activated.is_none() {
                u.activated = Some(now);
            }
        }
        u.last_updated = now;
        Some(())
    }

    pub fn update_profile(&mut self, user_id: &str, patch: &Map<String, Value>, now: i64) -> Result<(), String> {
        let old_login = self.users.get(user_id).ok_or("no such user")?.login().to_owned();
        if let Some(new_login) = patch.get("login") {
            let new_login = new_login.as_str().ok_or("profile.login must be a string")?;
            if !new_login.eq_ignore_ascii_case(&old_login) && self.logins.contains_key(&new_login.to_lowercase()) {
                return Err(format!("login {new_login} already exists"));
            }
        }
        let u = self.users.get_mut(user_id).ok_or("no such user")?;
        for (k, v) in patch {
            u.profile.insert(k.clone(), v.clone());
        }
        u.last_updated = now;
        let new_login = u.login().to_owned();
        if new_login != old_login {
            self.unindex_login(&old_login);
            self.index_login(user_id, &new_login);
        }
        Ok(())
    }

    pub fn delete_user(&mut self, user_id: &str, now: i64) -> Option<User> {
        let user = self.users.remove(user_id)?;
        self.unindex_login(user.login());
        for g in self.user_groups.remove(user_id).unwrap_or_default() {
            if let Some(set) = self.members.get_mut(&g) {
                set.remove(user_id);
            }
            if let Some(group) = self.groups.get_mut(&g) {
                group.last_membership_updated = now;
            }
        }
        self.touch_membership(&self.everyone_id.clone(), now);
        for m in self.app_users.values_mut() {
            m.remove(user_id);
        }
        Some(user)
    }

    fn touch_membership(&mut self, group_id: &str, now: i64) {
        if let Some(g) = self.groups.get_mut(group_id) {
            g.last_membership_updated = now;
        }
    }

    pub fn add_user(&mut self, u: &UserDef, now: i64) -> Result<(), SimError> {
        self.insert_user(u)?;
        self.touch_membership(&self.everyone_id.clone(), now);
        Ok(())
    }

    pub fn add_group(&mut self, g: &GroupDef) -> Result<(), SimError> {
        if g.group_type == GroupType::BuiltIn {
            return Err(SimError::Fixture("BUILT_IN groups cannot be added".to_owned()));
        }
        self.insert_group(g)
    }

    pub fn delete_group(&mut self, group_id: &str) -> Result<(), String> {
        if self.is_everyone(group_id) {
            return Err("Everyone cannot be deleted".to_owned());
        }
        self.groups.remove(group_id).ok_or("no such group")?;
        for uid in self.members.remove(group_id).unwrap_or_default() {
            if let Some(set) = self.user_groups.get_mut(&uid) {
                set.remove(group_id);
            }
        }
        for m in self.app_groups.values_mut() {
            m.remove(group_id);
        }
        Ok(())
    }

    fn check_editable(&self, group_id: &str) -> Result<(), String> {
        if !self.groups.contains_key(group_id) {
            return Err(format!("no such group: {group_id}"));
        }
        if self.is_everyone(group_id) {
            return Err("Everyone's membership is every user".to_owned());
        }
        Ok(())
    }

    pub fn add_member(&mut self, group_id: &str, user_id: &str, now: i64) -> Result<(), String> {
        self.check_editable(group_id)?;
        if !self.users.contains_key(user_id) {
            return Err(format!("no such user: {user_id}"));
        }
        if self.members.entry(group_id.to_owned()).or_default().insert(user_id.to_owned()) {
            self.user_groups.entry(user_id.to_owned()).or_default().insert(group_id.to_owned());
            self.touch_membership(group_id, now);
        }
        Ok(())
    }

    pub fn remove_member(&mut self, group_id: &str, user_id: &str, now: i64) -> Result<(), String> {
        self.check_editable(group_id)?;
        let removed = self.members.get_mut(group_id).is_some_and(|s| s.remove(user_id));
        if removed {
            if let Some(set) = self.user_groups.get_mut(user_id) {
                set.remove(group_id);
            }
            self.touch_membership(group_id, now);
        }
        Ok(())
    }

    pub fn set_members(&mut self, group_id: &str, user_ids: &[String], now: i64) -> Result<(), String> {
        self.check_editable(group_id)?;
        if let Some(missing) = user_ids.iter().find(|u| !self.users.contains_key(*u)) {
            return Err(format!("no such user: {missing}"));
        }
        for uid in self.members.remove(group_id).unwrap_or_default() {
            if let Some(set) = self.user_groups.get_mut(&uid) {
                set.remove(group_id);
            }
        }
        let set: BTreeSet<String> = user_ids.iter().cloned().collect();
        for uid in &set {
            self.user_groups.entry(uid.clone()).or_default().insert(group_id.to_owned());
        }
        self.members.insert(group_id.to_owned(), set);
        self.touch_membership(group_id, now);
        Ok(())
    }

    pub fn rename_group(&mut self, group_id: &str, name: &str, now: i64) -> Result<(), String> {
        let g = self.groups.get_mut(group_id).ok_or_else(|| format!("no such group: {group_id}"))?;
        g.profile.insert("name".into(), Value::from(name));
        g.last_updated = now;
        Ok(())
    }

    pub fn assign_app(&mut self, app_id: &str, users: &[String], groups: &[String], now: i64) -> Result<(), String> {
        if !self.oidc_apps.contains_key(app_id) {
            return Err(format!("no such OIDC app: {app_id}"));
        }
        if let Some(u) = users.iter().find(|u| !self.users.contains_key(*u)) {
            return Err(format!("no such user: {u}"));
        }
        if let Some(g) = groups.iter().find(|g| !self.groups.contains_key(*g)) {
            return Err(format!("no such group: {g}"));
        }
        let au = self.app_users.entry(app_id.to_owned()).or_default();
        for u in users {
            au.entry(u.clone()).or_insert(now);
        }
        let ag = self.app_groups.entry(app_id.to_owned()).or_default();
        for g in groups {
            ag.entry(g.clone()).or_insert(now);
        }
        Ok(())
    }

    pub fn unassign_app(&mut self, app_id: &str, users: &[String], groups: &[String]) {
        if let Some(au) = self.app_users.get_mut(app_id) {
            for u in users {
                au.remove(u);
            }
        }
        if let Some(ag) = self.app_groups.get_mut(app_id) {
            for g in groups {
                ag.remove(g);
            }
        }
    }
}

/// Entries of a map strictly after the cursor.
pub(crate) fn range_after<'a, V>(
    map: &'a BTreeMap<String, V>,
    after: Option<&str>,
) -> Box<dyn Iterator<Item = (&'a String, &'a V)> + 'a> {
    use std::ops::Bound::{Excluded, Unbounded};
    match after {
        Some(a) => Box::new(map.range::<str, _>((Excluded(a), Unbounded))),
        None => Box::new(map.iter()),
    }
}

fn range_after_set<'a>(set: &'a BTreeSet<String>, after: Option<&str>) -> Box<dyn Iterator<Item = &'a String> + 'a> {
    use std::ops::Bound::{Excluded, Unbounded};
    match after {
        Some(a) => Box::new(set.range::<str, _>((Excluded(a), Unbounded))),
        None => Box::new(set.iter()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::sample;

    fn store() -> Store {
        Store::from_fixture(&Fixture::sample()).unwrap()
    }

    #[test]
    fn users_are_found_by_id_login_or_unambiguous_short_name() {
        let s = store();
        let ada = s.find_user(sample::SIGN_IN_LOGIN).unwrap().id.clone();
        assert_eq!(s.find_user(&ada).unwrap().login(), sample::SIGN_IN_LOGIN);
        assert_eq!(s.find_user("ADA.LOVELACE@example.com").unwrap().id, ada);
        assert_eq!(s.find_user("ada.lovelace").unwrap().id, ada);
        assert!(s.find_user("nobody").is_none());
    }

    #[test]
    fn everyone_holds_every_user_and_pages_by_id() {
        let s = store();
        let (first, more) = s.members_page(&s.everyone_id, None, 20);
        assert_eq!(first.len(), 20);
        assert!(more);
        let (rest, more) = s.members_page(&s.everyone_id, Some(&first[19].id), 100);
        assert_eq!(rest.len(), 30);
        assert!(!more);
        assert!(first[19].id < rest[0].id);
    }

    #[test]
    fn membership_changes_update_both_indexes_and_last_membership_updated() {
        let mut s = store();
        let gid = s.groups.values().find(|g| g.name() == "Sales").unwrap().id.clone();
        let uid = s.find_user(sample::SIGN_IN_LOGIN).unwrap().id.clone();
        s.add_member(&gid, &uid, 42).unwrap();
        assert!(s.groups_of(&uid).contains(&gid));
        assert_eq!(s.groups[&gid].last_membership_updated, 42);
        s.remove_member(&gid, &uid, 43).unwrap();
        assert!(!s.groups_of(&uid).contains(&gid));
        s.set_members(&gid, std::slice::from_ref(&uid), 44).unwrap();
        assert_eq!(s.member_count(&gid), 1);
        s.delete_user(&uid, 45);
        assert_eq!(s.member_count(&gid), 0);
        assert!(s.find_user(sample::SIGN_IN_LOGIN).is_none());
    }

    #[test]
    fn a_fixture_with_a_dangling_member_is_refused() {
        let mut f = Fixture::sample();
        f.groups[1].members.push("00unobody00000000000".into());
        assert!(matches!(Store::from_fixture(&f), Err(SimError::Fixture(_))));
    }

    #[test]
    fn app_users_come_from_direct_and_group_assignments() {
        let mut s = store();
        let app = sample::OIDC_CLIENT_ID;
        let (all, _) = s.app_users_page(app, None, 500);
        assert_eq!(all.len(), 50);
        assert!(all.iter().all(|(_, scope, _)| *scope == "GROUP"));
        let eng = s.groups.values().find(|g| g.name() == "Engineering").unwrap().id.clone();
        let ada = s.find_user(sample::SIGN_IN_LOGIN).unwrap().id.clone();
        s.unassign_app(app, &[], &[s.everyone_id.clone()]);
        s.assign_app(app, std::slice::from_ref(&ada), std::slice::from_ref(&eng), 1).unwrap();
        let (some, _) = s.app_users_page(app, None, 500);
        assert_eq!(some.len(), s.member_count(&eng) + 1);
        assert!(s.is_assigned(app, &ada));
        assert!(some.iter().any(|(u, scope, _)| u.id == ada && *scope == "USER"));
    }
}
