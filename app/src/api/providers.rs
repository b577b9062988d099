//! Server functions of Settings → External identity providers. Secrets travel
//! only from the browser to the server, never back.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

/// The wizard's fields. Empty secrets mean "keep the stored one" when editing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderForm {
    /// `okta` or `oidc`.
    pub kind: String,
    pub name: String,
    pub base_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub auth_server: String,
    pub scopes: String,
    pub groups_claim: String,
    pub pkce: bool,
    /// Emails from this provider count as verified for email rules and account linking
    /// even without an `email_verified` claim.
    #[serde(default)]
    pub asserts_verified_email: bool,
    pub directory: DirectoryForm,
    /// Confirmed at Finish: connect the same app (issuer and client ID) a second time.
    #[serde(default)]
    pub connect_again: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryForm {
    pub enabled: bool,
    /// `service_app` or `api_token`.
    pub mode: String,
    pub client_id: String,
    pub private_key: String,
    pub api_token: String,
}

pub use portcullis_types::provider::{Check, ProviderKind, Status};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    pub rows: Vec<Check>,
    pub ok: bool,
    pub summary: String,
    pub total_ms: u64,
    /// Step 1: the Base URL as normalised, for step 2 and the form.
    pub base_url: Option<String>,
    pub auth_server: Option<String>,
    /// Step 2: what was fetched.
    pub group_count: Option<usize>,
    pub user_count: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderListItem {
    pub id: String,
    pub kind: ProviderKind,
    pub name: String,
    pub base_url: String,
    pub enabled: bool,
    pub directory_mode: String,
    pub group_count: i64,
    pub last_test_at: Option<String>,
    pub last_test_ok: Option<bool>,
    pub last_test_summary: Option<String>,
    /// Okta providers: the endpoint Okta's Universal Logout posts to.
    pub universal_logout_url: Option<String>,
}

