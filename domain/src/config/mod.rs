//! Configuration as code: the whole console as one document ([`ConfigDocument`]), exported,
//! planned against what is stored, and applied in one transaction: the services the console
//! uses prepare each change (so every check and refusal of the wizard, the role mappings and the
//! policy editor holds), and the store commits all of them or none ([`Write`]).

mod document;

use std::collections::{HashMap, HashSet};

pub use document::{
    is_reference, secret_variable, ApplicationConfig, ConfigDocument, DirectoryConfig, DocumentError, PolicyConfig,
    ProviderConfig, RoleMappingConfig, SelectorConfig, Syntax, FORMAT, VERSION,
};
use portcullis_types::{GroupRef, Role, RunKind, UserRef};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    audit::{Action, Audit, Caller, Event},
    error::{Classify, Fault},
    policies::{ApplicationInput, PolicyError, PolicyInput, PolicyService, Rules, Selector, WantedApplication},
    providers::{
        service::{DirectoryInput, ProviderError, ProviderInput, ProviderService, ProviderView, SecretInput},
        AuthServer,
    },
    settings::Secret,
    sso::roles::{MappingError, RoleMappings},
    store::{new_id, now_ms, RoleMappingRow, Store, StoreError, Write},
    sync::{settings_writes, SyncError, SyncService, SyncSettings, Trigger},
};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Document(#[from] DocumentError),
    #[error("{0}")]
    Invalid(String),
    #[error("Only an Admin can apply a configuration: it connects providers and maps roles.")]
    AdminOnly,
    #[error(
        "The plan deletes what the document lacks ({0}); nothing was changed. Apply with prune=true to delete them."
    )]
    WouldDelete(String),
    #[error("Provider '{provider}': {source}")]
    Provider { provider: String, source: ProviderError },
    #[error("Application '{application}': {source}")]
    Policy { application: String, source: PolicyError },
    #[error("Role mapping for '{group}': {source}")]
    Mapping { group: String, source: MappingError },
    #[error("Provider '{provider}': {source}")]
    Sync { provider: String, source: SyncError },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Classify for ConfigError {
    fn fault(&self) -> Fault {
        match self {
            ConfigError::Document(_) | ConfigError::Invalid(_) => Fault::Invalid,
            ConfigError::AdminOnly => Fault::Forbidden,
            ConfigError::WouldDelete(_) => Fault::Conflict,
            ConfigError::Provider { source, .. } => source.fault(),
            ConfigError::Policy { source, .. } => source.fault(),
            ConfigError::Mapping { source, .. } => source.fault(),
            ConfigError::Sync { source, .. } => source.fault(),
            ConfigError::Store(StoreError::Conflict(_) | StoreError::Gone(_)) => Fault::Conflict,
            ConfigError::Store(_) => Fault::Internal,
        }
    }
}

fn invalid(message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(message.into())
}

/// What applying does to one thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Create,
    Update,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Change {
    pub op: Op,
    /// `provider`, `sync_settings`, `role_mapping`, `application` or `policies`.
    pub kind: String,
    pub name: String,
    /// One line per field or policy that changes.
    pub details: Vec<String>,
}

/// What applying a document would create, change and delete.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Plan {
    pub changes: Vec<Change>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn count(&self, op: Op) -> usize {
        self.changes.iter().filter(|c| c.op == op).count()
    }

    fn push(&mut self, op: Op, kind: &str, name: impl Into<String>, details: Vec<String>) {
        self.changes.push(Change { op, kind: kind.into(), name: name.into(), details });
    }

    /// The plan as a diff people read: `+` create, `~` change, `-` delete.
    pub fn to_text(&self) -> String {
        if self.is_empty() {
            return "No changes: the console matches the document.\n".into();
        }
        let mut out = String::new();
        for c in &self.changes {
            let sign = match c.op {
                Op::Create => '+',
                Op::Update => '~',
                Op::Delete => '-',
            };
            out.push_str(&format!("{sign} {} {}\n", c.kind.replace('_', " "), c.name));
            for d in &c.details {
                out.push_str(&format!("    {d}\n"));
            }
        }
        out.push_str(&format!(
            "\n{} to create, {} to change, {} to delete.\n",
            self.count(Op::Create),
            self.count(Op::Update),
            self.count(Op::Delete)
        ));
        out
    }
}

#[derive(Clone, Debug)]
pub struct ConfigService {
    store: Store,
    providers: ProviderService,
    sync: SyncService,
    roles: RoleMappings,
    policies: PolicyService,
    audit: Audit,
}

/// A plan's writes, not yet made.
#[derive(Debug, Default)]
struct Prepared {
    writes: Vec<Write>,
    /// Providers connected by the change set whose people arrive with a first sync: (id, name).
    first_syncs: Vec<(String, String)>,
}

