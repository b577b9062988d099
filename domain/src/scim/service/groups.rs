//! `/Groups`: pushed groups, linked to the synced group of the same name or their own.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::{excludes, filter_of, list, paging, project, rfc3339, Answer, Endpoint, ListQuery, ScimService};
use crate::{
    audit::{Action, Event},
    scim::{group_patch, GroupChange, GroupResource, MemberRef, ScimError, ScimTokenView},
    store::{new_id, ScimGroupRow, StoreError},
};

impl ScimService {
    pub async fn list_groups(&self, at: &Endpoint, query: &ListQuery) -> Result<Answer, ScimError> {
        let filter = filter_of(query)?;
        let (start, count) = paging(query);
        let (total, rows) = self.store.scim_groups(&at.provider_id, &filter, start - 1, count).await?;
        let with_members = !excludes(query, "members");
        let members = if with_members { self.members_of(&rows).await? } else { HashMap::new() };
        let resources: Vec<Value> = rows
            .iter()
            .map(|r| project(group_json(at, r, members.get(&r.group_id).map(Vec::as_slice).unwrap_or(&[])), query))
            .collect();
        Ok(Answer::ok(list(total, start, resources), format!("listed {total} groups")))
    }

    pub async fn get_group(&self, at: &Endpoint, id: &str, query: &ListQuery) -> Result<Answer, ScimError> {
        let row = self.group(at, id).await?;
        let members = self.members_of(std::slice::from_ref(&row)).await?;
        let body = group_json(at, &row, members.get(&row.group_id).map(Vec::as_slice).unwrap_or(&[]));
        Ok(Answer::ok(project(body, query), format!("read group {}", row.display_name)))
    }

    async fn group(&self, at: &Endpoint, id: &str) -> Result<ScimGroupRow, ScimError> {
        self.store.scim_group(&at.provider_id, id).await?.ok_or_else(|| ScimError::not_found("group", id))
    }

    pub(super) async fn members_of(&self, rows: &[ScimGroupRow]) -> Result<HashMap<String, Vec<String>>, StoreError> {
        let ids: Vec<String> = rows.iter().map(|r| r.group_id.clone()).collect();
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for (group, user) in self.store.scim_group_members(&ids).await? {
            out.entry(group).or_default().push(user);
        }
        Ok(out)
    }

    /// The people provisioned here among `members`, deduplicated. Ids are Portcullis' own, so an
    /// unknown one can never become a person (a deleted one, a typo): it is left out, and the
    /// request log says so, rather than failing the whole push.
    async fn known_members(
        &self,
        at: &Endpoint,
        members: &[String],
        unknown: &mut BTreeSet<String>,
    ) -> Result<Vec<String>, ScimError> {
        let wanted: BTreeSet<String> = members.iter().cloned().collect();
        let wanted: Vec<String> = wanted.into_iter().collect();
        let known: BTreeSet<String> =
            self.store.scim_known_users(&at.provider_id, &wanted).await?.into_iter().collect();
        unknown.extend(wanted.iter().filter(|m| !known.contains(*m)).cloned());
        Ok(known.into_iter().collect())
    }

    /// POST: the group, linked to the same-named group synced from the API when exactly one
    /// has the name, else a directory group of its own.
    pub async fn create_group(&self, at: &Endpoint, token: &ScimTokenView, body: &Value) -> Result<Answer, ScimError> {
        let group = GroupResource::from_body(body)?;
        check_name(&group.display_name)?;
        if self.store.scim_group_name_taken(&at.provider_id, &group.display_name, "").await? {
            return Err(ScimError::uniqueness(format!("A group named {} is already pushed.", group.display_name)));
        }
        let mut unknown = BTreeSet::new();
        let members = self.known_members(at, &ids(&group.members), &mut unknown).await?;
        let link = self.store.scim_group_link(&at.provider_id, &group.display_name).await?;
        let row = ScimGroupRow {
            id: new_id(),
            provider_id: at.provider_id.clone(),
            group_id: link.clone().unwrap_or_else(new_id),
            display_name: group.display_name.clone(),
            external_id: group.external_id.clone(),
            own: link.is_none(),
            ..ScimGroupRow::default()
        };
        let event = Event::new(token.actor(), Action::ScimGroupCreated)
            .target(row.display_name.clone())
            .detail("provider_id", at.provider_id.clone())
            .detail("scim_group_id", row.id.clone())
            .detail("linked_to_synced_group", link.is_some())
            .detail("members", members.len())
            .detail("ignored_unknown_members", unknown.len());
        self.store.scim_create_group(&row, link.is_none(), &members, &event.into_record()).await?;
        let saved = self.group(at, &row.id).await?;
        Ok(Answer {
            status: 201,
            body: Some(group_json(at, &saved, &members)),
            summary: format!("pushed group {} ({} members){}", saved.display_name, members.len(), ignored(&unknown)),
        })
    }

    /// PUT: the full group; its SCIM members become exactly the list.
    pub async fn replace_group(
        &self,
        at: &Endpoint,
        token: &ScimTokenView,
        id: &str,
        body: &Value,
    ) -> Result<Answer, ScimError> {
        let group = GroupResource::from_body(body)?;
        let changes = vec![
            GroupChange::Rename(group.display_name.clone()),
            GroupChange::ExternalId(group.external_id.clone()),
            GroupChange::ReplaceMembers(ids(&group.members)),
        ];
        self.change_group(at, token, id, changes).await
    }

