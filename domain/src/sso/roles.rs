//! Role mappings: "members of group X at provider P get role R". A person's role is the
//! highest their groups map to; no mapping, no entry.

use serde::{Deserialize, Serialize};

use crate::{
    accounts::Role,
    audit::{Action, Audit, Caller, Event},
    store::{new_id, now_ms, RoleMappingRow, Store, StoreError},
};

#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error("Choose an identity provider: this one no longer exists.")]
    UnknownProvider,
    #[error("Choose a group, or type its exact name as the provider sends it.")]
    NoGroup,
    #[error("Choose a role: Admin, Editor or Viewer.")]
    BadRole,
    #[error("Several groups of this provider are named '{0}': pick the group from the list (by its id).")]
    AmbiguousGroup(String),
    #[error("This group already has a mapping; change its role instead.")]
    Duplicate,
    #[error("No such mapping: it may have been removed.")]
    NotFound,
    #[error("No group of this provider is named '{name}'{}. Pick a group from the list; or, if the provider sends this name in its groups claim, add it anyway.", closest_words(.closest))]
    UnknownGroup { name: String, closest: Vec<String> },
    #[error(transparent)]
    Store(StoreError),
}

impl crate::error::Classify for MappingError {
    fn fault(&self) -> crate::error::Fault {
        use crate::error::Fault;
        match self {
            MappingError::Store(_) => Fault::Internal,
            MappingError::UnknownProvider | MappingError::NotFound => Fault::NotFound,
            MappingError::Duplicate => Fault::Conflict,
            MappingError::NoGroup
            | MappingError::BadRole
            | MappingError::AmbiguousGroup(_)
            | MappingError::UnknownGroup { .. } => Fault::Invalid,
        }
    }
}

impl From<StoreError> for MappingError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(_) => MappingError::Duplicate,
            other => MappingError::Store(other),
        }
    }
}

/// Up to three known names nearest to a mistyped one, nearest first.
pub fn closest_names<'n>(typed: &str, known: impl Iterator<Item = &'n str>) -> Vec<String> {
    let typed = typed.to_lowercase();
    let mut scored: Vec<(f64, &str)> = known
        .map(|name| (strsim::normalized_damerau_levenshtein(&typed, &name.to_lowercase()), name))
        .filter(|(score, _)| *score >= 0.5)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(3).map(|(_, name)| name.to_string()).collect()
}

fn closest_words(closest: &[String]) -> String {
    match closest {
        [] => String::new(),
        names => format!(" (closest: {})", names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ")),
    }
}

/// A mapping as the Role mappings page shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct RoleMappingView {
    pub id: String,
    pub provider_id: String,
    pub provider_name: String,
    pub group_id: String,
    /// The group's current name in the directory, else the name it had when mapped.
    pub group_name: String,
    /// False when the group is not (or no longer) in the directory; it then matches by name.
    pub in_directory: bool,
    pub role: String,
}

/// Does this mapping cover one of the person's groups? By id; a mapping typed by name
/// (no directory to pick from) matches by name.
/// A group with an empty id is a claim name the directory does not know: it never matches a
/// mapping by id (a name chosen to equal another group's id must grant nothing).
fn covers(m: &RoleMappingRow, groups: &[(String, String)]) -> bool {
    let by_name = m.group_external_id == m.group_name;
    groups.iter().any(|(id, name)| (!id.is_empty() && *id == m.group_external_id) || (by_name && *name == m.group_name))
}

/// The highest role the person's groups map to at this provider.
pub fn role_for(mappings: &[RoleMappingRow], provider_id: &str, groups: &[(String, String)]) -> Option<Role> {
    mappings
        .iter()
        .filter(|m| m.provider_id == provider_id && covers(m, groups))
        .filter_map(|m| Role::parse(&m.role))
        .max()
}

/// Manages role mappings, audited.
#[derive(Clone, Debug)]
pub struct RoleMappings {
    store: Store,
    audit: Audit,
}

impl RoleMappings {
    pub fn new(store: Store) -> Self {
        Self { audit: Audit::new(store.clone()), store }
    }

    pub async fn list(&self) -> Result<Vec<RoleMappingView>, StoreError> {
        let providers = self.store.providers().await?;
        let name_of = |id: &str| providers.iter().find(|p| p.id == id).map(|p| p.name.clone()).unwrap_or_default();
        Ok(self
            .store
            .role_mappings()
            .await?
            .into_iter()
            .map(|m| RoleMappingView {
                provider_name: name_of(&m.provider_id),
                in_directory: m.current_name.is_some(),
                group_name: m.current_name.clone().unwrap_or(m.group_name.clone()),
                id: m.id,
                provider_id: m.provider_id,
                group_id: m.group_external_id,
                role: m.role,
            })
            .collect())
    }

    /// The mappings that give a role to this group (the group's page).
    pub async fn for_group(&self, provider_id: &str, external_id: &str) -> Result<Vec<RoleMappingView>, StoreError> {
        let mut all = self.list().await?;
        all.retain(|m| m.provider_id == provider_id && m.group_id == external_id);
        Ok(all)
    }

