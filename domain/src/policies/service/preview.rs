//! Live preview of a draft against the synced directory, and "Test a user".

use super::*;

/// How many matched people a preview lists.
pub const PREVIEW_LIST: usize = 100;

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

/// The active directory, with groups interned, for previews. Rebuilt when the directory changes.
#[derive(Debug, Default)]
pub(super) struct DirectoryIndex {
    people: Vec<IndexedPerson>,
    groups: HashMap<GroupRef, u32>,
}

#[derive(Debug)]
pub(super) struct IndexedPerson {
    id: String,
    provider_id: Arc<str>,
    external_id: String,
    email: String,
    email_verified: bool,
    display_name: String,
    /// Sorted interned group ids.
    groups: Vec<u32>,
}

pub(super) struct IndexedFacts<'a> {
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

/// The person "Test a user" tests: a directory user's id, email and how to name them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TestPerson {
    pub id: String,
    pub email: String,
    /// `Name <email>`, or the email alone.
    pub label: String,
}

impl TestPerson {
    fn new(id: String, email: String, name: &str) -> Self {
        let label = if name.is_empty() { email.clone() } else { format!("{name} <{email}>") };
        Self { id, email, label }
    }
}

impl PolicyService {
    /// Who "Test a user" means by `query`: a directory user's id, or a search (an email) that
    /// finds exactly one active user; an exact email wins over other matches.
    pub async fn test_person(&self, query: &str) -> Result<TestPerson, PolicyError> {
        let query = query.trim();
        if query.is_empty() {
            return Err(PolicyError::NoTestUser);
        }
        if let Some(p) = self.store.person(query).await? {
            return Ok(TestPerson::new(p.id, p.email, &p.display_name));
        }
        let found = self.search_users(query, 20).await?;
        let exact = found.iter().find(|u| u.email.eq_ignore_ascii_case(query));
        let one = match (exact, found.as_slice()) {
            (Some(u), _) | (None, [u]) => u,
            (None, []) => return Err(PolicyError::NoUserMatches(query.to_string())),
            (None, several) => {
                return Err(PolicyError::SeveralUsersMatch { count: several.len(), query: query.to_string() })
            }
        };
        Ok(TestPerson::new(one.directory_user_id.clone(), one.email.clone(), &one.display_name))
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

    /// Every application's decision for one person of the directory, with the same
    /// explanation as [`PolicyService::test_user`]: a person's page shows where they get in.
    pub async fn access_of(&self, directory_user_id: &str) -> Result<Vec<Decision>, PolicyError> {
        let person = self.store.person(directory_user_id).await?.ok_or(PolicyError::UserNotFound)?;
        let subject = self.subject_of(&person).await?;
        let snapshot = self.snapshot().await?;
        // Collected first: a lazy iterator held across the await would not be Send.
        let selectors: Vec<&Selector> =
            snapshot.applications().iter().flat_map(|a| a.policies()).flat_map(|p| p.rules.selectors()).collect();
        let labels = self.labels(selectors).await?;
        let mut decisions: Vec<Decision> =
            snapshot.applications().iter().map(|app| app.explain(&subject, &|s| labels.phrase(s))).collect();
        decisions.sort_by_key(|a| a.application_name.to_lowercase());
        if person.state != "active" {
            for d in &mut decisions {
                d.summary.push_str(&format!(" (This user is {} in the directory.)", person.state));
            }
        }
        Ok(decisions)
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

    pub(super) async fn subject_of(&self, person: &PersonRow) -> Result<Subject, PolicyError> {
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
    pub(super) async fn directory_index(&self) -> Result<Arc<DirectoryIndex>, PolicyError> {
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

    pub(super) async fn load_directory(&self) -> Result<DirectoryIndex, PolicyError> {
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
}
