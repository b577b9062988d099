//! The provider lifecycle: check, create, edit, test, enable/disable, delete.
//! Nothing is saved that did not pass its checks on the server, and secrets
//! are sealed before storage and never returned.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::{
    checks::{check_client, ClientCheckOutcome},
    directory::{check_directory, find_users, DirectoryAuth, DirectoryCheckOutcome},
    parse_scopes,
    report::{Check, Report, Status},
    AuthServer, ClientSettings, ProviderKind,
};
use crate::{
    accounts::Role,
    audit::{Action, Actor, Audit, Event},
    crypto::{CryptoError, SecretBox},
    outbound::Outbound,
    settings::Secret,
    store::{new_id, now_ms, GroupInput, ProviderRow, Store, StoreError, Write},
};

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("Enter a name of 1 to 100 characters.")]
    BadName,
    #[error("A provider named '{0}' exists already; choose another name.")]
    NameTaken(String),
    #[error("No such provider: it may have been deleted.")]
    NotFound,
    #[error("The checks did not pass; nothing was saved.")]
    ChecksFailed(Box<Report>),
    #[error("Only an Admin can {0}: ask an Admin to do it.")]
    AdminOnly(&'static str),
    #[error("The Base URL, authorization server or client ID changed: enter the client secret{0} again. Stored secrets are never sent to a changed endpoint.")]
    SecretsRequired(&'static str),
    #[error("{0}")]
    BadBaseUrl(String),
    #[error("'{0}' is connected already with this issuer and client ID: edit it instead, or confirm that you want to connect the same app a second time (people will see two sign-in buttons for it).")]
    AlreadyConnected(String),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Store(StoreError),
}

impl crate::error::Classify for ProviderError {
    fn fault(&self) -> crate::error::Fault {
        use crate::error::Fault;
        match self {
            ProviderError::Store(_) | ProviderError::Crypto(_) => Fault::Internal,
            ProviderError::AdminOnly(_) => Fault::Forbidden,
            ProviderError::NotFound => Fault::NotFound,
            ProviderError::NameTaken(_) | ProviderError::AlreadyConnected(_) => Fault::Conflict,
            ProviderError::BadName
            | ProviderError::ChecksFailed(_)
            | ProviderError::SecretsRequired(_)
            | ProviderError::BadBaseUrl(_) => Fault::Invalid,
        }
    }
}

impl From<StoreError> for ProviderError {
    fn from(e: StoreError) -> Self {
        ProviderError::Store(e)
    }
}

/// A secret field when editing: keep what is stored, or replace it.
#[derive(Debug, Clone)]
pub enum SecretInput {
    Keep,
    Replace(Secret),
}

/// The directory step as edited.
#[derive(Debug, Clone)]
pub enum DirectoryInput {
    Off,
    ServiceApp { client_id: String, private_key: SecretInput },
    ApiToken(SecretInput),
}

/// The whole wizard, as submitted at Finish or on an edit's save.
#[derive(Debug, Clone)]
pub struct ProviderInput {
    pub kind: ProviderKind,
    pub name: String,
    pub base_url: String,
    pub client_id: String,
    pub client_secret: SecretInput,
    pub auth_server: AuthServer,
    pub scopes: String,
    pub groups_claim: String,
    pub pkce: bool,
    /// `None` keeps the stored value (a new provider: on for Okta, off otherwise).
    pub asserts_verified_email: Option<bool>,
    pub directory: DirectoryInput,
    /// Saves even when another provider has the same issuer and client ID.
    pub connect_again: bool,
    /// Runs every check and the refusals a save would meet, and saves nothing.
    pub dry_run: bool,
}

/// What the list and the edit form show: never a secret, only whether one is set.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ProviderView {
    pub id: String,
    pub kind: ProviderKind,
    pub name: String,
    pub base_url: String,
    pub issuer: String,
    pub auth_server: String,
    pub client_id: String,
    pub client_secret_set: bool,
    pub scopes: String,
    pub groups_claim: String,
    pub pkce: bool,
    pub asserts_verified_email: bool,
    /// `off`, `service_app` or `api_token`.
    pub directory_mode: String,
    pub directory_client_id: Option<String>,
    pub directory_secret_set: bool,
    pub enabled: bool,
    pub last_test_at: Option<i64>,
    pub last_test_ok: Option<bool>,
    pub last_test_summary: Option<String>,
    pub group_count: i64,
}