/// What Edit shows: the settings, and for each secret only whether it is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderEdit {
    pub id: String,
    pub form: ProviderForm,
    pub client_secret_set: bool,
    pub directory_secret_set: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedirectInfo {
    pub redirect_uri: String,
    pub sign_out_redirect_uri: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaveResult {
    pub saved: bool,
    pub id: Option<String>,
    pub report: CheckReport,
    pub message: String,
}

#[server(endpoint = "providers/wizard_info")]
pub async fn wizard_info() -> Result<RedirectInfo, ServerFnError> {
    use portcullis_domain::Role;
    crate::api::ssr::require(Role::Viewer)?;
    let s = crate::api::ssr::services()?;
    Ok(RedirectInfo {
        redirect_uri: s.providers.redirect_uri().to_string(),
        sign_out_redirect_uri: format!("{}/login", s.settings.public_base()),
    })
}

#[server(endpoint = "providers/list")]
pub async fn list_providers() -> Result<Vec<ProviderListItem>, ServerFnError> {
    use portcullis_domain::Role;
    crate::api::ssr::require(Role::Viewer)?;
    let s = crate::api::ssr::services()?;
    let views = s.providers.list().await.map_err(crate::api::ssr::fail)?;
    Ok(views
        .into_iter()
        .map(|v| ProviderListItem {
            universal_logout_url: (v.kind == ProviderKind::Okta).then(|| s.sso.universal_logout_url(&v.id)),
            kind: v.kind,
            id: v.id,
            name: v.name,
            base_url: v.base_url,
            enabled: v.enabled,
            directory_mode: v.directory_mode,
            group_count: v.group_count,
            last_test_at: v.last_test_at.map(crate::api::ssr::format_time),
            last_test_ok: v.last_test_ok,
            last_test_summary: v.last_test_summary,
        })
        .collect())
}

/// Step 1's Continue; `editing` is the provider being edited, if any.
#[server(endpoint = "providers/check_client", input = Json)]
pub async fn check_client_settings(
    form: ProviderForm,
    #[server(default)] editing: Option<String>,
) -> Result<CheckReport, ServerFnError> {
    use portcullis_domain::Role;
    crate::api::ssr::require(Role::Editor)?;
    let s = crate::api::ssr::services()?;
    let settings = server::client_settings(&form)?;
    let outcome = s.providers.check_client(&settings, editing.as_deref()).await;
    let mut report = server::report(&outcome.report);
    report.base_url = outcome.normalized.as_ref().map(|n| n.base_url.clone());
    report.auth_server = outcome.normalized.as_ref().map(|n| n.auth_server.label());
    Ok(report)
}

/// Step 2's Continue.
#[server(endpoint = "providers/check_directory", input = Json)]
pub async fn check_directory_settings(form: ProviderForm) -> Result<CheckReport, ServerFnError> {
    use portcullis_domain::Role;
    crate::api::ssr::require(Role::Editor)?;
    let s = crate::api::ssr::services()?;
    let settings = server::client_settings(&form)?;
    let Some(auth) = server::directory_auth(&form.directory) else {
        return Ok(CheckReport { ok: true, summary: "Directory synchronization is off".into(), ..Default::default() });
    };
    let outcome = s.providers.check_directory(&settings, &auth).await.map_err(crate::api::ssr::fail)?;
    let mut report = server::report(&outcome.report);
    report.group_count = report.ok.then_some(outcome.groups.len());
    report.user_count = outcome.user_count;
    Ok(report)
}

/// Finish: every check again on the server, then save.
#[server(endpoint = "providers/create", input = Json)]
pub async fn create_provider(form: ProviderForm) -> Result<SaveResult, ServerFnError> {
    use portcullis_domain::Role;
    let caller = crate::api::ssr::caller(Role::Editor)?;
    let s = crate::api::ssr::services()?;
    let input = server::provider_input(&form)?;
    server::save_result(s.providers.create(&caller.actor, caller.role, caller.ip.as_deref(), input).await)
}

/// Edit's Save.
#[server(endpoint = "providers/update", input = Json)]
pub async fn update_provider(id: String, form: ProviderForm) -> Result<SaveResult, ServerFnError> {
    use portcullis_domain::Role;
    let caller = crate::api::ssr::caller(Role::Editor)?;
    let s = crate::api::ssr::services()?;
    let input = server::provider_input(&form)?;
    server::save_result(s.providers.update(&caller.actor, caller.role, caller.ip.as_deref(), &id, input).await)
}

#[server(endpoint = "providers/get")]
pub async fn get_provider(id: String) -> Result<ProviderEdit, ServerFnError> {
    use portcullis_domain::Role;
    crate::api::ssr::require(Role::Viewer)?;
    let s = crate::api::ssr::services()?;
    let v = s.providers.get(&id).await.map_err(crate::api::ssr::fail)?;
    Ok(ProviderEdit {
        id: v.id,
        client_secret_set: v.client_secret_set,
        directory_secret_set: v.directory_secret_set,
        form: ProviderForm {
            kind: v.kind.as_str().into(),
            name: v.name,
            base_url: v.base_url,
            client_id: v.client_id,
            client_secret: String::new(),
            auth_server: v.auth_server,
            scopes: v.scopes,
            groups_claim: v.groups_claim,
            pkce: v.pkce,
            asserts_verified_email: v.asserts_verified_email,
            directory: DirectoryForm {
                enabled: v.directory_mode != "off",
                mode: if v.directory_mode == "api_token" { "api_token".into() } else { "service_app".into() },
                client_id: v.directory_client_id.unwrap_or_default(),
                private_key: String::new(),
                api_token: String::new(),
            },
            connect_again: false,
        },
    })
}

/// Test connection: every check on the saved settings.
#[server(endpoint = "providers/test")]
pub async fn test_provider(id: String) -> Result<CheckReport, ServerFnError> {
    use portcullis_domain::Role;
    let caller = crate::api::ssr::caller(Role::Editor)?;
    let s = crate::api::ssr::services()?;
    let report = s.providers.test(&caller.actor, caller.ip.as_deref(), &id).await.map_err(crate::api::ssr::fail)?;
    Ok(server::report(&report))
}

#[server(endpoint = "providers/set_enabled")]
pub async fn set_provider_enabled(id: String, enabled: bool) -> Result<(), ServerFnError> {
    use portcullis_domain::Role;
    let caller = crate::api::ssr::caller(Role::Editor)?;
    let s = crate::api::ssr::services()?;
    s.providers
        .set_enabled(&caller.actor, caller.role, caller.ip.as_deref(), &id, enabled)
        .await
        .map_err(crate::api::ssr::fail)
}

#[server(endpoint = "providers/delete")]
pub async fn delete_provider(id: String) -> Result<(), ServerFnError> {
    use portcullis_domain::Role;
    let caller = crate::api::ssr::caller(Role::Editor)?;
    let s = crate::api::ssr::services()?;
    s.providers.delete(&caller.actor, caller.role, caller.ip.as_deref(), &id).await.map_err(crate::api::ssr::fail)
}

#[cfg(feature = "ssr")]
mod server {
    use leptos::prelude::ServerFnError;
    use portcullis_domain::{
        providers::{
            directory::DirectoryAuth,
            parse_scopes,
            report::Report,
            service::{DirectoryInput, ProviderError, ProviderInput, Saved, SecretInput},
            AuthServer, ClientSettings, ProviderKind,
        },
        settings::Secret,
    };

    use super::{CheckReport, DirectoryForm, ProviderForm, SaveResult};

    pub fn kind(form: &ProviderForm) -> Result<ProviderKind, ServerFnError> {
        ProviderKind::parse(&form.kind)
            .ok_or_else(|| crate::api::ssr::bad_input("Choose Okta or Generic OpenID Connect."))
    }

    pub fn client_settings(form: &ProviderForm) -> Result<ClientSettings, ServerFnError> {
        Ok(ClientSettings {
            kind: kind(form)?,
            name: form.name.trim().to_string(),
            base_url: form.base_url.clone(),
            client_id: form.client_id.trim().to_string(),
            client_secret: Secret::new(form.client_secret.clone()),
            auth_server: AuthServer::parse(&form.auth_server),
            scopes: parse_scopes(&form.scopes),
            groups_claim: form.groups_claim.trim().to_string(),
            pkce: form.pkce,
        })
    }

    pub fn directory_auth(d: &DirectoryForm) -> Option<DirectoryAuth> {
        if !d.enabled {
            return None;
        }
        Some(if d.mode == "api_token" {
            DirectoryAuth::ApiToken(Secret::new(d.api_token.clone()))
        } else {
            DirectoryAuth::ServiceApp {
                client_id: d.client_id.clone(),
                private_key: Secret::new(d.private_key.clone()),
            }
        })
    }

    fn secret_input(value: &str) -> SecretInput {
        if value.is_empty() {
            SecretInput::Keep
        } else {
            SecretInput::Replace(Secret::new(value))
        }
    }

    pub fn provider_input(form: &ProviderForm) -> Result<ProviderInput, ServerFnError> {
        let d = &form.directory;
        Ok(ProviderInput {
            kind: kind(form)?,
            name: form.name.clone(),
            base_url: form.base_url.clone(),
            client_id: form.client_id.clone(),
            client_secret: secret_input(&form.client_secret),
            auth_server: AuthServer::parse(&form.auth_server),
            scopes: form.scopes.clone(),
            groups_claim: form.groups_claim.clone(),
            pkce: form.pkce,
            asserts_verified_email: Some(form.asserts_verified_email),
            directory: match (d.enabled, d.mode.as_str()) {
                (false, _) => DirectoryInput::Off,
                (true, "api_token") => DirectoryInput::ApiToken(secret_input(&d.api_token)),
                (true, _) => DirectoryInput::ServiceApp {
                    client_id: d.client_id.clone(),
                    private_key: secret_input(&d.private_key),
                },
            },
            connect_again: form.connect_again,
            dry_run: false,
        })
    }

    pub fn report(r: &Report) -> CheckReport {
        CheckReport {
            rows: r.checks.clone(),
            ok: r.ok(),
            summary: r.summary(),
            total_ms: r.total_ms,
            ..Default::default()
        }
    }

    pub fn save_result(result: Result<Saved, ProviderError>) -> Result<SaveResult, ServerFnError> {
        match result {
            Ok(saved) => Ok(SaveResult {
                saved: true,
                id: Some(saved.id),
                message: match saved.user_count {
                    Some(users) => format!("Saved. {} groups stored; {users} users found.", saved.groups_stored),
                    None => "Saved.".to_string(),
                },
                report: report(&saved.report),
            }),
            Err(ProviderError::ChecksFailed(r)) => Ok(SaveResult {
                saved: false,
                id: None,
                message: "The checks did not pass; nothing was saved. See the failed rows.".into(),
                report: report(&r),
            }),
            Err(e) => Err(crate::api::ssr::fail(e)),
        }
    }
}
