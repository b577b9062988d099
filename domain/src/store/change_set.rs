//! Writes of several kinds committed in one transaction: a configuration document is applied
//! all or nothing. Each write is the same SQL its single-purpose method runs.

use super::{
    directory::{reset_sync_watermark_in, save_sync_settings_in},
    policies::{
        append_policies_in, clear_hosts_in, delete_application_in, delete_policies_in, insert_application_in,
        insert_audit_in, update_application_in, ApplicationRow, HostRow, NewApplication, PolicyRow,
    },
    providers::{delete_provider_in, save_provider_in, set_asserts_verified_email_in, set_enabled_in},
    sso::{
        delete_role_mapping_in, detach_identities_in, end_provider_sessions_in, insert_role_mapping_in,
        update_role_mapping_in,
    },
    AuditRecord, GroupInput, ProviderRow, RoleMappingRow, Store, StoreError, SyncSettingsRow,
};

/// One write of a change set.
#[derive(Debug, Clone)]
pub enum Write {
    /// Inserts or replaces a provider with the groups its checks fetched.
    /// `source` says where the groups came from ("wizard", "config").
    SaveProvider {
        row: Box<ProviderRow>,
        groups: Vec<GroupInput>,
        source: &'static str,
    },
    SetProviderAssertsVerifiedEmail {
        id: String,
        asserts: bool,
    },
    SetProviderEnabled {
        id: String,
        enabled: bool,
    },
    /// See [`Store::detach_identities`].
    DetachIdentities {
        provider_id: String,
    },
    /// See [`Store::end_provider_sessions`].
    EndProviderSessions {
        provider_id: String,
        role_only: bool,
    },
    DeleteProvider {
        id: String,
    },
    SaveSyncSettings(SyncSettingsRow),
    ResetSyncWatermark {
        provider_id: String,
    },
    InsertRoleMapping(RoleMappingRow),
    UpdateRoleMapping {
        id: String,
        role: String,
    },
    DeleteRoleMapping {
        id: String,
    },
    DeleteApplication {
        id: String,
    },
    /// Frees an application's hosts before another application of the set takes them.
    ClearApplicationHosts {
        application_id: String,
    },
    InsertApplication {
        row: ApplicationRow,
        hosts: Vec<HostRow>,
    },
    UpdateApplication {
        row: ApplicationRow,
        hosts: Vec<HostRow>,
    },
    /// The application's policies become `rows`, in their order.
    ReplacePolicies {
        application_id: String,
        rows: Vec<PolicyRow>,
    },
    Audit(Box<AuditRecord>),
}

impl Store {
    /// Commits `writes` in order in one transaction, then `audit(rows affected by each write)`:
    /// on any failure nothing is written. A write that finds nothing to change (a row deleted
    /// meanwhile) fails the whole set, since the plan it was part of no longer holds.
    pub async fn commit(
        &self,
        writes: &[Write],
        audit: impl FnOnce(&[u64]) -> AuditRecord,
    ) -> Result<Vec<u64>, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut counts = Vec::with_capacity(writes.len());
        for w in writes {
            let n = match w {
                Write::SaveProvider { row, groups, source } => {
                    save_provider_in(&mut tx, row, groups, source).await.map(|_| 1)?
                }
                Write::SetProviderAssertsVerifiedEmail { id, asserts } => {
                    expect_one(set_asserts_verified_email_in(&mut tx, id, *asserts).await?, "provider")?
                }
                Write::SetProviderEnabled { id, enabled } => {
                    expect_one(set_enabled_in(&mut tx, id, *enabled).await?, "provider")?
                }
                Write::DetachIdentities { provider_id } => detach_identities_in(&mut tx, provider_id).await?,
                Write::EndProviderSessions { provider_id, role_only } => {
                    end_provider_sessions_in(&mut tx, provider_id, *role_only).await?
                }
                Write::DeleteProvider { id } => expect_one(delete_provider_in(&mut tx, id).await?, "provider")?,
                Write::SaveSyncSettings(row) => save_sync_settings_in(&mut tx, row).await.map(|_| 1)?,
                Write::ResetSyncWatermark { provider_id } => reset_sync_watermark_in(&mut tx, provider_id).await?,
                Write::InsertRoleMapping(row) => insert_role_mapping_in(&mut tx, row).await.map(|_| 1)?,
                Write::UpdateRoleMapping { id, role } => {
                    expect_one(update_role_mapping_in(&mut tx, id, role).await?, "role mapping")?
                }
                Write::DeleteRoleMapping { id } => {
                    expect_one(delete_role_mapping_in(&mut tx, id).await?, "role mapping")?
                }
                Write::DeleteApplication { id } => {
                    expect_one(delete_application_in(&mut tx, id).await?, "application")?
                }
                Write::ClearApplicationHosts { application_id } => clear_hosts_in(&mut tx, application_id).await?,
                Write::InsertApplication { row, hosts } => {
                    insert_application_in(&mut tx, NewApplication { row, hosts }).await.map(|_| 1)?
                }
                Write::UpdateApplication { row, hosts } => {
                    expect_one(update_application_in(&mut tx, row, hosts).await?, "application")?
                }
                Write::ReplacePolicies { application_id, rows } => {
                    let replaced = delete_policies_in(&mut tx, application_id).await?;
                    append_policies_in(&mut tx, application_id, rows).await?;
                    replaced
                }
                Write::Audit(record) => insert_audit_in(&mut tx, record).await.map(|_| 1)?,
            };
            counts.push(n);
        }
        insert_audit_in(&mut tx, &audit(&counts)).await?;
        tx.commit().await?;
        // Sessions, people's email standing, groups: forward auth's caches look again.
        self.changed();
        Ok(counts)
    }
}