/// The result of Finish.
#[derive(Debug, Clone)]
pub struct Saved {
    pub id: String,
    pub report: Report,
    pub groups_stored: usize,
    pub user_count: Option<u64>,
    /// The ids of the groups the checks fetched (and the save stores).
    pub groups: Vec<String>,
}

/// A save checked and sealed, its writes not yet made: see [`ProviderService::commit`].
#[derive(Debug)]
pub struct Prepared {
    pub saved: Saved,
    pub writes: Vec<Write>,
    /// The audit event, without the counts only the writes know.
    pub event: Event,
}

#[derive(Clone, Debug)]
pub struct ProviderService {
    store: Store,
    audit: Audit,
    secrets: SecretBox,
    outbound: Outbound,
    redirect_uri: String,
}

/// Where a provider's secret is sealed: the associated data that binds it to its row and field.
pub fn secret_context(id: &str, field: &str) -> String {
    format!("identity_provider/{id}/{field}")
}

impl ProviderService {
    pub fn new(store: Store, secrets: SecretBox, outbound: Outbound, redirect_uri: String) -> Self {
        let audit = Audit::new(store.clone());
        Self { store, audit, secrets, outbound, redirect_uri }
    }

    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Step 1's Continue; `editing` is the provider being edited, if any. The same app
    /// connected already is a warning here and refused at Finish unless confirmed.
    pub async fn check_client(&self, s: &ClientSettings, editing: Option<&str>) -> ClientCheckOutcome {
        let mut outcome = check_client(&self.outbound, s, &self.redirect_uri).await;
        if let Some(n) = outcome.normalized.as_ref().filter(|_| outcome.report.ok()) {
            match self.same_app(&n.issuer, &s.client_id, editing).await {
                Ok(Some(other)) => outcome.report.checks.push(Check {
                    id: "duplicate".into(),
                    title: "Not connected already".into(),
                    status: Status::Warning,
                    duration_ms: 0,
                    detail: format!(
                        "'{}' is connected already with this issuer and client ID. A second connection shows a second, identical sign-in button.",
                        other.name
                    ),
                    fix: Some(format!(
                        "Edit '{}' instead; or, to connect the same app twice on purpose, confirm at Finish.",
                        other.name
                    )),
                }),
                Ok(None) => {}
                // The checks stand on their own; Finish looks again and refuses on a store error.
                Err(e) => tracing::warn!(error = %e, "could not look for the same app connected already"),
            }
        }
        outcome
    }

    /// Another provider with this issuer and client ID: the same app.
    async fn same_app(
        &self,
        issuer: &str,
        client_id: &str,
        except: Option<&str>,
    ) -> Result<Option<ProviderRow>, StoreError> {
        let issuer = issuer.trim_end_matches('/');
        Ok(self.store.providers().await?.into_iter().find(|p| {
            Some(p.id.as_str()) != except && p.issuer.trim_end_matches('/') == issuer && p.client_id == client_id.trim()
        }))
    }

    /// Which of `ids` are people of the org `input` connects, asked of Okta with its directory
    /// credentials (none: no one is found).
    pub async fn find_users(&self, input: &ProviderInput, ids: &[String]) -> Result<HashSet<String>, ProviderError> {
        let org = super::normalize::normalize(input.kind, &input.base_url, &input.auth_server)
            .map_err(|e| ProviderError::BadBaseUrl(e.to_string()))?;
        let Some(auth) = resolve_directory(&input.directory, None, &self.secrets, "")? else {
            return Ok(HashSet::new());
        };
        find_users(&self.outbound, &org.base_url, &auth, ids)
            .await
            .map_err(|e| ProviderError::BadBaseUrl(format!("Looking up the people its policies name: {e}")))
    }

    /// Step 2's Continue, against the org of step 1's settings (normalised as step 1 does).
    pub async fn check_directory(
        &self,
        settings: &ClientSettings,
        auth: &DirectoryAuth,
    ) -> Result<DirectoryCheckOutcome, ProviderError> {
        let org = super::normalize::normalize(settings.kind, &settings.base_url, &settings.auth_server)
            .map_err(|e| ProviderError::BadBaseUrl(e.to_string()))?;
        Ok(check_directory(&self.outbound, &org.base_url, auth).await)
    }