    /// PATCH: rename, add, remove, replace members; answered with 200 and the group.
    pub async fn patch_group(
        &self,
        at: &Endpoint,
        token: &ScimTokenView,
        id: &str,
        body: &Value,
    ) -> Result<Answer, ScimError> {
        let changes = group_patch(body)?;
        self.change_group(at, token, id, changes).await
    }

    async fn change_group(
        &self,
        at: &Endpoint,
        token: &ScimTokenView,
        id: &str,
        changes: Vec<GroupChange>,
    ) -> Result<Answer, ScimError> {
        let current = self.group(at, id).await?;
        let mut row = current.clone();
        let before: BTreeSet<String> = self
            .members_of(std::slice::from_ref(&current))
            .await?
            .remove(&current.group_id)
            .unwrap_or_default()
            .into_iter()
            .collect();
        // The operations in order, on a copy of the member set; then the difference is written.
        let mut after = before.clone();
        // Members the push asserts, and those it removes, whether or not that changes anything.
        let mut asserted: BTreeSet<String> = BTreeSet::new();
        let mut removals: BTreeSet<String> = BTreeSet::new();
        let mut unknown = BTreeSet::new();
        for change in changes {
            match change {
                GroupChange::Rename(name) => row.display_name = name,
                GroupChange::ExternalId(e) => row.external_id = e,
                GroupChange::AddMembers(list) => {
                    let list = self.known_members(at, &list, &mut unknown).await?;
                    list.iter().for_each(|m| {
                        removals.remove(m);
                    });
                    asserted.extend(list.iter().cloned());
                    after.extend(list);
                }
                GroupChange::RemoveMembers(list) => list.into_iter().for_each(|m| {
                    after.remove(&m);
                    asserted.remove(&m);
                    removals.insert(m);
                }),
                GroupChange::ReplaceMembers(list) => {
                    let list: BTreeSet<String> =
                        self.known_members(at, &list, &mut unknown).await?.into_iter().collect();
                    removals.extend(after.difference(&list).cloned());
                    removals.retain(|m| !list.contains(m));
                    asserted = list.clone();
                    after = list;
                }
            }
        }
        check_name(&row.display_name)?;
        let renamed = row.display_name != current.display_name;
        if renamed && self.store.scim_group_name_taken(&at.provider_id, &row.display_name, &row.id).await? {
            return Err(ScimError::uniqueness(format!("A group named {} is already pushed.", row.display_name)));
        }
        let added = after.difference(&before).count();
        let removed = before.difference(&after).count();
        let external_changed = row.external_id != current.external_id;
        let audit = (renamed || external_changed || added + removed > 0).then(|| {
            let mut event = Event::new(token.actor(), Action::ScimGroupUpdated)
                .target(row.display_name.clone())
                .detail("provider_id", at.provider_id.clone())
                .detail("scim_group_id", row.id.clone())
                .detail("members_added", added)
                .detail("members_removed", removed);
            if renamed {
                event = event.detail("renamed_from", current.display_name.clone());
            }
            event.into_record()
        });
        let asserted: Vec<String> = asserted.into_iter().filter(|m| after.contains(m)).collect();
        // Only people provisioned here: a push cannot take a synced-only person out of a group.
        let removals: Vec<String> = removals.into_iter().filter(|m| !after.contains(m)).collect();
        let removals = self.store.scim_known_users(&at.provider_id, &removals).await?;
        self.store.scim_update_group(&row, &asserted, &removals, audit).await?;
        let saved = self.group(at, id).await?;
        let members: Vec<String> = after.into_iter().collect();
        let mut summary = format!("group {}: +{added} −{removed} members", saved.display_name);
        if renamed {
            summary.push_str(&format!(", renamed from {}", current.display_name));
        }
        summary.push_str(&ignored(&unknown));
        Ok(Answer::ok(group_json(at, &saved, &members), summary))
    }

    pub async fn delete_group(&self, at: &Endpoint, token: &ScimTokenView, id: &str) -> Result<Answer, ScimError> {
        let row = self.group(at, id).await?;
        let event = Event::new(token.actor(), Action::ScimGroupDeleted)
            .target(row.display_name.clone())
            .detail("provider_id", at.provider_id.clone())
            .detail("scim_group_id", row.id.clone())
            .detail("directory_group", if row.own { "deleted" } else { "kept (synced from the API)" });
        self.store.scim_delete_group(&row, &event.into_record()).await?;
        Ok(Answer { status: 204, body: None, summary: format!("deleted group {}", row.display_name) })
    }
}

pub(super) fn ignored(unknown: &BTreeSet<String>) -> String {
    match unknown.len() {
        0 => String::new(),
        n => format!(
            "; ignored {n} member id(s) no person here has: {}",
            unknown.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
        ),
    }
}

pub(super) fn ids(members: &[MemberRef]) -> Vec<String> {
    members.iter().map(|m| m.value.clone()).collect()
}

pub(super) fn check_name(name: &str) -> Result<(), ScimError> {
    if name.chars().count() > 256 || name.chars().any(char::is_control) {
        return Err(ScimError::invalid_value(
            "displayName must be at most 256 characters, without control characters.",
        ));
    }
    Ok(())
}

pub(super) fn group_json(at: &Endpoint, row: &ScimGroupRow, members: &[String]) -> Value {
    let resource = GroupResource {
        id: row.id.clone(),
        external_id: row.external_id.clone(),
        display_name: row.display_name.clone(),
        members: members.iter().map(|m| MemberRef { value: m.clone(), display: None }).collect(),
    };
    let mut body = resource.to_json(&at.group_location(&row.id), |m| at.user_location(m));
    body["meta"]["created"] = rfc3339(row.created_at).into();
    body["meta"]["lastModified"] = rfc3339(row.updated_at).into();
    body
}