fn expect_one(n: u64, what: &'static str) -> Result<u64, StoreError> {
    if n == 0 {
        Err(StoreError::Gone(what))
    } else {
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{new_id, now_ms};

    fn app(name: &str) -> ApplicationRow {
        ApplicationRow {
            id: new_id(),
            name: name.into(),
            session_duration_minutes: 60,
            created_at: now_ms(),
            updated_at: now_ms(),
        }
    }

    fn host(app: &ApplicationRow, hostname: &str) -> HostRow {
        HostRow { application_id: app.id.clone(), hostname: hostname.into(), path_prefix: "/".into() }
    }

    fn record() -> AuditRecord {
        crate::audit::Event::new(crate::audit::Actor::CommandLine, crate::audit::Action::ConfigApplied).into_record()
    }

    #[tokio::test]
    async fn a_change_set_that_fails_at_its_last_write_leaves_nothing_behind() {
        let store = Store::in_memory().await.unwrap();
        let (wiki, grafana) = (app("Wiki"), app("Grafana"));
        let writes = vec![
            Write::InsertApplication { row: wiki.clone(), hosts: vec![host(&wiki, "wiki.example.com")] },
            Write::InsertApplication { row: grafana.clone(), hosts: vec![host(&grafana, "wiki.example.com")] },
        ];
        let err = store.commit(&writes, |_| record()).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
        assert!(store.applications().await.unwrap().is_empty(), "the first application was rolled back");
        assert_eq!(store.count_audit_since("config.applied", 0).await.unwrap(), 0, "nor was it audited");

        store.commit(&writes[..1], |_| record()).await.unwrap();
        assert_eq!(store.applications().await.unwrap().len(), 1);
        assert_eq!(store.count_audit_since("config.applied", 0).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn a_host_moves_between_applications_in_one_change_set_once_freed() {
        let store = Store::in_memory().await.unwrap();
        let (wiki, docs) = (app("Wiki"), app("Docs"));
        let first = [Write::InsertApplication { row: wiki.clone(), hosts: vec![host(&wiki, "wiki.example.com")] }];
        store.commit(&first, |_| record()).await.unwrap();
        let moved = [
            Write::ClearApplicationHosts { application_id: wiki.id.clone() },
            Write::InsertApplication { row: docs.clone(), hosts: vec![host(&docs, "wiki.example.com")] },
            Write::UpdateApplication { row: wiki.clone(), hosts: vec![host(&wiki, "new.example.com")] },
        ];
        store.commit(&moved, |_| record()).await.unwrap();
        let owner = store.application_hosts().await.unwrap();
        assert!(owner.iter().any(|h| h.hostname == "wiki.example.com" && h.application_id == docs.id));
        assert!(owner.iter().any(|h| h.hostname == "new.example.com" && h.application_id == wiki.id));
    }

    #[tokio::test]
    async fn a_write_whose_row_is_gone_fails_the_set() {
        let store = Store::in_memory().await.unwrap();
        let err = store.commit(&[Write::DeleteApplication { id: new_id() }], |_| record()).await.unwrap_err();
        assert!(matches!(err, StoreError::Gone("application")), "{err}");
    }
}