    fn client_settings(&self, input: &ProviderInput, secret: Secret) -> ClientSettings {
        ClientSettings {
            kind: input.kind,
            name: input.name.trim().to_string(),
            base_url: input.base_url.clone(),
            client_id: input.client_id.trim().to_string(),
            client_secret: secret,
            auth_server: input.auth_server.clone(),
            scopes: parse_scopes(&input.scopes),
            groups_claim: if input.groups_claim.trim().is_empty() {
                super::DEFAULT_GROUPS_CLAIM.to_string()
            } else {
                input.groups_claim.trim().to_string()
            },
            pkce: input.pkce,
        }
    }

    /// Runs every check on complete settings; the combined report, and what they found.
    async fn check_all(
        &self,
        settings: &ClientSettings,
        directory: Option<&DirectoryAuth>,
    ) -> (Report, ClientCheckOutcome, Option<DirectoryCheckOutcome>) {
        let client = check_client(&self.outbound, settings, &self.redirect_uri).await;
        let mut report = client.report.clone();
        let mut dir = None;
        if let (Some(auth), Some(n)) = (directory, &client.normalized) {
            if client.report.ok() {
                let outcome = check_directory(&self.outbound, &n.base_url, auth).await;
                report.checks.extend(outcome.report.checks.clone());
                report.total_ms += outcome.report.total_ms;
                dir = Some(outcome);
            }
        }
        if client.report.ok() {
            report.checks.push(groups_source_check(settings, client.discovery.as_ref(), directory.is_some()));
        }
        (report, client, dir)
    }

    /// Finish: checks everything again on the server, then saves, with the groups it fetched.
    /// Admin only: a provider is a new source of identities, and a sign-in whose verified email
    /// matches an existing account is linked to it.
    pub async fn create(
        &self,
        actor: &Actor,
        role: Role,
        ip: Option<&str>,
        input: ProviderInput,
    ) -> Result<Saved, ProviderError> {
        let prepared = self.prepare_create(actor, role, ip, input).await?;
        self.commit(prepared).await
    }

    /// Everything [`Self::create`] checks and seals, as writes not yet made (a configuration
    /// document commits them with the rest of its changes).
    pub async fn prepare_create(
        &self,
        actor: &Actor,
        role: Role,
        ip: Option<&str>,
        input: ProviderInput,
    ) -> Result<Prepared, ProviderError> {
        if role < Role::Admin {
            return Err(ProviderError::AdminOnly("connect an identity provider"));
        }
        check_name(&input.name)?;
        let id = new_id();
        let secret = match &input.client_secret {
            SecretInput::Replace(s) => s.clone(),
            SecretInput::Keep => Secret::new(""),
        };
        let directory = resolve_directory(&input.directory, None, &self.secrets, &id)?;
        self.prepare(actor, role, ip, &id, input, secret, directory, None).await
    }

    /// Edit's save: secrets left blank keep their stored values; re-checks before saving.
    ///
    /// Re-pointing (Base URL, authorization server, client ID or kind) is another provider in
    /// the old one's place: Admin only, with every secret typed again (stored ones never go to
    /// a new host), and the people linked through the old endpoint are detached, so nobody is
    /// signed in as an existing account by an issuer that never vouched for it.
    pub async fn update(
        &self,
        actor: &Actor,
        role: Role,
        ip: Option<&str>,
        id: &str,
        input: ProviderInput,
    ) -> Result<Saved, ProviderError> {
        let prepared = self.prepare_update(actor, role, ip, id, input).await?;
        self.commit(prepared).await
    }

