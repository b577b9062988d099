//! The provider's Provisioning (SCIM) page: turn it on, the base URL, tokens (shown once), the
//! deactivation alert and the last requests. Admin only: a SCIM token creates and removes people.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScimPage {
    pub provider_name: String,
    pub enabled: bool,
    /// `{PUBLIC_URL}/scim/{provider_id}/v2`
    pub base_url: String,
    /// The deactivation alert, with when it was raised.
    pub alert: Option<(String, String)>,
    pub tokens: Vec<ScimTokenRow>,
    pub requests: Vec<ScimRequestLine>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScimTokenRow {
    pub prefix: String,
    pub created_by: String,
    pub created: String,
    pub last_used: String,
    /// "Current", "Valid until …" (its grace period) or "Expired".
    pub state: String,
    pub valid: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScimRequestLine {
    pub at: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub token: String,
    pub detail: String,
}

#[server(endpoint = "scim_settings")]
pub async fn scim_settings(provider_id: String) -> Result<ScimPage, ServerFnError> {
    use crate::api::ssr::{fail, format_time, require, services};
    require(portcullis_types::Role::Admin)?;
    let s = services()?;
    let provider = s.providers.get(&provider_id).await.map_err(fail)?;
    let status = s.scim.status(&provider_id).await.map_err(fail)?;
    let now = portcullis_domain::store::now_ms();
    Ok(ScimPage {
        provider_name: provider.name,
        enabled: status.enabled,
        base_url: format!("{}/scim/{provider_id}/v2", s.settings.public_base()),
        alert: status.alert.map(|(text, at)| (text, format_time(at))),
        tokens: status
            .tokens
            .into_iter()
            .map(|t| {
                let (state, valid) = match t.expires_at {
                    None => ("Current".to_string(), true),
                    Some(at) if at > now => (format!("Valid until {}", format_time(at)), true),
                    Some(_) => ("Expired".to_string(), false),
                };
                ScimTokenRow {
                    prefix: t.prefix,
                    created_by: t.created_by,
                    created: format_time(t.created_at),
                    last_used: t.last_used_at.map(format_time).unwrap_or_else(|| "Never".into()),
                    state,
                    valid,
                }
            })
            .collect(),
        requests: status
            .requests
            .into_iter()
            .map(|r| ScimRequestLine {
                at: format_time(r.at),
                method: r.method,
                path: r.path,
                status: u16::try_from(r.status).unwrap_or(0),
                token: r.token_prefix.unwrap_or_else(|| "none or refused".into()),
                detail: r.detail.unwrap_or_default(),
            })
            .collect(),
    })
}

#[server(endpoint = "set_scim_enabled")]
pub async fn set_scim_enabled(provider_id: String, enabled: bool) -> Result<(), ServerFnError> {
    use crate::api::ssr::{caller, fail, services};
    let by = caller(portcullis_types::Role::Admin)?;
    services()?.scim.set_enabled(&by, &provider_id, enabled).await.map_err(fail)
}

/// A new token, the only time it is shown; the previous ones stay valid `grace_minutes`.
#[server(endpoint = "generate_scim_token")]
pub async fn generate_scim_token(provider_id: String, grace_minutes: String) -> Result<String, ServerFnError> {
    use crate::api::ssr::{bad_input, caller, fail, services};
    let by = caller(portcullis_types::Role::Admin)?;
    let max = portcullis_domain::scim::MAX_GRACE_MINUTES;
    let grace = grace_minutes
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|g| *g <= max)
        .ok_or_else(|| bad_input(format!("Enter how long the previous token stays valid: 0 to {max} minutes.")))?;
    let (token, _) = services()?.scim.tokens().generate(&by, &provider_id, Some(grace)).await.map_err(fail)?;
    Ok(token)
}

#[server(endpoint = "dismiss_scim_alert")]
pub async fn dismiss_scim_alert(provider_id: String) -> Result<(), ServerFnError> {
    use crate::api::ssr::{caller, fail, services};
    let by = caller(portcullis_types::Role::Admin)?;
    services()?.scim.dismiss_alert(&by, &provider_id).await.map_err(fail)
}
