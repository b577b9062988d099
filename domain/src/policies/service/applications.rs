//! Applications: the hostnames and path prefixes a set of policies guards.

use super::*;

impl PolicyService {
    // ---------- applications ----------

    /// Every application, by name.
    pub async fn applications(&self) -> Result<Vec<Application>, PolicyError> {
        let rows = self.store.applications().await?;
        let mut hosts = hosts_by_app(self.store.application_hosts().await?);
        Ok(rows.into_iter().map(|r| application_from(r, &mut hosts)).collect())
    }

    pub async fn application(&self, id: &str) -> Result<Application, PolicyError> {
        let row = self.store.application(id).await?.ok_or(PolicyError::ApplicationNotFound)?;
        let mut hosts = hosts_by_app(self.store.hosts_of(id).await?);
        Ok(application_from(row, &mut hosts))
    }

    pub async fn create_application(
        &self,
        actor: &Actor,
        ip: Option<&str>,
        input: &ApplicationInput,
    ) -> Result<Application, PolicyError> {
        let input = validate::application(input)?;
        self.check_application(&input, None).await?;
        let now = now_ms();
        let row = new_application_row(&input, now);
        let hosts = host_rows(&row.id, &input.hosts);
        let record = Event::new(actor.clone(), audit::Action::ApplicationCreated)
            .target(row.name.clone())
            .ip(ip)
            .detail("application_id", row.id.clone())
            .detail("hosts", hosts_detail(&input.hosts))
            .detail("session_duration_minutes", input.session_duration_minutes)
            .into_record();
        self.store
            .insert_application(NewApplication { row: &row, hosts: &hosts }, &record)
            .await
            .map_err(|e| conflict(e, &input))?;
        self.changed().await;
        Ok(Application {
            id: row.id,
            name: row.name,
            hosts: input.hosts,
            session_duration_minutes: input.session_duration_minutes,
            created_at: now,
            updated_at: now,
        })
    }

    pub async fn update_application(
        &self,
        actor: &Actor,
        ip: Option<&str>,
        id: &str,
        input: &ApplicationInput,
    ) -> Result<Application, PolicyError> {
        let before = self.application(id).await?;
        let input = validate::application(input)?;
        self.check_application(&input, Some(id)).await?;
        let now = now_ms();
        let row = ApplicationRow {
            id: id.to_string(),
            name: input.name.clone(),
            session_duration_minutes: i64::from(input.session_duration_minutes),
            created_at: before.created_at,
            updated_at: now,
        };
        let record = Event::new(actor.clone(), audit::Action::ApplicationUpdated)
            .target(row.name.clone())
            .ip(ip)
            .detail("application_id", id)
            .detail(
                "before",
                json!({"name": before.name, "hosts": hosts_detail(&before.hosts), "session_duration_minutes": before.session_duration_minutes}),
            )
            .detail(
                "after",
                json!({"name": input.name, "hosts": hosts_detail(&input.hosts), "session_duration_minutes": input.session_duration_minutes}),
            )
            .into_record();
        let updated = self
            .store
            .update_application(&row, &host_rows(id, &input.hosts), &record)
            .await
            .map_err(|e| conflict(e, &input))?;
        if !updated {
            return Err(PolicyError::ApplicationNotFound);
        }
        self.changed().await;
        Ok(Application {
            id: row.id,
            name: row.name,
            hosts: input.hosts,
            session_duration_minutes: input.session_duration_minutes,
            created_at: before.created_at,
            updated_at: now,
        })
    }

    /// Deletes the application with its policies.
    pub async fn delete_application(&self, actor: &Actor, ip: Option<&str>, id: &str) -> Result<(), PolicyError> {
        let app = self.application(id).await?;
        let policies = self.store.application_policies(id).await?;
        let record = Event::new(actor.clone(), audit::Action::ApplicationDeleted)
            .target(app.name.clone())
            .ip(ip)
            .detail("application_id", id)
            .detail("hosts", hosts_detail(&app.hosts))
            .detail("policies_deleted", policies.len())
            .detail("policies", policies.iter().map(|p| p.name.clone()).collect::<Vec<_>>())
            .into_record();
        if !self.store.delete_application(id, &record).await? {
            return Err(PolicyError::ApplicationNotFound);
        }
        self.changed().await;
        Ok(())
    }

    /// Name free, and no host and prefix of another application's.
    pub(super) async fn check_application(
        &self,
        input: &ApplicationInput,
        id: Option<&str>,
    ) -> Result<(), PolicyError> {
        if let Some(other) = self.store.application_by_name(&input.name).await? {
            if Some(other.id.as_str()) != id {
                return Err(PolicyError::ApplicationNameTaken(input.name.clone()));
            }
        }
        let taken: HashMap<(String, String), String> = self
            .store
            .application_hosts()
            .await?
            .into_iter()
            .filter(|h| Some(h.application_id.as_str()) != id)
            .map(|h| ((h.hostname, h.path_prefix), h.application_id))
            .collect();
        for h in &input.hosts {
            if let Some(owner) = taken.get(&(h.hostname.clone(), h.path_prefix.clone())) {
                let application = self.store.application(owner).await?.map(|a| a.name).unwrap_or_else(|| owner.clone());
                return Err(PolicyError::HostTaken { host: h.display(), application });
            }
        }
        Ok(())
    }
}
