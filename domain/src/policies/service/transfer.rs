//! Export and import of an application's policies.

use super::*;

impl PolicyService {
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
        let used = used_providers(policies.iter().map(|p| &p.rules));
        let providers = self
            .store
            .providers()
            .await?
            .into_iter()
            .filter(|p| used.contains(&p.id))
            .map(|p| ExportedProvider { id: p.id, name: p.name, issuer: p.issuer, client_id: p.client_id })
            .collect();
        Ok(PolicyDocument {
            exported_at: Some(now_ms()),
            references,
            providers,
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
        choices: &BTreeMap<String, String>,
    ) -> Result<ImportResult, PolicyError> {
        doc.check_header()?;
        let doc = &self.mapped(doc, choices).await?;
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
                let row = new_application_row(&input, now_ms());
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
            rows.push(policy_row(&new_policy(&application_id, input, now)));
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
}

impl PolicyService {
    /// How each provider the file's rules name is found here: by issuer and client ID (the
    /// same app), else by issuer (the same directory), else as the administrator chooses in
    /// `choices` (file id → provider id here).
    pub async fn import_plan(
        &self,
        doc: &PolicyDocument,
        choices: &BTreeMap<String, String>,
    ) -> Result<Vec<ProviderMatch>, PolicyError> {
        let here = self.store.providers().await?;
        let option =
            |p: &ProviderRow| ProviderOption { id: p.id.clone(), name: p.name.clone(), issuer: p.issuer.clone() };
        let used = used_providers(doc.policies.iter().map(|p| &p.rules));
        let mut plan = Vec::new();
        for exported in doc.providers.iter().filter(|p| used.contains(&p.id)) {
            let same_issuer: Vec<&ProviderRow> =
                here.iter().filter(|p| same_issuer(&p.issuer, &exported.issuer)).collect();
            let same_app: Vec<&ProviderRow> =
                same_issuer.iter().copied().filter(|p| p.client_id == exported.client_id).collect();
            let (kind, matching) = match (same_app.as_slice(), same_issuer.as_slice()) {
                ([one], _) => (ProviderMatchKind::SameApp, vec![*one]),
                ([], [one]) => (ProviderMatchKind::SameIssuer, vec![*one]),
                ([], []) => (ProviderMatchKind::NotConnected, here.iter().collect()),
                ([], several) => (ProviderMatchKind::Several, several.to_vec()),
                (several, _) => (ProviderMatchKind::Several, several.to_vec()),
            };
            let automatic = match kind {
                ProviderMatchKind::SameApp | ProviderMatchKind::SameIssuer => Some(matching[0].id.clone()),
                _ => None,
            };
            let (kind, chosen) = match choices.get(&exported.id) {
                Some(id) if here.iter().any(|p| &p.id == id) => {
                    if automatic.as_ref() == Some(id) {
                        (kind, automatic)
                    } else {
                        (ProviderMatchKind::Chosen, Some(id.clone()))
                    }
                }
                Some(id) => return Err(PolicyError::UnknownProvider(id.clone())),
                None => (kind, automatic),
            };
            let candidates = match kind {
                ProviderMatchKind::Several => matching.into_iter().map(option).collect(),
                _ => here.iter().map(option).collect(),
            };
            plan.push(ProviderMatch { in_file: exported.clone(), kind, chosen, candidates });
        }
        Ok(plan)
    }

    /// The document with its rules' provider ids turned into this console's, or the first
    /// provider that needs the administrator's choice.
    async fn mapped(
        &self,
        doc: &PolicyDocument,
        choices: &BTreeMap<String, String>,
    ) -> Result<PolicyDocument, PolicyError> {
        let mut map = HashMap::new();
        for m in self.import_plan(doc, choices).await? {
            let Some(chosen) = m.chosen else {
                let (name, issuer) = (m.in_file.name, m.in_file.issuer);
                return Err(match m.kind {
                    ProviderMatchKind::Several => PolicyError::ProviderChoiceNeeded { name, issuer },
                    _ => PolicyError::ProviderNotConnected { name, issuer },
                });
            };
            map.insert(m.in_file.id, chosen);
        }
        let mut doc = doc.clone();
        let rename = |s: &mut Selector| {
            if let Some(id) = s.provider_id_mut() {
                if let Some(here) = map.get(id.as_str()) {
                    id.clone_from(here);
                }
            }
        };
        for policy in &mut doc.policies {
            let rules = &mut policy.rules;
            rules.include.iter_mut().chain(&mut rules.require).chain(&mut rules.exclude).for_each(rename);
        }
        doc.references.iter_mut().for_each(|r| rename(&mut r.selector));
        Ok(doc)
    }
}

/// The provider ids rules name.
fn used_providers<'r>(rules: impl Iterator<Item = &'r Rules>) -> HashSet<String> {
    rules.flat_map(|r| r.selectors()).filter_map(|s| s.clone().provider_id_mut().map(|id| id.clone())).collect()
}

/// Issuers compare without a trailing slash: `https://acme.okta.com/` is `https://acme.okta.com`.
fn same_issuer(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// One application of a configuration document.
#[derive(Debug, Clone)]
pub struct WantedApplication {
    /// Its id in this console, if it has one (matched by name).
    pub existing: Option<String>,
    pub input: ApplicationInput,
    pub policies: Vec<PolicyInput>,
    /// Whether the plan changes it (unchanged ones are checked, not written).
    pub changed: bool,
}

impl PolicyService {
    /// The writes that make this console's applications exactly `want` once `delete` are gone:
    /// every input checked as the editor checks it, hosts unique across the result, and each
    /// group, person or provider a rule names found in the directory or in `known` (what the
    /// same change set adds). Nothing is written. An error names its application.
    pub async fn prepare_applications(
        &self,
        want: &[WantedApplication],
        delete: &[String],
        known: &HashSet<Selector>,
    ) -> Result<Vec<Write>, (String, PolicyError)> {
        let mut writes: Vec<Write> = delete.iter().map(|id| Write::DeleteApplication { id: id.clone() }).collect();
        let mut hosts: HashMap<(String, String), String> = HashMap::new();
        let mut rows = Vec::new();
        let now = now_ms();
        for w in want {
            let err = |e: PolicyError| (w.input.name.clone(), e);
            let input = validate::application(&w.input).map_err(err)?;
            for h in &input.hosts {
                if let Some(other) = hosts.insert((h.hostname.clone(), h.path_prefix.clone()), input.name.clone()) {
                    return Err(err(PolicyError::HostTaken { host: h.display(), application: other }));
                }
            }
            if w.policies.len() > MAX_POLICIES {
                return Err(err(PolicyError::TooManyPolicies));
            }
            let row = match &w.existing {
                Some(id) => {
                    let before = self.store.application(id).await.map_err(|e| err(e.into()))?;
                    let before = before.ok_or(err(PolicyError::ApplicationNotFound))?;
                    ApplicationRow {
                        name: input.name.clone(),
                        session_duration_minutes: i64::from(input.session_duration_minutes),
                        updated_at: now,
                        ..before
                    }
                }
                None => new_application_row(&input, now),
            };
            let mut policies = Vec::with_capacity(w.policies.len());
            for (index, p) in w.policies.iter().enumerate() {
                let wrap = |e: PolicyError| match e {
                    PolicyError::Store(e) => err(PolicyError::Store(e)),
                    other => err(PolicyError::ImportPolicy { index, name: p.name.clone(), source: Box::new(other) }),
                };
                let p = validate::policy(p).map_err(wrap)?;
                self.check_references(&p.rules, known, &HashMap::new()).await.map_err(wrap)?;
                policies.push(policy_row(&new_policy(&row.id, p, now)));
            }
            if w.changed {
                // Unchanged policies keep their ids (and what refers to them).
                let same = match &w.existing {
                    Some(id) => {
                        let stored = self.store.application_policies(id).await.map_err(|e| err(e.into()))?;
                        let stored: Vec<(String, String, String, bool)> =
                            stored.into_iter().map(|p| (p.name, p.action, p.rules, p.enabled)).collect();
                        stored
                            == policies
                                .iter()
                                .map(|p| (p.name.clone(), p.action.clone(), p.rules.clone(), p.enabled))
                                .collect::<Vec<_>>()
                    }
                    None => false,
                };
                let policies = (!same).then_some(policies);
                rows.push((w.existing.is_some(), host_rows(&row.id, &input.hosts), row, policies));
            }
        }
        // Hosts move between applications: every changed application lets go of its own first.
        for (existing, _, row, _) in &rows {
            if *existing {
                writes.push(Write::ClearApplicationHosts { application_id: row.id.clone() });
            }
        }
        for (existing, hosts, row, policies) in rows {
            let application_id = row.id.clone();
            writes.push(if existing {
                Write::UpdateApplication { row, hosts }
            } else {
                Write::InsertApplication { row, hosts }
            });
            if let Some(rows) = policies {
                writes.push(Write::ReplacePolicies { application_id, rows });
            }
        }
        Ok(writes)
    }

    /// After a change set with [`Self::prepare_applications`]' writes was committed.
    pub async fn reload(&self) {
        self.changed().await;
    }
}
