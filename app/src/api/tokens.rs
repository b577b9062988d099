//! Settings → API tokens: list, create (shown once), revoke. Admin only, as over the API.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A token as the list shows it, times formatted on the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRow {
    pub prefix: String,
    pub name: String,
    pub role: String,
    pub allowed: String,
    pub created_by: String,
    pub created: String,
    pub last_used: String,
    pub expires: String,
    /// `active`, `expired` or `revoked`.
    pub state: String,
}

/// A token just made: the only time the browser sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewTokenShown {
    pub token: String,
    pub prefix: String,
    pub name: String,
}

#[server(endpoint = "api_tokens")]
pub async fn api_tokens() -> Result<Vec<TokenRow>, ServerFnError> {
    use crate::api::ssr::{fail, format_time, require, services};
    require(portcullis_types::Role::Admin)?;
    let now = portcullis_domain::store::now_ms();
    let tokens = services()?.tokens.list().await.map_err(fail)?;
    Ok(tokens
        .into_iter()
        .map(|t| TokenRow {
            state: t.state(now).to_string(),
            allowed: if t.allowed_cidrs.is_empty() { "Any address".into() } else { t.allowed_cidrs.join(", ") },
            last_used: match (t.last_used_at, &t.last_used_ip) {
                (Some(at), Some(ip)) => format!("{} from {ip}", format_time(at)),
                (Some(at), None) => format_time(at),
                (None, _) => "Never".into(),
            },
            created: format_time(t.created_at),
            expires: format_time(t.expires_at),
            role: t.role.label().to_string(),
            prefix: t.prefix,
            name: t.name,
            created_by: t.created_by,
        })
        .collect())
}

#[server(endpoint = "create_api_token")]
pub async fn create_api_token(
    name: String,
    role: String,
    expires_days: String,
    allowed_cidrs: String,
) -> Result<NewTokenShown, ServerFnError> {
    use crate::api::ssr::{bad_input, caller, fail, services};
    use portcullis_domain::api_tokens::NewToken;
    let by = caller(portcullis_types::Role::Admin)?;
    let role =
        portcullis_types::Role::parse(&role).ok_or_else(|| bad_input("Choose a role: Admin, Editor or Viewer."))?;
    let expires_days = expires_days
        .trim()
        .parse::<u32>()
        .map_err(|_| bad_input("Enter the number of days until the token expires, 1 to 366."))?;
    let allowed_cidrs = allowed_cidrs
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    let new = NewToken { name, role: Some(role), expires_days: Some(expires_days), allowed_cidrs };
    let (token, view) = services()?.tokens.create(&by, new).await.map_err(fail)?;
    Ok(NewTokenShown { token, prefix: view.prefix, name: view.name })
}

#[server(endpoint = "revoke_api_token")]
pub async fn revoke_api_token(prefix: String) -> Result<(), ServerFnError> {
    use crate::api::ssr::{caller, fail, services};
    let by = caller(portcullis_types::Role::Admin)?;
    services()?.tokens.revoke(&by, &prefix).await.map_err(fail)?;
    Ok(())
}