    /// [`Self::update`]'s checks and writes, not yet made.
    pub async fn prepare_update(
        &self,
        actor: &Actor,
        role: Role,
        ip: Option<&str>,
        id: &str,
        input: ProviderInput,
    ) -> Result<Prepared, ProviderError> {
        check_name(&input.name)?;
        let existing = self.store.provider(id).await?.ok_or(ProviderError::NotFound)?;
        let repointed = repoints(&existing, &input)?;
        if role < Role::Admin && reshapes(&existing, &input) {
            // The groups claim, scopes and directory decide which groups (and so which roles)
            // people get: a claim people set themselves would make anyone an Admin.
            return Err(ProviderError::AdminOnly(
                "change where a provider's groups come from (groups claim, scopes, directory synchronization)",
            ));
        }
        if input.asserts_verified_email.is_some_and(|v| v != existing.asserts_verified_email) && role < Role::Admin {
            // Trusting a provider's emails decides which accounts its sign-ins are linked to.
            return Err(ProviderError::AdminOnly("change whether a provider's emails count as verified"));
        }
        if repointed {
            if role < Role::Admin {
                return Err(ProviderError::AdminOnly(
                    "change a provider's Base URL, authorization server or client ID",
                ));
            }
            let directory_kept = match &input.directory {
                DirectoryInput::Off => false,
                DirectoryInput::ServiceApp { private_key, .. } => matches!(private_key, SecretInput::Keep),
                DirectoryInput::ApiToken(token) => matches!(token, SecretInput::Keep),
            };
            if directory_kept {
                return Err(ProviderError::SecretsRequired(" and the directory credentials"));
            }
            if matches!(input.client_secret, SecretInput::Keep) {
                return Err(ProviderError::SecretsRequired(""));
            }
        }
        let secret = match &input.client_secret {
            SecretInput::Replace(s) => s.clone(),
            SecretInput::Keep => {
                self.secrets.open(&secret_context(id, "client_secret"), &existing.client_secret_sealed)?
            }
        };
        let directory = resolve_directory(&input.directory, Some(&existing), &self.secrets, id)?;
        self.prepare(actor, role, ip, id, input, secret, directory, Some(existing)).await
    }

