//! What forward auth reads: the compiled snapshot (cached until a change) and the access audit.

use super::*;

impl PolicyService {
    // ---------- forward auth ----------

    /// Every application and policy, compiled. Cached: rebuilt after each change made
    /// through this service (or a clone of it), or by another replica (the store's change
    /// number follows theirs), never per decision.
    pub async fn snapshot(&self) -> Result<Arc<Snapshot>, PolicyError> {
        // Both only grow: their sum moves whenever either does.
        let generation = self.shared.generation.load(Ordering::Acquire) + self.store.change_number();
        if let Some((built, snapshot)) = self.shared.snapshot.read().unwrap_or_else(PoisonError::into_inner).as_ref() {
            if *built == generation {
                return Ok(snapshot.clone());
            }
        }
        let snapshot = Arc::new(self.build_snapshot().await?);
        let mut slot = self.shared.snapshot.write().unwrap_or_else(PoisonError::into_inner);
        // A build that started before a later change must not replace a newer one.
        if slot.as_ref().is_none_or(|(built, _)| *built <= generation) {
            *slot = Some((generation, snapshot.clone()));
        }
        Ok(snapshot)
    }

    pub(super) async fn build_snapshot(&self) -> Result<Snapshot, PolicyError> {
        let rows = self.store.applications().await?;
        let mut hosts = hosts_by_app(self.store.application_hosts().await?);
        let apps = rows.into_iter().map(|r| application_from(r, &mut hosts)).collect();
        let policies = self.store.all_policies().await?.into_iter().map(policy_from).collect();
        Ok(Snapshot::build(apps, policies))
    }

    /// Marks the snapshot stale and rebuilds it now, so forward auth does not wait for it.
    pub(super) async fn changed(&self) {
        self.shared.generation.fetch_add(1, Ordering::AcqRel);
        // Tells the other replicas (and this one's person cache, harmlessly).
        self.store.changed();
        if let Err(e) = self.snapshot().await {
            tracing::error!(error = %e, "could not rebuild the policy snapshot; the next decision retries");
        }
    }

    /// Records a forward-auth decision (`access.allowed` or `access.blocked`); the caller
    /// decides which decisions are worth a row.
    pub async fn record_access(
        &self,
        verdict: &Verdict<'_>,
        who: &Subject,
        host: &str,
        path: &str,
        ip: Option<&str>,
        suppressed: u64,
    ) {
        let action = if verdict.permits() { audit::Action::AccessAllowed } else { audit::Action::AccessBlocked };
        let mut event = Event::new(Actor::Anonymous, action)
            .target(who.email.clone())
            .ip(ip)
            .detail("application_id", verdict.application.id.clone())
            .detail("application", verdict.application.name.clone())
            .detail("outcome", serde_json::to_value(verdict.outcome).unwrap_or(Value::Null))
            .detail("host", clip(host, AUDIT_TEXT_MAX))
            .detail("path", clip(path, AUDIT_TEXT_MAX));
        if let Some(p) = verdict.policy {
            event = event.detail("policy_id", p.id.clone()).detail("policy", p.name.clone());
        }
        if !verdict.permits() {
            event = event.failed();
        }
        if suppressed > 0 {
            event = event.detail("and_more", format!("and {suppressed} more denials in the minute before"));
        }
        self.audit.record_or_log(event).await;
    }

    /// A refusal because the directory removed, deactivated or suspended the person.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_removed_access(
        &self,
        who: &Subject,
        application_id: &str,
        application_name: &str,
        host: &str,
        path: &str,
        ip: Option<&str>,
        suppressed: u64,
    ) {
        let mut event = Event::new(Actor::Anonymous, audit::Action::AccessBlocked)
            .target(who.email.clone())
            .ip(ip)
            .failed()
            .detail("application_id", application_id)
            .detail("application", application_name)
            .detail("outcome", "block")
            .detail("reason", "removed, deactivated or suspended in the directory")
            .detail("host", clip(host, AUDIT_TEXT_MAX))
            .detail("path", clip(path, AUDIT_TEXT_MAX));
        if suppressed > 0 {
            event = event.detail("and_more", format!("and {suppressed} more denials in the minute before"));
        }
        self.audit.record_or_log(event).await;
    }
}
