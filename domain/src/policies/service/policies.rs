//! Policies of an application: create, change, order, and the references they make.

use super::*;

/// A policy with its selectors' current labels, for the list and the editor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyView {
    pub policy: Policy,
    /// Its place in evaluation order, from 1: Bypass and Block come before Allow.
    pub evaluated: u32,
    pub include: Vec<SelectorView>,
    pub require: Vec<SelectorView>,
    pub exclude: Vec<SelectorView>,
}

/// Moving a policy one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Move {
    Up,
    Down,
}

impl PolicyService {
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
        let mut evaluated = vec![0u32; policies.len()];
        for (rank, index) in super::super::eval::evaluation_order(&policies).into_iter().enumerate() {
            evaluated[index] = rank as u32 + 1;
        }
        Ok(policies
            .into_iter()
            .zip(evaluated)
            .map(|(p, evaluated)| PolicyView {
                evaluated,
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
        let mut policy = new_policy(application_id, input, now);
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
    pub(super) async fn check_references(
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
}
