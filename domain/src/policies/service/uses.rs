//! Where a directory group is used: the group's page lists the policies that name it, so an
//! administrator sees what a change in the provider would change here.

use super::*;

/// A policy that names a group, and in which part of its rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupUse {
    pub application_id: String,
    pub application_name: String,
    pub policy_id: String,
    pub policy_name: String,
    pub action: Action,
    /// `include`, `require` or `exclude`.
    pub part: &'static str,
    pub enabled: bool,
}

impl PolicyService {
    /// Every policy whose rules name this group (by provider and the provider's group id),
    /// by application name then position.
    pub async fn uses_of_group(&self, provider_id: &str, external_id: &str) -> Result<Vec<GroupUse>, PolicyError> {
        let snapshot = self.snapshot().await?;
        let names = |list: &[Selector]| {
            list.iter().any(
                |s| matches!(s, Selector::Group(g) if g.provider_id == provider_id && g.external_id == external_id),
            )
        };
        let mut uses = Vec::new();
        for app in snapshot.applications() {
            for p in app.policies() {
                let part =
                    [("include", &p.rules.include), ("require", &p.rules.require), ("exclude", &p.rules.exclude)]
                        .into_iter()
                        .find(|(_, list)| names(list));
                if let Some((part, _)) = part {
                    uses.push(GroupUse {
                        application_id: app.id().to_string(),
                        application_name: app.application.name.clone(),
                        policy_id: p.id.clone(),
                        policy_name: p.name.clone(),
                        action: p.action,
                        part,
                        enabled: p.enabled,
                    });
                }
            }
        }
        uses.sort_by_key(|a| a.application_name.to_lowercase());
        Ok(uses)
    }
}