    /// Adds a mapping. `group` is a group id from the directory, or a name as the claim carries
    /// it: a name no known group has is refused with the closest names, unless `anyway`.
    pub async fn add(
        &self,
        by: &Caller,
        provider_id: &str,
        group: &str,
        role: &str,
        anyway: bool,
    ) -> Result<RoleMappingView, MappingError> {
        let provider = self.store.provider(provider_id).await?.ok_or(MappingError::UnknownProvider)?;
        let role = Role::parse(role).ok_or(MappingError::BadRole)?;
        let group = group.trim();
        if group.is_empty() || group.chars().count() > 300 {
            return Err(MappingError::NoGroup);
        }
        let mut found = self.store.directory_group_by_name(provider_id, group).await?;
        if found.len() > 1 {
            return Err(MappingError::AmbiguousGroup(group.to_string()));
        }
        let (group_id, group_name, in_directory) = match found.pop() {
            Some((id, name)) => (id, name, true),
            None => {
                let known = self.store.provider_groups(provider_id).await?;
                // Without synced groups there is nothing to check a name against.
                if !anyway && !known.is_empty() {
                    let closest = closest_names(group, known.iter().map(|g| g.name.as_str()));
                    return Err(MappingError::UnknownGroup { name: group.to_string(), closest });
                }
                (group.to_string(), group.to_string(), false)
            }
        };
        let row = RoleMappingRow {
            id: new_id(),
            provider_id: provider.id.clone(),
            group_external_id: group_id.clone(),
            group_name: group_name.clone(),
            current_name: None,
            role: role.as_str().to_string(),
            created_by: by.actor.email().map(str::to_string),
            created_at: now_ms(),
        };
        self.store.insert_role_mapping(&row).await?;
        self.audit
            .record_or_log(
                Event::new(by.actor.clone(), Action::RoleMappingCreated)
                    .ip(by.ip())
                    .target(group_name.clone())
                    .detail("provider", provider.name.clone())
                    .detail("group_id", group_id.clone())
                    .detail("role", role.as_str()),
            )
            .await;
        Ok(RoleMappingView {
            id: row.id,
            provider_id: provider.id,
            provider_name: provider.name,
            group_id,
            group_name,
            in_directory,
            role: row.role,
        })
    }

    pub async fn set_role(&self, by: &Caller, id: &str, role: &str) -> Result<(), MappingError> {
        let role = Role::parse(role).ok_or(MappingError::BadRole)?;
        let before =
            self.store.role_mappings().await?.into_iter().find(|m| m.id == id).ok_or(MappingError::NotFound)?;
        if !self.store.update_role_mapping(id, role.as_str()).await? {
            return Err(MappingError::NotFound);
        }
        // A lowered role must not outlive the change in sessions that were granted the old one.
        let lowered = Role::parse(&before.role).is_none_or(|old| role < old);
        let ended = if lowered { self.store.end_provider_sessions(&before.provider_id, true).await? } else { 0 };
        self.audit
            .record_or_log(
                Event::new(by.actor.clone(), Action::RoleMappingUpdated)
                    .ip(by.ip())
                    .target(before.current_name.unwrap_or(before.group_name))
                    .detail("role_before", before.role)
                    .detail("role", role.as_str())
                    .detail("sessions_ended", ended),
            )
            .await;
        Ok(())
    }

    pub async fn remove(&self, by: &Caller, id: &str) -> Result<(), MappingError> {
        let removed = self.store.delete_role_mapping(id).await?.ok_or(MappingError::NotFound)?;
        // Sessions keep the role they were granted; end those that may have had it from this mapping.
        let ended = self.store.end_provider_sessions(&removed.provider_id, true).await?;
        self.audit
            .record_or_log(
                Event::new(by.actor.clone(), Action::RoleMappingDeleted)
                    .ip(by.ip())
                    .target(removed.current_name.unwrap_or(removed.group_name))
                    .detail("group_id", removed.group_external_id)
                    .detail("role", removed.role)
                    .detail("sessions_ended", ended),
            )
            .await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_closest_names_to_a_typo_come_first_and_unrelated_names_not_at_all() {
        let known = ["Engineering", "Engineering Managers", "Finance", "Marketing"];
        assert_eq!(closest_names("Enginering", known.into_iter())[0], "Engineering");
        assert_eq!(closest_names("finanse", known.into_iter()), ["Finance"]);
        assert!(closest_names("Legal", known.into_iter()).is_empty());
    }

    fn mapping(group: &str, name: &str, role: &str) -> RoleMappingRow {
        RoleMappingRow {
            id: new_id(),
            provider_id: "p1".into(),
            group_external_id: group.into(),
            group_name: name.into(),
            current_name: None,
            role: role.into(),
            created_by: None,
            created_at: 0,
        }
    }

    #[test]
    fn the_highest_mapped_role_wins() {
        let m = vec![mapping("00g1", "Staff", "viewer"), mapping("00g2", "Admins", "admin")];
        let groups = vec![("00g1".to_string(), "Staff".to_string()), ("00g2".to_string(), "Admins".to_string())];
        assert_eq!(role_for(&m, "p1", &groups), Some(Role::Admin));
        assert_eq!(role_for(&m, "p1", &groups[..1]), Some(Role::Viewer));
    }

    #[test]
    fn no_matching_group_means_no_role() {
        let m = vec![mapping("00g2", "Admins", "admin")];
        assert_eq!(role_for(&m, "p1", &[("00g9".into(), "Other".into())]), None);
        assert_eq!(
            role_for(&m, "p2", &[("00g2".into(), "Admins".into())]),
            None,
            "another provider's group of the same id"
        );
    }

    #[test]
    fn a_renamed_group_keeps_its_mapping_by_id() {
        let m = vec![mapping("00g2", "Admins", "editor")];
        assert_eq!(role_for(&m, "p1", &[("00g2".into(), "Platform Admins".into())]), Some(Role::Editor));
    }

    #[test]
    fn a_mapping_typed_by_name_matches_by_name() {
        let m = vec![mapping("Engineering", "Engineering", "viewer")];
        assert_eq!(role_for(&m, "p1", &[("00g7".into(), "Engineering".into())]), Some(Role::Viewer));
        assert_eq!(role_for(&m, "p1", &[("00g7".into(), "engineering".into())]), None, "names are exact");
    }
}