/// The ids of the people of provider `name` that the document's policies name.
fn people_of(doc: &ConfigDocument, name: &str) -> Vec<String> {
    let mut out: Vec<String> = doc
        .applications
        .iter()
        .flat_map(|a| &a.policies)
        .flat_map(|p| p.include.iter().chain(&p.require).chain(&p.exclude))
        .filter_map(|s| match s {
            SelectorConfig::User { provider, id, .. } if key(provider) == key(name) => Some(id.clone()),
            _ => None,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

fn key(name: &str) -> String {
    name.trim().to_lowercase()
}

fn provider_config(p: &ProviderView, sync: SyncSettings) -> ProviderConfig {
    ProviderConfig {
        name: p.name.clone(),
        kind: p.kind,
        base_url: p.base_url.clone(),
        auth_server: (p.auth_server != "Org").then(|| p.auth_server.clone()),
        client_id: p.client_id.clone(),
        client_secret: Some(secret_variable(&p.name, "CLIENT_SECRET")),
        scopes: p.scopes.clone(),
        groups_claim: p.groups_claim.clone(),
        pkce: p.pkce,
        asserts_verified_email: p.asserts_verified_email,
        enabled: p.enabled,
        directory: match p.directory_mode.as_str() {
            "service_app" => DirectoryConfig::ServiceApp {
                client_id: p.directory_client_id.clone().unwrap_or_default(),
                private_key: Some(secret_variable(&p.name, "DIRECTORY_KEY")),
            },
            "api_token" => DirectoryConfig::ApiToken { api_token: Some(secret_variable(&p.name, "DIRECTORY_TOKEN")) },
            _ => DirectoryConfig::Off,
        },
        sync: Some(sync),
    }
}

/// A secret as sent: a literal replaces, absent or a reference keeps the stored one.
fn secret_input(value: &Option<String>) -> SecretInput {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() && !is_reference(v) => SecretInput::Replace(Secret::new(v)),
        _ => SecretInput::Keep,
    }
}

fn provider_input(p: &ProviderConfig) -> ProviderInput {
    ProviderInput {
        kind: p.kind,
        name: p.name.clone(),
        base_url: p.base_url.clone(),
        client_id: p.client_id.clone(),
        client_secret: secret_input(&p.client_secret),
        auth_server: AuthServer::parse(p.auth_server.as_deref().unwrap_or("")),
        scopes: p.scopes.clone(),
        groups_claim: p.groups_claim.clone(),
        pkce: p.pkce,
        asserts_verified_email: Some(p.asserts_verified_email),
        directory: match &p.directory {
            DirectoryConfig::Off => DirectoryInput::Off,
            DirectoryConfig::ServiceApp { client_id, private_key } => {
                DirectoryInput::ServiceApp { client_id: client_id.clone(), private_key: secret_input(private_key) }
            }
            DirectoryConfig::ApiToken { api_token } => DirectoryInput::ApiToken(secret_input(api_token)),
        },
        connect_again: false,
        dry_run: false,
    }
}

/// The provider fields a plan compares (secrets cannot be: they are never read back).
fn provider_diff(now: &ProviderConfig, want: &ProviderConfig) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = |name: &str, a: String, b: String| {
        if a != b {
            out.push(format!("{name}: {a} → {b}"));
        }
    };
    field("kind", now.kind.as_str().into(), want.kind.as_str().into());
    field("base_url", now.base_url.trim_end_matches('/').into(), want.base_url.trim_end_matches('/').into());
    field(
        "auth_server",
        now.auth_server.clone().unwrap_or("org".into()),
        want.auth_server.clone().unwrap_or("org".into()),
    );
    field("client_id", now.client_id.clone(), want.client_id.trim().into());
    field("scopes", now.scopes.clone(), crate::providers::parse_scopes(&want.scopes).join(" "));
    field("groups_claim", now.groups_claim.clone(), want.groups_claim.trim().into());
    field("pkce", now.pkce.to_string(), want.pkce.to_string());
    field("asserts_verified_email", now.asserts_verified_email.to_string(), want.asserts_verified_email.to_string());
    field("directory", now.directory.mode().into(), want.directory.mode().into());
    if let (DirectoryConfig::ServiceApp { client_id: a, .. }, DirectoryConfig::ServiceApp { client_id: b, .. }) =
        (&now.directory, &want.directory)
    {
        field("directory client_id", a.clone(), b.trim().into());
    }
    field("enabled", now.enabled.to_string(), want.enabled.to_string());
    out
}

fn sync_diff(now: &SyncSettings, want: &SyncSettings) -> Vec<String> {
    let a = serde_json::to_value(now).unwrap_or_default();
    let b = serde_json::to_value(want).unwrap_or_default();
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else { return vec![] };
    b.iter()
        .filter(|(k, v)| a.get(*k) != Some(v))
        .map(|(k, v)| format!("{k}: {} → {v}", a.get(k).cloned().unwrap_or_default()))
        .collect()
}

fn policy_line(p: &PolicyConfig) -> String {
    format!("{} ({}{})", p.name, p.action.as_str(), if p.enabled { "" } else { ", off" })
}

fn policies_diff(now: &[PolicyConfig], want: &[PolicyConfig]) -> Vec<String> {
    let now_by: HashMap<String, &PolicyConfig> = now.iter().map(|p| (key(&p.name), p)).collect();
    let want_keys: HashSet<String> = want.iter().map(|p| key(&p.name)).collect();
    let mut out = Vec::new();
    for p in want {
        match now_by.get(&key(&p.name)) {
            None => out.push(format!("+ policy {}", policy_line(p))),
            Some(old) if old.without_hints() != p.without_hints() => out.push(format!("~ policy {}", policy_line(p))),
            Some(_) => {}
        }
    }
    for p in now {
        if !want_keys.contains(&key(&p.name)) {
            out.push(format!("- policy {}", policy_line(p)));
        }
    }
    let order =
        |v: &[PolicyConfig]| v.iter().map(|p| key(&p.name)).filter(|k| want_keys.contains(k)).collect::<Vec<_>>();
    let kept_now: Vec<String> = order(now).into_iter().filter(|k| now_by.contains_key(k)).collect();
    let kept_want: Vec<String> = order(want).into_iter().filter(|k| now_by.contains_key(k)).collect();
    if out.is_empty() && kept_now != kept_want {
        out.push(format!("order: {}", want.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")));
    }
    out
}

/// Providers the document names differently from this console, found by what identifies the
/// app (Base URL and client ID): old name's key → the document's name. A provider renamed in the
/// console (or in the file) is then changed, not deleted and connected again.
fn renames<'a>(
    now: impl Iterator<Item = (&'a str, &'a str, &'a str)>,
    want: &[ProviderConfig],
) -> HashMap<String, String> {
    let now: Vec<(&str, &str, &str)> = now.collect();
    let named: HashSet<String> = now.iter().map(|(n, _, _)| key(n)).collect();
    let mut out = HashMap::new();
    for p in want.iter().filter(|p| !named.contains(&key(&p.name))) {
        let same = |(n, base, client): &&(&str, &str, &str)| {
            base.trim_end_matches('/') == p.base_url.trim().trim_end_matches('/')
                && *client == p.client_id.trim()
                && !want.iter().any(|w| key(&w.name) == key(n))
                && !out.contains_key(&key(n))
        };
        if let Some((n, _, _)) = now.iter().find(same) {
            out.insert(key(n), p.name.clone());
        }
    }
    out
}

/// The export with renamed providers under their document names, references included.
fn rename_providers(doc: &mut ConfigDocument, renames: &HashMap<String, String>) {
    let to = |name: &mut String| {
        if let Some(new) = renames.get(&key(name)) {
            *name = new.clone();
        }
    };
    doc.role_mappings.iter_mut().for_each(|m| to(&mut m.provider));
    for p in doc.applications.iter_mut().flat_map(|a| a.policies.iter_mut()) {
        for s in p.include.iter_mut().chain(p.require.iter_mut()).chain(p.exclude.iter_mut()) {
            match s {
                SelectorConfig::Group { provider, .. }
                | SelectorConfig::User { provider, .. }
                | SelectorConfig::IdentityProvider { provider } => to(provider),
                _ => {}
            }
        }
    }
}

impl ConfigService {
    pub fn new(
        store: Store,
        providers: ProviderService,
        sync: SyncService,
        roles: RoleMappings,
        policies: PolicyService,
    ) -> Self {
        Self { audit: Audit::new(store.clone()), store, providers, sync, roles, policies }
    }

    /// Everything configured, with secrets as `${env:…}` references and no ids of this console.
    pub async fn export(&self) -> Result<ConfigDocument, ConfigError> {
        let views =
            self.providers.list().await.map_err(|e| ConfigError::Provider { provider: "*".into(), source: e })?;
        let names: HashMap<String, String> = views.iter().map(|p| (p.id.clone(), p.name.clone())).collect();
        let mut doc = ConfigDocument::empty();
        for p in &views {
            let sync = self
                .sync
                .settings(&p.id)
                .await
                .map_err(|e| ConfigError::Sync { provider: p.name.clone(), source: e })?;
            doc.providers.push(provider_config(p, sync));
        }
        doc.providers.sort_by_key(|p| key(&p.name));
        let name_of = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
        for m in self.roles.list().await? {
            doc.role_mappings.push(RoleMappingConfig {
                provider: name_of(&m.provider_id),
                group: m.group_id,
                group_name: Some(m.group_name),
                role: Role::parse(&m.role).unwrap_or(Role::Viewer),
            });
        }
        doc.role_mappings.sort_by(|a, b| (key(&a.provider), &a.group).cmp(&(key(&b.provider), &b.group)));
        let policy_err = |application: &str| {
            let application = application.to_string();
            move |source| ConfigError::Policy { application: application.clone(), source }
        };
        for app in self.policies.applications().await.map_err(policy_err("*"))? {
            let policies = self.policies.policies(&app.id).await.map_err(policy_err(&app.name))?;
            let labels = self
                .policies
                .labels(policies.iter().flat_map(|p| p.rules.selectors()))
                .await
                .map_err(policy_err(&app.name))?;
            let selector = |s: &Selector| {
                let view = labels.view(s);
                let hint = (!view.missing).then_some(view.label);
                match s {
                    Selector::Group(g) => SelectorConfig::Group {
                        provider: name_of(&g.provider_id),
                        id: g.external_id.clone(),
                        name: hint,
                    },
                    Selector::User(u) => SelectorConfig::User {
                        provider: name_of(&u.provider_id),
                        id: u.external_id.clone(),
                        name: hint,
                    },
                    Selector::IdentityProvider { provider_id } => {
                        SelectorConfig::IdentityProvider { provider: name_of(provider_id) }
                    }
                    Selector::Everyone => SelectorConfig::Everyone,
                    Selector::Email { email } => SelectorConfig::Email { email: email.clone() },
                    Selector::EmailDomain { domain } => SelectorConfig::EmailDomain { domain: domain.clone() },
                }
            };
            let all = |v: &[Selector]| v.iter().map(selector).collect::<Vec<_>>();
            doc.applications.push(ApplicationConfig {
                name: app.name.clone(),
                hosts: app.hosts.clone(),
                session_duration_minutes: app.session_duration_minutes,
                policies: policies
                    .iter()
                    .map(|p| PolicyConfig {
                        name: p.name.clone(),
                        action: p.action,
                        enabled: p.enabled,
                        include: all(&p.rules.include),
                        require: all(&p.rules.require),
                        exclude: all(&p.rules.exclude),
                    })
                    .collect(),
            });
        }
        doc.applications.sort_by_key(|a| key(&a.name));
        Ok(doc)
    }

    /// Names unique, references to providers the document has: before anything is compared.
    fn check(&self, doc: &ConfigDocument) -> Result<(), ConfigError> {
        let mut seen = HashSet::new();
        for p in &doc.providers {
            if !seen.insert(key(&p.name)) {
                return Err(invalid(format!("Two providers are named '{}'.", p.name)));
            }
        }
        let known = |name: &str, what: &str| {
            if seen.contains(&key(name)) {
                Ok(())
            } else {
                Err(invalid(format!("{what} names the provider '{name}', which the document's providers do not list.")))
            }
        };
        let mut mappings = HashSet::new();
        for m in &doc.role_mappings {
            known(&m.provider, &format!("The role mapping for group '{}'", m.group))?;
            if !mappings.insert((key(&m.provider), m.group.clone())) {
                return Err(invalid(format!("The group '{}' of '{}' is mapped twice.", m.group, m.provider)));
            }
        }
        let mut apps = HashSet::new();
        for a in &doc.applications {
            if !apps.insert(key(&a.name)) {
                return Err(invalid(format!("Two applications are named '{}'.", a.name)));
            }
            let mut names = HashSet::new();
            for p in &a.policies {
                if !names.insert(key(&p.name)) {
                    return Err(invalid(format!("Application '{}' has two policies named '{}'.", a.name, p.name)));
                }
                for s in p.include.iter().chain(&p.require).chain(&p.exclude) {
                    match s {
                        SelectorConfig::Group { provider, .. }
                        | SelectorConfig::User { provider, .. }
                        | SelectorConfig::IdentityProvider { provider } => {
                            known(provider, &format!("Policy '{}' of '{}'", p.name, a.name))?;
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }

    /// What applying `want` would do, changing nothing.
    pub async fn plan(&self, want: &ConfigDocument) -> Result<Plan, ConfigError> {
        self.check(want)?;
        let mut now = self.export().await?;
        let renamed = renames(
            now.providers.iter().map(|p| (p.name.as_str(), p.base_url.as_str(), p.client_id.as_str())),
            &want.providers,
        );
        rename_providers(&mut now, &renamed);
        let mut plan = Plan::default();
        let now_providers: HashMap<String, &ProviderConfig> = now
            .providers
            .iter()
            .map(|p| (renamed.get(&key(&p.name)).map_or_else(|| key(&p.name), |n| key(n)), p))
            .collect();
        let want_providers: HashSet<String> = want.providers.iter().map(|p| key(&p.name)).collect();
        for p in &want.providers {
            match now_providers.get(&key(&p.name)) {
                None => plan.push(
                    Op::Create,
                    "provider",
                    &p.name,
                    vec![
                        format!("kind: {}", p.kind.as_str()),
                        format!("base_url: {}", p.base_url),
                        format!("client_id: {}", p.client_id),
                        format!("directory: {}", p.directory.mode()),
                    ],
                ),
                Some(old) => {
                    let mut diff = provider_diff(old, p);
                    if old.name != p.name {
                        diff.insert(0, format!("name: {} → {}", old.name, p.name));
                    }
                    if !diff.is_empty() {
                        plan.push(Op::Update, "provider", &p.name, diff);
                    }
                    let want_sync = p.sync.clone().unwrap_or_default();
                    let diff = sync_diff(&old.sync.clone().unwrap_or_default(), &want_sync);
                    if !diff.is_empty() {
                        plan.push(Op::Update, "sync_settings", &p.name, diff);
                    }
                }
            }
        }
        let now_maps: HashMap<(String, String), &RoleMappingConfig> =
            now.role_mappings.iter().map(|m| ((key(&m.provider), m.group.clone()), m)).collect();
        let want_maps: HashSet<(String, String)> =
            want.role_mappings.iter().map(|m| (key(&m.provider), m.group.clone())).collect();
        let mapping_name = |m: &RoleMappingConfig| {
            format!("{} / {}", m.provider, m.group_name.clone().unwrap_or_else(|| m.group.clone()))
        };
        for m in &want.role_mappings {
            match now_maps.get(&(key(&m.provider), m.group.clone())) {
                None => {
                    plan.push(Op::Create, "role_mapping", mapping_name(m), vec![format!("role: {}", m.role.as_str())])
                }
                Some(old) if old.role != m.role => plan.push(
                    Op::Update,
                    "role_mapping",
                    mapping_name(m),
                    vec![format!("role: {} → {}", old.role.as_str(), m.role.as_str())],
                ),
                Some(_) => {}
            }
        }
        let now_apps: HashMap<String, &ApplicationConfig> =
            now.applications.iter().map(|a| (key(&a.name), a)).collect();
        let want_apps: HashSet<String> = want.applications.iter().map(|a| key(&a.name)).collect();
        for a in &want.applications {
            match now_apps.get(&key(&a.name)) {
                None => plan.push(
                    Op::Create,
                    "application",
                    &a.name,
                    std::iter::once(format!(
                        "hosts: {}",
                        a.hosts.iter().map(|h| h.display()).collect::<Vec<_>>().join(", ")
                    ))
                    .chain(a.policies.iter().map(|p| format!("+ policy {}", policy_line(p))))
                    .collect(),
                ),
                Some(old) => {
                    let mut details = Vec::new();
                    if old.hosts != a.hosts {
                        let show = |h: &[crate::policies::HostRule]| {
                            h.iter().map(|h| h.display()).collect::<Vec<_>>().join(", ")
                        };
                        details.push(format!("hosts: {} → {}", show(&old.hosts), show(&a.hosts)));
                    }
                    if old.session_duration_minutes != a.session_duration_minutes {
                        details.push(format!(
                            "session_duration_minutes: {} → {}",
                            old.session_duration_minutes, a.session_duration_minutes
                        ));
                    }
                    details.extend(policies_diff(&old.policies, &a.policies));
                    if !details.is_empty() {
                        plan.push(Op::Update, "application", &a.name, details);
                    }
                }
            }
        }
        for a in &now.applications {
            if !want_apps.contains(&key(&a.name)) {
                plan.push(Op::Delete, "application", &a.name, vec![format!("{} policies", a.policies.len())]);
            }
        }
        for m in &now.role_mappings {
            if !want_maps.contains(&(key(&m.provider), m.group.clone())) {
                plan.push(Op::Delete, "role_mapping", mapping_name(m), vec![format!("role: {}", m.role.as_str())]);
            }
        }
        for p in &now.providers {
            let as_named = renamed.get(&key(&p.name)).map_or_else(|| key(&p.name), |n| key(n));
            if !want_providers.contains(&as_named) {
                plan.push(Op::Delete, "provider", &p.name, vec![]);
            }
        }
        Ok(plan)
    }

    /// Applies `want` in one transaction: every change is prepared and checked first (the
    /// providers' checks included), then written with its audit entry, all or nothing. `prune`
    /// allows deleting what the document lacks; without it such a plan is refused whole.
    pub async fn apply(&self, by: &Caller, want: &ConfigDocument, prune: bool) -> Result<Plan, ConfigError> {
        if by.role < Role::Admin {
            return Err(ConfigError::AdminOnly);
        }
        let plan = self.plan(want).await?;
        if plan.is_empty() {
            return Ok(plan);
        }
        let deletes: Vec<String> = plan
            .changes
            .iter()
            .filter(|c| c.op == Op::Delete)
            .map(|c| format!("{} {}", c.kind.replace('_', " "), c.name))
            .collect();
        if !deletes.is_empty() && !prune {
            return Err(ConfigError::WouldDelete(deletes.join(", ")));
        }
        let change_set = format!("change set {}", new_id());
        let event = Event::new(by.actor.clone(), Action::ConfigApplied)
            .ip(by.ip())
            .target(change_set)
            .detail("created", plan.count(Op::Create))
            .detail("changed", plan.count(Op::Update))
            .detail("deleted", plan.count(Op::Delete))
            .detail(
                "changes",
                plan.changes
                    .iter()
                    .map(|c| format!("{:?} {} {}", c.op, c.kind, c.name).to_lowercase())
                    .collect::<Vec<_>>(),
            );
        let outcome = match self.prepare(by, want, &plan).await {
            Ok(prepared) => {
                // What the writes of one kind affected, for the audit entry.
                let total = |counts: &[u64], kind: fn(&Write) -> bool| -> u64 {
                    prepared.writes.iter().zip(counts).filter(|(w, _)| kind(w)).map(|(_, n)| n).sum()
                };
                let event = event.clone();
                self.store
                    .commit(&prepared.writes, |counts| {
                        event
                            .detail("sessions_ended", total(counts, |w| matches!(w, Write::EndProviderSessions { .. })))
                            .detail(
                                "identities_detached",
                                total(counts, |w| matches!(w, Write::DetachIdentities { .. })),
                            )
                            .into_record()
                    })
                    .await
                    .map(|_| prepared.first_syncs)
                    .map_err(ConfigError::from)
            }
            Err(e) => Err(e),
        };
        let first_syncs = match outcome {
            Ok(syncs) => syncs,
            Err(failure) => {
                // Nothing was written; the attempt is on record all the same.
                self.audit.record_or_log(event.failed().detail("error", failure.to_string())).await;
                return Err(failure);
            }
        };
        self.policies.reload().await;
        // A new provider's people arrive with its first sync, as after the wizard's Finish.
        for (id, name) in first_syncs {
            let trigger = Trigger::Manual { caller: by.clone() };
            if let Err(e) = self.sync.sync_now(&id, RunKind::Full, trigger).await {
                tracing::warn!(provider = %name, error = %e, "the first sync of a provider the configuration connected failed");
            }
        }
        Ok(plan)
    }

    /// Every change of `plan` as a write, each input checked as its page checks it. Nothing is
    /// written; what the writes add (a new provider's groups and people) counts as known.
    async fn prepare(&self, by: &Caller, want: &ConfigDocument, plan: &Plan) -> Result<Prepared, ConfigError> {
        let touched: HashSet<(String, String)> = plan.changes.iter().map(|c| (c.kind.clone(), key(&c.name))).collect();
        let is = |kind: &str, name: &str| touched.contains(&(kind.to_string(), key(name)));
        let mut out = Prepared::default();
        let mut known: HashSet<Selector> = HashSet::new();

        // Providers and their sync settings.
        let existing = self.providers_by_name(want).await?;
        let mut ids: HashMap<String, String> = existing.iter().map(|(k, v)| (k.clone(), v.id.clone())).collect();
        for p in &want.providers {
            let provider_err = |source| ConfigError::Provider { provider: p.name.clone(), source };
            let old = existing.get(&key(&p.name));
            if let Some(s) = &p.sync {
                s.validate().map_err(|e| invalid(format!("Provider '{}', sync: {e}", p.name)))?;
            }
            let prepared = match old {
                None => {
                    if matches!(secret_input(&p.client_secret), SecretInput::Keep) {
                        return Err(invalid(format!(
                            "Provider '{}' is new: its client_secret must be given. A ${{env:…}} or ${{file:…}} reference is resolved by `portcullis config apply`, never by the console.",
                            p.name
                        )));
                    }
                    let input = provider_input(p);
                    let prepared = self
                        .providers
                        .prepare_create(&by.actor, by.role, by.ip(), input.clone())
                        .await
                        .map_err(provider_err)?;
                    let id = prepared.saved.id.clone();
                    // Its groups (fetched by the checks) and people (asked of Okta) may be named
                    // by the document's policies before any sync stored them.
                    known.insert(Selector::IdentityProvider { provider_id: id.clone() });
                    for g in &prepared.saved.groups {
                        known.insert(Selector::Group(GroupRef { provider_id: id.clone(), external_id: g.clone() }));
                    }
                    let people = people_of(want, &p.name);
                    if !people.is_empty() {
                        let found = self.providers.find_users(&input, &people).await.map_err(provider_err)?;
                        for u in found {
                            known.insert(Selector::User(UserRef { provider_id: id.clone(), external_id: u }));
                        }
                    }
                    if p.directory != DirectoryConfig::Off && p.enabled {
                        out.first_syncs.push((id.clone(), p.name.clone()));
                    }
                    ids.insert(key(&p.name), id.clone());
                    Some((prepared, None))
                }
                Some(old) if is("provider", &p.name) => {
                    let prepared = self
                        .providers
                        .prepare_update(&by.actor, by.role, by.ip(), &old.id, provider_input(p))
                        .await
                        .map_err(provider_err)?;
                    Some((prepared, Some(old)))
                }
                Some(_) => None,
            };
            let id = ids.get(&key(&p.name)).cloned().unwrap_or_default();
            if let Some((prepared, old)) = prepared {
                let mut writes = prepared.writes;
                if let Some(Write::SaveProvider { row, source, .. }) = writes.first_mut() {
                    row.enabled = p.enabled;
                    *source = "config";
                }
                if old.is_some_and(|o| o.enabled && !p.enabled) {
                    // Disabled: its sessions end, as the provider page's Disable ends them.
                    writes.push(Write::EndProviderSessions { provider_id: id.clone(), role_only: false });
                }
                out.writes.extend(writes);
            }
            if old.is_none() || is("sync_settings", &p.name) {
                let settings = p.sync.clone().unwrap_or_default();
                let stored = match old {
                    Some(_) => self.store.sync_settings(&id).await?,
                    None => None,
                };
                out.writes.extend(settings_writes(&id, &settings, stored.as_ref()));
            }
        }
        let id_of = |name: &str| ids.get(&key(name)).cloned().unwrap_or_default();

        // Role mappings.
        let mappings = self.store.role_mappings().await?;
        let want_maps: HashSet<(String, String)> =
            want.role_mappings.iter().map(|m| (id_of(&m.provider), m.group.clone())).collect();
        for x in mappings.iter().filter(|x| !want_maps.contains(&(x.provider_id.clone(), x.group_external_id.clone())))
        {
            out.writes.push(Write::DeleteRoleMapping { id: x.id.clone() });
            // Sessions keep the role they were granted: those that may have had it from this mapping end.
            out.writes.push(Write::EndProviderSessions { provider_id: x.provider_id.clone(), role_only: true });
        }
        for m in &want.role_mappings {
            let provider_id = id_of(&m.provider);
            let group = m.group.trim();
            if group.is_empty() || group.chars().count() > 300 {
                return Err(ConfigError::Mapping { group: m.group.clone(), source: MappingError::NoGroup });
            }
            match mappings.iter().find(|x| x.provider_id == provider_id && x.group_external_id == group) {
                None => {
                    let stored = self.store.directory_group_by_name(&provider_id, group).await?;
                    let name = match stored.as_slice() {
                        [(_, name)] => name.clone(),
                        _ => m.group_name.clone().unwrap_or_else(|| group.to_string()),
                    };
                    out.writes.push(Write::InsertRoleMapping(RoleMappingRow {
                        id: new_id(),
                        provider_id,
                        group_external_id: group.to_string(),
                        group_name: name,
                        current_name: None,
                        role: m.role.as_str().to_string(),
                        created_by: by.actor.email().map(str::to_string),
                        created_at: now_ms(),
                    }));
                }
                Some(x) if x.role != m.role.as_str() => {
                    out.writes.push(Write::UpdateRoleMapping { id: x.id.clone(), role: m.role.as_str().to_string() });
                    if Role::parse(&x.role).is_none_or(|old| m.role < old) {
                        // A lowered role must not outlive the change in sessions granted the old one.
                        out.writes.push(Write::EndProviderSessions { provider_id, role_only: true });
                    }
                }
                Some(_) => {}
            }
        }

        // Applications and their ordered policies.
        let apps = self
            .policies
            .applications()
            .await
            .map_err(|e| ConfigError::Policy { application: "*".into(), source: e })?;
        let want_apps: HashSet<String> = want.applications.iter().map(|a| key(&a.name)).collect();
        let delete: Vec<String> =
            apps.iter().filter(|x| !want_apps.contains(&key(&x.name))).map(|x| x.id.clone()).collect();
        let wanted: Vec<WantedApplication> = want
            .applications
            .iter()
            .map(|a| {
                let to = |v: &[SelectorConfig]| v.iter().map(|s| selector(s, &id_of)).collect::<Vec<_>>();
                WantedApplication {
                    existing: apps.iter().find(|x| key(&x.name) == key(&a.name)).map(|x| x.id.clone()),
                    input: ApplicationInput {
                        name: a.name.clone(),
                        hosts: a.hosts.clone(),
                        session_duration_minutes: a.session_duration_minutes,
                    },
                    policies: a
                        .policies
                        .iter()
                        .map(|p| PolicyInput {
                            name: p.name.clone(),
                            action: p.action,
                            enabled: p.enabled,
                            rules: Rules { include: to(&p.include), require: to(&p.require), exclude: to(&p.exclude) },
                        })
                        .collect(),
                    changed: is("application", &a.name),
                }
            })
            .collect();
        let app_writes = self
            .policies
            .prepare_applications(&wanted, &delete, &known)
            .await
            .map_err(|(application, source)| ConfigError::Policy { application, source })?;
        out.writes.extend(app_writes);

        // Providers the document lacks, last: their mappings went above.
        let want_providers: HashSet<String> = want.providers.iter().map(|p| key(&p.name)).collect();
        for (_, p) in existing.iter().filter(|(k, _)| !want_providers.contains(*k)) {
            out.writes.push(Write::DeleteProvider { id: p.id.clone() });
        }
        Ok(out)
    }

    /// This console's providers by the name `want` gives them (see [`renames`]).
    async fn providers_by_name(&self, want: &ConfigDocument) -> Result<HashMap<String, ProviderView>, ConfigError> {
        let all = self.providers.list().await.map_err(|e| ConfigError::Provider { provider: "*".into(), source: e })?;
        let renamed =
            renames(all.iter().map(|p| (p.name.as_str(), p.base_url.as_str(), p.client_id.as_str())), &want.providers);
        Ok(all.into_iter().map(|p| (renamed.get(&key(&p.name)).map_or_else(|| key(&p.name), |n| key(n)), p)).collect())
    }
}

/// A document selector as this console stores it: the provider's name becomes its id here.
fn selector(s: &SelectorConfig, id_of: &dyn Fn(&str) -> String) -> Selector {
    match s {
        SelectorConfig::Group { provider, id, .. } => {
            Selector::Group(GroupRef { provider_id: id_of(provider), external_id: id.clone() })
        }
        SelectorConfig::User { provider, id, .. } => {
            Selector::User(UserRef { provider_id: id_of(provider), external_id: id.clone() })
        }
        SelectorConfig::IdentityProvider { provider } => Selector::IdentityProvider { provider_id: id_of(provider) },
        SelectorConfig::Everyone => Selector::Everyone,
        SelectorConfig::Email { email } => Selector::Email { email: email.clone() },
        SelectorConfig::EmailDomain { domain } => Selector::EmailDomain { domain: domain.clone() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policies::Action as PolicyAction;

    fn policy(name: &str, domain: &str) -> PolicyConfig {
        PolicyConfig {
            name: name.into(),
            action: PolicyAction::Allow,
            enabled: true,
            include: vec![SelectorConfig::EmailDomain { domain: domain.into() }],
            require: vec![],
            exclude: vec![],
        }
    }

    #[test]
    fn a_policy_diff_names_added_changed_removed_and_reordered_policies() {
        let now = [policy("A", "a.com"), policy("B", "b.com"), policy("C", "c.com")];
        assert!(policies_diff(&now, &now).is_empty());
        let want = [policy("A", "a.com"), policy("B", "x.com"), policy("D", "d.com")];
        assert_eq!(
            policies_diff(&now, &want),
            ["~ policy B (allow)", "+ policy D (allow)", "- policy C (allow)"].map(String::from)
        );
        let reordered = [policy("C", "c.com"), policy("A", "a.com"), policy("B", "b.com")];
        assert_eq!(policies_diff(&now, &reordered), ["order: C, A, B"].map(String::from));
    }

    #[test]
    fn names_next_to_ids_are_hints_and_do_not_make_a_change() {
        let mut a = policy("A", "a.com");
        a.include =
            vec![SelectorConfig::Group { provider: "Okta".into(), id: "00g1".into(), name: Some("Eng".into()) }];
        let mut renamed = a.clone();
        renamed.include =
            vec![SelectorConfig::Group { provider: "Okta".into(), id: "00g1".into(), name: Some("R&D".into()) }];
        assert!(policies_diff(&[a], &[renamed]).is_empty());
    }

    #[test]
    fn a_plan_reads_as_a_diff_with_totals() {
        let mut plan = Plan::default();
        plan.push(Op::Create, "application", "Wiki", vec!["+ policy Staff (allow)".into()]);
        plan.push(Op::Delete, "role_mapping", "Okta / Admins", vec![]);
        let text = plan.to_text();
        assert!(text.contains("+ application Wiki\n    + policy Staff (allow)\n"), "{text}");
        assert!(text.contains("- role mapping Okta / Admins"), "{text}");
        assert!(text.ends_with("1 to create, 0 to change, 1 to delete.\n"), "{text}");
        assert_eq!(Plan::default().to_text(), "No changes: the console matches the document.\n");
    }

    #[test]
    fn only_literal_secrets_replace_stored_ones() {
        assert!(matches!(secret_input(&Some("${env:OKTA_CLIENT_SECRET}".into())), SecretInput::Keep));
        assert!(matches!(secret_input(&None), SecretInput::Keep));
        assert!(matches!(secret_input(&Some("s3cret".into())), SecretInput::Replace(_)));
    }
}
