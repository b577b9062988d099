//! What a provider's sync does and how often: its settings, checked before they are saved.

use super::*;
use crate::store::Write;

/// What happens to someone who is gone or deactivated in Okta.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeprovisionAction {
    /// Disabled here; the console account tied to the person (their identity at this provider) is disabled and signed out.
    Disable,
    /// Left as they are (marked as removed in Okta).
    Keep,
    /// The directory user is deleted; the console account tied to the person is disabled and signed out (console accounts are never deleted by sync).
    Delete,
}

impl DeprovisionAction {
    pub fn as_str(self) -> &'static str {
        match self {
            DeprovisionAction::Disable => "disable",
            DeprovisionAction::Keep => "keep",
            DeprovisionAction::Delete => "delete",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [DeprovisionAction::Disable, DeprovisionAction::Keep, DeprovisionAction::Delete]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
}

/// Which users and groups are synchronized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", content = "app_id", rename_all = "snake_case")]
pub enum Scope {
    /// The whole org.
    Org,
    /// Only the users and groups assigned to this Okta app (needs `okta.apps.read`).
    App(String),
}

/// A provider's sync settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncSettings {
    /// Scheduled runs (Sync now works either way).
    pub enabled: bool,
    /// Minutes between scheduled runs, 1 to 1440.
    pub interval_minutes: u32,
    /// A full run at least this often (1 to 168 hours); incremental runs in between.
    pub full_every_hours: u32,
    pub scope: Scope,
    pub deprovision: DeprovisionAction,
    /// For people whose console account is an admin (by its role or a role mapping). The last active admin is never disabled.
    pub admin_deprovision: DeprovisionAction,
    /// A run that would remove more than this share of users, of groups or of memberships (each
    /// weighed on its own) stops for approval; 0 to 100. A run that would empty the directory's
    /// users or groups always stops.
    pub removal_threshold_percent: u32,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_minutes: 10,
            full_every_hours: 24,
            scope: Scope::Org,
            deprovision: DeprovisionAction::Disable,
            admin_deprovision: DeprovisionAction::Disable,
            removal_threshold_percent: 10,
        }
    }
}

impl SyncSettings {
    /// The first problem, in words for the settings form.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=1440).contains(&self.interval_minutes) {
            return Err("The interval must be between 1 and 1440 minutes.".into());
        }
        if !(1..=168).contains(&self.full_every_hours) {
            return Err("A full run must happen every 1 to 168 hours.".into());
        }
        if self.removal_threshold_percent > 100 {
            return Err("The removal threshold is a percentage: 0 to 100.".into());
        }
        if let Scope::App(id) = &self.scope {
            let id = id.trim();
            if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(
                    "Enter the Okta app's ID (0oa…, from its URL in the Admin Console) for the app scope.".into()
                );
            }
        }
        Ok(())
    }

    /// Whether both decide removals alike: the deprovisioning actions, threshold and scope.
    pub fn same_removals(&self, other: &SyncSettings) -> bool {
        self.deprovision == other.deprovision
            && self.admin_deprovision == other.admin_deprovision
            && self.removal_threshold_percent == other.removal_threshold_percent
            && normalized_scope(&self.scope) == normalized_scope(&other.scope)
    }

    pub(crate) fn from_row(r: &SyncSettingsRow) -> Self {
        let d = SyncSettings::default();
        Self {
            enabled: r.enabled,
            interval_minutes: u32::try_from(r.interval_minutes).unwrap_or(d.interval_minutes),
            full_every_hours: u32::try_from(r.full_every_hours).unwrap_or(d.full_every_hours),
            scope: match (r.scope.as_str(), &r.app_id) {
                ("app", Some(id)) => Scope::App(id.clone()),
                _ => Scope::Org,
            },
            deprovision: DeprovisionAction::parse(&r.deprovision_action).unwrap_or(d.deprovision),
            admin_deprovision: DeprovisionAction::parse(&r.admin_deprovision_action).unwrap_or(d.admin_deprovision),
            removal_threshold_percent: u32::try_from(r.removal_threshold_percent)
                .unwrap_or(d.removal_threshold_percent),
        }
    }

    pub(super) fn to_row(&self, provider_id: &str, existing: Option<&SyncSettingsRow>) -> SyncSettingsRow {
        SyncSettingsRow {
            provider_id: provider_id.to_string(),
            enabled: self.enabled,
            interval_minutes: self.interval_minutes as i64,
            full_every_hours: self.full_every_hours as i64,
            scope: match self.scope {
                Scope::Org => "org".into(),
                Scope::App(_) => "app".into(),
            },
            app_id: match &self.scope {
                Scope::App(id) => Some(id.trim().to_string()),
                Scope::Org => None,
            },
            deprovision_action: self.deprovision.as_str().into(),
            admin_deprovision_action: self.admin_deprovision.as_str().into(),
            removal_threshold_percent: self.removal_threshold_percent as i64,
            watermark: existing.and_then(|e| e.watermark.clone()),
            last_full_at: existing.and_then(|e| e.last_full_at),
            updated_at: now_ms(),
        }
    }
}

