//! Server functions for signing in with identity providers and for role mappings.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the sign-in page offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInChoices {
    /// (provider id, name)
    pub providers: Vec<(String, String)>,
    /// Password sign-in is kept for one break-glass account.
    pub local_restricted: bool,
}

/// A refusal or a test sign-in, as the pages show it (the domain's own view, no token ever).
pub use portcullis_types::sso::SignInOutcome;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappingRow {
    pub id: String,
    pub provider_name: String,
    pub group_name: String,
    pub group_id: String,
    pub in_directory: bool,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleMappingsData {
    pub mappings: Vec<MappingRow>,
    /// (id, name)
    pub providers: Vec<(String, String)>,
    /// (provider id, group id, group name): the groups Portcullis knows, for the picker.
    pub groups: Vec<(String, String, String)>,
    pub break_glass: Option<String>,
    pub can_edit: bool,
}

/// The caller's linked sign-in methods, and the providers they can link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSummary {
    pub email: String,
    /// (provider name, email at the provider)
    pub linked: Vec<(String, String)>,
    /// (id, name)
    pub linkable: Vec<(String, String)>,
    pub has_password: bool,
}

/// Anyone may ask: the sign-in page shows these before anyone is signed in.
#[server(endpoint = "sign_in_options")]
pub async fn sign_in_options() -> Result<SignInChoices, ServerFnError> {
    use crate::api::ssr::{internal, services};
    let s = services()?;
    let providers = s.sso.sign_in_options().await.map_err(internal)?;
    let local_restricted = s.accounts.break_glass_account().await.map_err(internal)?.is_some();
    Ok(SignInChoices { providers, local_restricted })
}

/// Why a sign-in was refused, for the browser that tried: who signed in and their groups. Never
/// which groups grant a role: that would tell anyone refused how to become an admin.
#[server(endpoint = "sign_in_refusal")]
pub async fn sign_in_refusal(reference: String) -> Result<Option<SignInOutcome>, ServerFnError> {
    use crate::api::ssr::{internal, request_cookie, services};
    let s = services()?;
    let cookie = request_cookie(portcullis_domain::sso::login_cookie_name(s.settings.secure_cookies()));
    s.sso.outcome(&reference, None, cookie.as_deref()).await.map_err(internal)
}

/// A test sign-in's result, for the admin who ran it.
#[server(endpoint = "test_sign_in_result")]
pub async fn test_sign_in_result(reference: String) -> Result<Option<SignInOutcome>, ServerFnError> {
    use crate::api::ssr::{internal, require, services};
    use portcullis_domain::Role;
    let user = require(Role::Editor)?;
    let s = services()?;
    s.sso.outcome(&reference, Some(&user), None).await.map_err(internal)
}

#[server(endpoint = "role_mappings")]
pub async fn role_mappings() -> Result<RoleMappingsData, ServerFnError> {
    use crate::api::ssr::{internal, require, services};
    use portcullis_domain::Role;
    let user = require(Role::Viewer)?;
    let s = services()?;
    let mappings = s
        .roles
        .list()
        .await
        .map_err(internal)?
        .into_iter()
        .map(|m| MappingRow {
            id: m.id,
            provider_name: m.provider_name,
            group_name: m.group_name,
            group_id: m.group_id,
            in_directory: m.in_directory,
            role: m.role,
        })
        .collect();
    let choices = s.sso.mapping_choices().await.map_err(internal)?;
    let break_glass = s.accounts.break_glass_account().await.map_err(internal)?;
    Ok(RoleMappingsData {
        mappings,
        providers: choices.providers,
        groups: choices.groups,
        break_glass,
        can_edit: user.role >= Role::Admin,
    })
}

/// What Add mapping did: added it, or found no group of that name (with the closest names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AddMappingOutcome {
    Added,
    UnknownGroup { message: String, closest: Vec<String> },
}

/// Role mappings decide who becomes an admin: only admins change them. A name no synced group
/// has is added only `anyway`.
#[server(endpoint = "add_role_mapping")]
pub async fn add_role_mapping(
    provider_id: String,
    group: String,
    role: String,
    #[server(default)] anyway: bool,
) -> Result<AddMappingOutcome, ServerFnError> {
    use crate::api::ssr::{caller, services};
    use portcullis_domain::{sso::roles::MappingError, Role};
    let caller = caller(Role::Admin)?;
    match services()?.roles.add(&caller, &provider_id, &group, &role, anyway).await {
        Ok(_) => Ok(AddMappingOutcome::Added),
        Err(MappingError::UnknownGroup { name, closest }) => {
            let message = MappingError::UnknownGroup { name, closest: closest.clone() }.to_string();
            Ok(AddMappingOutcome::UnknownGroup { message, closest })
        }
        Err(e) => Err(crate::api::ssr::fail(e)),
    }
}

#[server(endpoint = "set_mapping_role")]
pub async fn set_mapping_role(id: String, role: String) -> Result<(), ServerFnError> {
    use crate::api::ssr::{caller, services};
    use portcullis_domain::Role;
    let caller = caller(Role::Admin)?;
    services()?.roles.set_role(&caller, &id, &role).await.map_err(crate::api::ssr::fail)
}

#[server(endpoint = "remove_role_mapping")]
pub async fn remove_role_mapping(id: String) -> Result<(), ServerFnError> {
    use crate::api::ssr::{caller, services};
    use portcullis_domain::Role;
    let caller = caller(Role::Admin)?;
    services()?.roles.remove(&caller, &id).await.map_err(crate::api::ssr::fail)
}

/// Limits password sign-in to one admin (`Some`), or opens it again (`None`/empty).
#[server(endpoint = "set_break_glass")]
pub async fn set_break_glass(email: Option<String>) -> Result<(), ServerFnError> {
    use crate::api::ssr::{internal, require, services};
    use portcullis_domain::{accounts::RestrictError, Role};
    let user = require(Role::Admin)?;
    let email = email.filter(|e| !e.trim().is_empty());
    match services()?.accounts.restrict_local_sign_in(&user, email.as_deref()).await {
        Ok(()) => Ok(()),
        Err(RestrictError::Store(e)) => Err(internal(e)),
        Err(e @ RestrictError::NotAnAdmin) => Err(crate::api::ssr::bad_input(e)),
    }
}

#[server(endpoint = "my_account")]
pub async fn my_account() -> Result<AccountSummary, ServerFnError> {
    use crate::api::ssr::{internal, require, services};
    use portcullis_domain::Role;
    let user = require(Role::Viewer)?;
    let s = services()?;
    let methods = s.sso.sign_in_methods(&user.user_id).await.map_err(internal)?;
    Ok(AccountSummary {
        email: user.email,
        linked: methods.linked,
        linkable: methods.linkable,
        has_password: methods.has_password,
    })
}
