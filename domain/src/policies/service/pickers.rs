//! Labels with current names for selectors, and the group and person pickers.

use super::*;

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
    pub(super) fn entry(&self, s: &Selector) -> (String, bool) {
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

pub(super) fn own_label(s: &Selector) -> String {
    match s {
        Selector::Everyone => "Everyone".into(),
        Selector::Email { email } => email.clone(),
        Selector::EmailDomain { domain } => domain.clone(),
        other => other.plain_label(),
    }
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

impl PolicyService {
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
}