pub(super) fn normalized_scope(s: &Scope) -> Scope {
    match s {
        Scope::App(id) => Scope::App(id.trim().to_string()),
        Scope::Org => Scope::Org,
    }
}

/// The writes that store `settings` over `existing`: none when nothing changes.
pub fn settings_writes(provider_id: &str, settings: &SyncSettings, existing: Option<&SyncSettingsRow>) -> Vec<Write> {
    let before = existing.map(SyncSettings::from_row);
    if before.as_ref() == Some(settings) {
        return Vec::new();
    }
    let mut writes = vec![Write::SaveSyncSettings(settings.to_row(provider_id, existing))];
    if before.is_some_and(|b| b.scope != settings.scope) {
        // Another scope is another set of people: the next run lists everyone.
        writes.push(Write::ResetSyncWatermark { provider_id: provider_id.to_string() });
    }
    writes
}

impl SyncService {
    /// The provider's settings (the defaults until saved).
    pub async fn settings(&self, provider_id: &str) -> Result<SyncSettings, SyncError> {
        Ok(self.inner.store.sync_settings(provider_id).await?.map(|r| SyncSettings::from_row(&r)).unwrap_or_default())
    }

    /// Saves a provider's settings. What decides who is removed (the deprovisioning actions,
    /// the removal threshold, the scope) only an Admin may change; Editors may change the schedule.
    /// Whether anything changed: a save that changes nothing writes nothing and is not audited.
    pub async fn save_settings(
        &self,
        provider_id: &str,
        settings: SyncSettings,
        caller: &Caller,
    ) -> Result<bool, SyncError> {
        let role = caller.role;
        settings.validate().map_err(SyncError::BadSettings)?;
        let provider = self.inner.store.provider(provider_id).await?.ok_or(SyncError::ProviderNotFound)?;
        let existing = self.inner.store.sync_settings(provider_id).await?;
        let before = existing.as_ref().map(SyncSettings::from_row).unwrap_or_default();
        if role < Role::Admin && !before.same_removals(&settings) {
            return Err(SyncError::AdminOnly(
                "change who a sync removes (the deprovisioning actions, the removal threshold or the scope)",
            ));
        }
        if role < Role::Admin && before.enabled && !settings.enabled {
            return Err(SyncError::AdminOnly(
                "switch directory synchronization off (people removed at the provider would keep their access)",
            ));
        }
        let writes = settings_writes(provider_id, &settings, existing.as_ref());
        if writes.is_empty() {
            return Ok(false);
        }
        let mut event = Event::new(caller.actor.clone(), Action::SyncSettingsChanged)
            .ip(caller.ip())
            .target(provider.name)
            .detail("provider_id", provider_id);
        if let (Ok(b), Ok(a)) = (serde_json::to_value(&before), serde_json::to_value(&settings)) {
            event = event.detail("before", b).detail("after", a);
        }
        self.inner.store.commit(&writes, |_| event.into_record()).await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_before_saving() {
        assert!(SyncSettings::default().validate().is_ok());
        let bad = |f: fn(&mut SyncSettings)| {
            let mut s = SyncSettings::default();
            f(&mut s);
            s.validate().unwrap_err()
        };
        assert!(bad(|s| s.interval_minutes = 0).contains("1 and 1440"));
        assert!(bad(|s| s.removal_threshold_percent = 101).contains("0 to 100"));
        assert!(bad(|s| s.scope = Scope::App(" ".into())).contains("app's ID"));
        assert!(bad(|s| s.full_every_hours = 0).contains("1 to 168"));
    }

    #[test]
    fn settings_survive_the_round_trip_through_their_row() {
        let s = SyncSettings {
            enabled: false,
            interval_minutes: 3,
            full_every_hours: 6,
            scope: Scope::App("0oa123".into()),
            deprovision: DeprovisionAction::Delete,
            admin_deprovision: DeprovisionAction::Keep,
            removal_threshold_percent: 25,
        };
        assert_eq!(SyncSettings::from_row(&s.to_row("p", None)), s);
    }
}