    /// Makes a prepared save's writes, audited in the same transaction.
    pub async fn commit(&self, prepared: Prepared) -> Result<Saved, ProviderError> {
        let Prepared { saved, writes, event } = prepared;
        if writes.is_empty() {
            return Ok(saved);
        }
        let detach_at = writes.iter().position(|w| matches!(w, Write::DetachIdentities { .. }));
        let name = match writes.first() {
            Some(Write::SaveProvider { row, .. }) => row.name.clone(),
            _ => String::new(),
        };
        self.store
            .commit(&writes, |counts| {
                event.detail("identities_detached", detach_at.map_or(0, |i| counts[i])).into_record()
            })
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => ProviderError::NameTaken(name),
                other => ProviderError::Store(other),
            })?;
        Ok(saved)
    }

    #[allow(clippy::too_many_arguments)]
    async fn prepare(
        &self,
        actor: &Actor,
        role: Role,
        ip: Option<&str>,
        id: &str,
        input: ProviderInput,
        secret: Secret,
        directory: Option<DirectoryAuth>,
        existing: Option<ProviderRow>,
    ) -> Result<Prepared, ProviderError> {
        let (asserts_verified_email, connect_again, dry_run) =
            (input.asserts_verified_email, input.connect_again, input.dry_run);
        let settings = self.client_settings(&input, secret);
        let (report, client, dir) = self.check_all(&settings, directory.as_ref()).await;
        let normalized = match (&client.normalized, report.ok()) {
            (Some(n), true) => n.clone(),
            _ => return Err(ProviderError::ChecksFailed(Box::new(report))),
        };
        // Only a save that makes it the same app as another asks: an edit of one of two
        // connections made on purpose does not.
        let becomes_same_app = existing.as_ref().is_none_or(|e| {
            e.issuer.trim_end_matches('/') != normalized.issuer.trim_end_matches('/')
                || e.client_id != settings.client_id
        });
        if becomes_same_app && !connect_again {
            if let Some(other) = self.same_app(&normalized.issuer, &settings.client_id, Some(id)).await? {
                return Err(ProviderError::AlreadyConnected(other.name));
            }
        }
        // Same Base URL, another issuer in its discovery document: another provider, as above.
        if role < Role::Admin && existing.as_ref().is_some_and(|e| e.issuer != normalized.issuer) {
            return Err(ProviderError::AdminOnly("accept a provider whose issuer changed"));
        }
        if dry_run {
            let user_count = dir.as_ref().and_then(|d| d.user_count);
            let saved = Saved { id: id.to_string(), report, groups_stored: 0, user_count, groups: Vec::new() };
            return Ok(Prepared {
                saved,
                writes: Vec::new(),
                event: Event::new(actor.clone(), Action::ProviderUpdated),
            });
        }
        let (mode, dir_client_id, dir_secret) = match &directory {
            None => ("off", None, None),
            Some(DirectoryAuth::ServiceApp { client_id, private_key }) => (
                "service_app",
                Some(client_id.trim().to_string()),
                Some(self.secrets.seal(&secret_context(id, "directory_secret"), private_key.expose())),
            ),
            Some(DirectoryAuth::ApiToken(token)) => (
                "api_token",
                None,
                Some(self.secrets.seal(&secret_context(id, "directory_secret"), token.expose().trim())),
            ),
        };
        let now = now_ms();
        let row = ProviderRow {
            id: id.to_string(),
            kind: settings.kind.as_str().to_string(),
            name: settings.name.clone(),
            base_url: normalized.base_url.clone(),
            issuer: normalized.issuer.clone(),
            auth_server: match &normalized.auth_server {
                AuthServer::Org => None,
                AuthServer::Custom(s) => Some(s.clone()),
            },
            client_id: settings.client_id.clone(),
            client_secret_sealed: self
                .secrets
                .seal(&secret_context(id, "client_secret"), settings.client_secret.expose()),
            scopes: settings.scopes.join(" "),
            groups_claim: settings.groups_claim.clone(),
            pkce: settings.pkce,
            directory_mode: mode.to_string(),
            directory_client_id: dir_client_id,
            directory_secret_sealed: dir_secret,
            enabled: existing.as_ref().is_none_or(|e| e.enabled),
            discovery: client.discovery.as_ref().and_then(|d| serde_json::to_string(&DiscoveryRecord::from(d)).ok()),
            last_test_at: Some(now),
            last_test_ok: Some(true),
            last_test_summary: Some(report.summary()),
            last_test_report: serde_json::to_string(&report).ok(),
            created_at: existing.as_ref().map_or(now, |e| e.created_at),
            updated_at: now,
            // A new provider's default; saving again keeps the stored value.
            asserts_verified_email: asserts_verified_email.unwrap_or_else(|| {
                existing.as_ref().map_or(settings.kind.as_str() == "okta", |e| e.asserts_verified_email)
            }),
        };
        let groups: Vec<GroupInput> = dir
            .as_ref()
            .map(|d| {
                d.groups
                    .iter()
                    .map(|g| GroupInput {
                        external_id: g.id.clone(),
                        name: g.profile.name.clone(),
                        description: g.profile.description.clone(),
                        kind: g.kind.clone(),
                        last_updated: g.last_updated.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut writes =
            vec![Write::SaveProvider { row: Box::new(row.clone()), groups: groups.clone(), source: "wizard" }];
        // Saving keeps the stored flag (see `save_provider`); a deliberate change is written here.
        if let (Some(old), Some(new)) = (&existing, asserts_verified_email) {
            if old.asserts_verified_email != new {
                writes.push(Write::SetProviderAssertsVerifiedEmail { id: id.to_string(), asserts: new });
            }
        }
        // The discovered issuer is part of the endpoint too: a Base URL that now names another
        // issuer vouches for other people.
        let repointed = existing.as_ref().is_some_and(|e| {
            e.base_url != row.base_url
                || e.issuer != row.issuer
                || e.auth_server != row.auth_server
                || e.client_id != row.client_id
                || e.kind != row.kind
        });
        if repointed {
            writes.push(Write::DetachIdentities { provider_id: id.to_string() });
        }
        let action = if existing.is_some() { Action::ProviderUpdated } else { Action::ProviderCreated };
        let event = Event::new(actor.clone(), action)
            .target(row.name.clone())
            .detail("endpoint_changed", repointed)
            .ip(ip)
            .detail("provider_id", row.id.clone())
            .detail("kind", row.kind.clone())
            .detail("base_url", row.base_url.clone())
            .detail("client_id", row.client_id.clone())
            .detail("directory", mode)
            .detail("groups_stored", groups.len());
        let saved = Saved {
            id: id.to_string(),
            report,
            groups_stored: groups.len(),
            user_count: dir.and_then(|d| d.user_count),
            groups: groups.into_iter().map(|g| g.external_id).collect(),
        };
        Ok(Prepared { saved, writes, event })
    }

    /// Test connection: every check again, on the saved settings; the result is stored.
    pub async fn test(&self, actor: &Actor, ip: Option<&str>, id: &str) -> Result<Report, ProviderError> {
        let row = self.store.provider(id).await?.ok_or(ProviderError::NotFound)?;
        let secret = self.secrets.open(&secret_context(id, "client_secret"), &row.client_secret_sealed)?;
        let settings = ClientSettings {
            kind: ProviderKind::parse(&row.kind).unwrap_or(ProviderKind::Oidc),
            name: row.name.clone(),
            base_url: row.base_url.clone(),
            client_id: row.client_id.clone(),
            client_secret: secret,
            auth_server: row.auth_server.clone().map(AuthServer::Custom).unwrap_or(AuthServer::Org),
            scopes: parse_scopes(&row.scopes),
            groups_claim: row.groups_claim.clone(),
            pkce: row.pkce,
        };
        let directory = stored_directory(&row, &self.secrets)?;
        let (report, client, _) = self.check_all(&settings, directory.as_ref()).await;
        let discovery = client.discovery.as_ref().and_then(|d| serde_json::to_string(&DiscoveryRecord::from(d)).ok());
        self.store
            .record_provider_test(
                id,
                report.ok(),
                &report.summary(),
                &serde_json::to_string(&report).unwrap_or_default(),
                discovery.as_deref(),
            )
            .await?;
        let mut event = Event::new(actor.clone(), Action::ProviderTested)
            .target(row.name.clone())
            .ip(ip)
            .detail("provider_id", id)
            .detail("result", report.summary());
        if !report.ok() {
            event = event.failed();
        }
        self.audit.record_or_log(event).await;
        Ok(report)
    }

    pub async fn list(&self) -> Result<Vec<ProviderView>, ProviderError> {
        let mut out = Vec::new();
        for row in self.store.providers().await? {
            let count = self.store.count_provider_groups(&row.id).await?;
            out.push(view(row, count));
        }
        Ok(out)
    }

    pub async fn get(&self, id: &str) -> Result<ProviderView, ProviderError> {
        let row = self.store.provider(id).await?.ok_or(ProviderError::NotFound)?;
        let count = self.store.count_provider_groups(id).await?;
        Ok(view(row, count))
    }

    /// The last stored report, for the list's detail view.
    pub async fn last_report(&self, id: &str) -> Result<Option<Report>, ProviderError> {
        let row = self.store.provider(id).await?.ok_or(ProviderError::NotFound)?;
        Ok(row.last_test_report.and_then(|r| serde_json::from_str(&r).ok()))
    }

    /// Disabling ends every session the provider granted (console and applications); enabling
    /// trusts its identities again, so it is Admin only.
    pub async fn set_enabled(
        &self,
        actor: &Actor,
        role: Role,
        ip: Option<&str>,
        id: &str,
        enabled: bool,
    ) -> Result<(), ProviderError> {
        if enabled && role < Role::Admin {
            return Err(ProviderError::AdminOnly("enable an identity provider"));
        }
        let row = self.store.provider(id).await?.ok_or(ProviderError::NotFound)?;
        self.store.set_provider_enabled(id, enabled).await?;
        let ended = if enabled { 0 } else { self.store.end_provider_sessions(id, false).await? };
        let action = if enabled { Action::ProviderEnabled } else { Action::ProviderDisabled };
        self.audit
            .record_or_log(
                Event::new(actor.clone(), action)
                    .target(row.name)
                    .ip(ip)
                    .detail("provider_id", id)
                    .detail("sessions_ended", ended),
            )
            .await;
        Ok(())
    }

    pub async fn delete(&self, actor: &Actor, role: Role, ip: Option<&str>, id: &str) -> Result<(), ProviderError> {
        if role < Role::Admin {
            return Err(ProviderError::AdminOnly("delete an identity provider"));
        }
        let row = self.store.provider(id).await?.ok_or(ProviderError::NotFound)?;
        self.store.delete_provider(id).await?;
        self.audit
            .record_or_log(
                Event::new(actor.clone(), Action::ProviderDeleted).target(row.name).ip(ip).detail("provider_id", id),
            )
            .await;
        Ok(())
    }
}

/// Whether an edit points the provider somewhere else: compared after the same normalisation
/// the checks apply, so retyping the stored Base URL with a trailing slash is not a change.
fn repoints(existing: &ProviderRow, input: &ProviderInput) -> Result<bool, ProviderError> {
    let n = super::normalize::normalize(input.kind, &input.base_url, &input.auth_server)
        .map_err(|e| ProviderError::BadBaseUrl(e.to_string()))?;
    let auth_server = match &n.auth_server {
        AuthServer::Org => None,
        AuthServer::Custom(s) => Some(s.clone()),
    };
    Ok(existing.kind != input.kind.as_str()
        || existing.base_url != n.base_url
        || existing.auth_server != auth_server
        || existing.client_id != input.client_id.trim())
}

/// Whether an edit changes where people's groups come from.
fn reshapes(existing: &ProviderRow, input: &ProviderInput) -> bool {
    let claim = input.groups_claim.trim();
    let claim = if claim.is_empty() { super::DEFAULT_GROUPS_CLAIM } else { claim };
    let (mode, dir_client) = match &input.directory {
        DirectoryInput::Off => ("off", None),
        DirectoryInput::ServiceApp { client_id, .. } => ("service_app", Some(client_id.trim())),
        DirectoryInput::ApiToken(_) => ("api_token", None),
    };
    existing.groups_claim != claim
        || existing.scopes != parse_scopes(&input.scopes).join(" ")
        || existing.directory_mode != mode
        || (mode == "service_app" && existing.directory_client_id.as_deref() != dir_client)
}

fn check_name(name: &str) -> Result<(), ProviderError> {
    let n = name.trim().chars().count();
    if n == 0 || n > 100 {
        Err(ProviderError::BadName)
    } else {
        Ok(())
    }
}

/// Where role mappings will find the groups of people who sign in: the ID token's claim,
/// the directory API, or nowhere (then everyone is refused, so say so now).
fn groups_source_check(
    s: &ClientSettings,
    d: Option<&super::checks::Discovery>,
    directory: bool,
) -> super::report::Check {
    let timer = super::report::Timer::start("groups_source", "Groups for role mappings");
    let requested = s.scopes.iter().any(|x| x == "groups");
    let offered = d.is_none_or(|d| d.scopes_supported.is_empty() || d.scopes_supported.iter().any(|x| x == "groups"));
    match (requested && offered, directory) {
        (true, true) => timer.passed(format!(
            "From the ID token's '{}' claim, and from the directory API when the claim is missing or too long.",
            s.groups_claim
        )),
        (true, false) => timer.passed(format!("From the ID token's '{}' claim.", s.groups_claim)),
        (false, true) => timer.passed("From the directory API at each sign-in: the ID token will carry no groups."),
        (false, false) => timer.warning(
            "Portcullis cannot learn the groups of people who sign in: the groups scope is not requested or not offered, and directory synchronization is off. Role mappings would refuse everyone.",
            "Add the groups scope (in Okta, with a groups claim on the app or authorization server), or enable directory synchronization.",
        ),
    }
}

/// The directory credentials saved with a provider, opened; `None` when directory sync is off.
pub fn stored_directory(row: &ProviderRow, secrets: &SecretBox) -> Result<Option<DirectoryAuth>, CryptoError> {
    let open = || match &row.directory_secret_sealed {
        Some(s) => secrets.open(&secret_context(&row.id, "directory_secret"), s),
        None => Err(CryptoError::Open),
    };
    Ok(match row.directory_mode.as_str() {
        "service_app" => Some(DirectoryAuth::ServiceApp {
            client_id: row.directory_client_id.clone().unwrap_or_default(),
            private_key: open()?,
        }),
        "api_token" => Some(DirectoryAuth::ApiToken(open()?)),
        _ => None,
    })
}

/// Combines the edited directory step with what is stored: blank secrets keep the stored value.
fn resolve_directory(
    input: &DirectoryInput,
    existing: Option<&ProviderRow>,
    secrets: &SecretBox,
    id: &str,
) -> Result<Option<DirectoryAuth>, CryptoError> {
    let stored = |mode: &str| -> Result<Secret, CryptoError> {
        match existing {
            Some(row) if row.directory_mode == mode => match &row.directory_secret_sealed {
                Some(s) => secrets.open(&secret_context(id, "directory_secret"), s),
                None => Ok(Secret::new("")),
            },
            // Switching kinds needs a new secret; an empty one fails its check.
            _ => Ok(Secret::new("")),
        }
    };
    Ok(match input {
        DirectoryInput::Off => None,
        DirectoryInput::ServiceApp { client_id, private_key } => Some(DirectoryAuth::ServiceApp {
            client_id: client_id.clone(),
            private_key: match private_key {
                SecretInput::Replace(s) => s.clone(),
                SecretInput::Keep => stored("service_app")?,
            },
        }),
        DirectoryInput::ApiToken(token) => Some(DirectoryAuth::ApiToken(match token {
            SecretInput::Replace(s) => s.clone(),
            SecretInput::Keep => stored("api_token")?,
        })),
    })
}

fn view(row: ProviderRow, group_count: i64) -> ProviderView {
    ProviderView {
        kind: ProviderKind::parse(&row.kind).unwrap_or(ProviderKind::Oidc),
        auth_server: row.auth_server.clone().unwrap_or_else(|| "Org".into()),
        client_secret_set: !row.client_secret_sealed.is_empty(),
        directory_secret_set: row.directory_secret_sealed.is_some(),
        id: row.id,
        name: row.name,
        base_url: row.base_url,
        issuer: row.issuer,
        client_id: row.client_id,
        scopes: row.scopes,
        groups_claim: row.groups_claim,
        pkce: row.pkce,
        asserts_verified_email: row.asserts_verified_email,
        directory_mode: row.directory_mode,
        directory_client_id: row.directory_client_id,
        enabled: row.enabled,
        last_test_at: row.last_test_at,
        last_test_ok: row.last_test_ok,
        last_test_summary: row.last_test_summary,
        group_count,
    }
}

/// The endpoints kept from discovery, for sign-in (next issue) without a refetch.
#[derive(Serialize)]
struct DiscoveryRecord<'a> {
    issuer: &'a str,
    token_endpoint_auth_methods_supported: &'a [String],
    authorization_endpoint: Option<&'a str>,
    token_endpoint: Option<&'a str>,
    jwks_uri: Option<&'a str>,
    userinfo_endpoint: Option<&'a str>,
    end_session_endpoint: Option<&'a str>,
}

impl<'a> From<&'a super::checks::Discovery> for DiscoveryRecord<'a> {
    fn from(d: &'a super::checks::Discovery) -> Self {
        Self {
            issuer: &d.issuer,
            token_endpoint_auth_methods_supported: &d.token_endpoint_auth_methods_supported,
            authorization_endpoint: d.authorization_endpoint.as_deref(),
            token_endpoint: d.token_endpoint.as_deref(),
            jwks_uri: d.jwks_uri.as_deref(),
            userinfo_endpoint: d.userinfo_endpoint.as_deref(),
            end_session_endpoint: d.end_session_endpoint.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::report::Status;

    fn settings(scopes: &str) -> ClientSettings {
        ClientSettings {
            kind: ProviderKind::Okta,
            name: "Okta".into(),
            base_url: "https://acme.okta.com".into(),
            client_id: "c".into(),
            client_secret: Secret::new("s"),
            auth_server: AuthServer::Org,
            scopes: parse_scopes(scopes),
            groups_claim: "groups".into(),
            pkce: true,
        }
    }

    #[test]
    fn test_connection_warns_when_neither_a_groups_claim_nor_the_directory_can_supply_groups() {
        assert_eq!(groups_source_check(&settings("openid email"), None, false).status, Status::Warning);
        assert_eq!(groups_source_check(&settings("openid email"), None, true).status, Status::Passed);
        assert_eq!(groups_source_check(&settings("openid email groups"), None, false).status, Status::Passed);
    }
}
