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
