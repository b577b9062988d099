//! Server-side glue for server functions: the services, the caller, role checks.

use std::sync::Arc;

use http::{request::Parts, StatusCode};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use portcullis_domain::{
    api_tokens::ApiTokens,
    audit::{Actor, Audit, Caller},
    directory::DirectoryService,
    forward_auth::ForwardAuth,
    overview::OverviewService,
    policies::PolicyService,
    providers::service::ProviderService,
    sso::{roles::RoleMappings, SsoService},
    sync::SyncService,
    Accounts, Classify, ClientInfo, Role, Settings, SignedIn,
};

/// What server functions work with; the server provides it as context.
#[derive(Clone, Debug)]
pub struct Services {
    pub settings: Arc<Settings>,
    pub accounts: Accounts,
    pub audit: Audit,
    pub directory: DirectoryService,
    pub overview: OverviewService,
    pub providers: ProviderService,
    pub sync: SyncService,
    pub sso: SsoService,
    pub roles: RoleMappings,
    pub policies: PolicyService,
    pub forward_auth: ForwardAuth,
    pub tokens: ApiTokens,
    pub config: portcullis_domain::config::ConfigService,
    pub scim: portcullis_domain::scim::ScimService,
    /// This process among the replicas on the database.
    pub replica: portcullis_domain::replica::Replica,
}

pub fn services() -> Result<Services, ServerFnError> {
    use_context::<Services>().ok_or_else(|| ServerFnError::new("server misconfigured: no services in context"))
}

/// The signed-in person, as resolved from the session cookie by the server's middleware.
pub fn signed_in() -> Option<SignedIn> {
    use_context::<Parts>().and_then(|parts| parts.extensions.get::<SignedIn>().cloned())
}

/// A cookie of the request being served (the sign-in binding cookie, for the refusal page).
pub fn request_cookie(name: &str) -> Option<String> {
    let parts = use_context::<Parts>()?;
    let value = parts
        .headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(portcullis_domain::cookies::pairs)
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string());
    value
}

/// The caller's address, for the audit log.
fn client_ip() -> Option<String> {
    use_context::<Parts>().and_then(|parts| parts.extensions.get::<ClientInfo>().and_then(|c| c.ip.clone()))
}

fn actor(user: &SignedIn) -> Actor {
    Actor::User { id: user.user_id.clone(), email: user.email.clone() }
}

/// The caller, if they hold `role` or better; else 401/403 with a plain message.
pub fn require(role: Role) -> Result<SignedIn, ServerFnError> {
    let set_status = |status| {
        if let Some(response) = use_context::<ResponseOptions>() {
            response.set_status(status);
        }
    };
    match signed_in() {
        None => {
            set_status(StatusCode::UNAUTHORIZED);
            Err(ServerFnError::new(portcullis_domain::error::SESSION_ENDED))
        }
        Some(user) if user.role < role => {
            set_status(StatusCode::FORBIDDEN);
            Err(ServerFnError::new(portcullis_domain::error::role_needed(role, user.role)))
        }
        Some(user) => Ok(user),
    }
}

/// The caller, if they hold `role` or better: who they are, their role and their address,
/// as the domain's services take it. Else 401/403, as [`require`].
pub fn caller(role: Role) -> Result<Caller, ServerFnError> {
    let user = require(role)?;
    Ok(Caller { actor: actor(&user), role: user.role, ip: client_ip() })
}

/// The one mapping from a domain error to what the caller sees: a 4xx with the domain's
/// message when they can act on it, a 500 with the detail in the log when it is ours.
pub fn fail<E: Classify>(e: E) -> ServerFnError {
    if e.is_internal() {
        return internal(e);
    }
    let status = StatusCode::from_u16(e.fault().http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    if let Some(response) = use_context::<ResponseOptions>() {
        response.set_status(status);
    }
    ServerFnError::new(e.message())
}

/// Input the caller can fix (bad, missing, conflicting): a 4xx with the message shown as it
/// is. Without a status set here leptos answers 500, which reads as a server fault (and is
/// logged at ERROR by the request trace).
pub fn refuse(status: StatusCode, message: impl std::fmt::Display) -> ServerFnError {
    debug_assert!(status.is_client_error());
    if let Some(response) = use_context::<ResponseOptions>() {
        response.set_status(status);
    }
    ServerFnError::new(message)
}

/// `refuse` with 400: the input is not valid.
pub fn bad_input(message: impl std::fmt::Display) -> ServerFnError {
    refuse(StatusCode::BAD_REQUEST, message)
}

/// `refuse` with 404: what the caller named does not exist (any more).
pub fn not_found(message: impl std::fmt::Display) -> ServerFnError {
    refuse(StatusCode::NOT_FOUND, message)
}

/// Logs the detail, shows the admin a message they can act on.
pub fn internal(e: impl std::fmt::Display) -> ServerFnError {
    tracing::error!(error = %e, "server function failed");
    if let Some(response) = use_context::<ResponseOptions>() {
        response.set_status(StatusCode::INTERNAL_SERVER_ERROR);
    }
    ServerFnError::new(portcullis_domain::error::INTERNAL_MESSAGE)
}

/// `2026-11-23 14:05:09 UTC`
pub fn format_time(ms: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// `{"method":"password","reason":"wrong password"}` → `[("method", "password"), ("reason", "wrong password")]`
pub fn detail_pairs(json: &str) -> Vec<(String, String)> {
    match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json) {
        Ok(map) => map
            .into_iter()
            .map(|(k, v)| {
                let value = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k.replace('_', " "), value)
            })
            .collect(),
        Err(_) if json.is_empty() => Vec::new(),
        Err(_) => vec![("details".into(), json.to_string())],
    }
}

/// The first details on one line, each value cut at a word: the table's column.
pub fn detail_summary(pairs: &[(String, String)]) -> String {
    const VALUE_CHARS: usize = 60;
    let cut = |v: &str| {
        if v.chars().count() <= VALUE_CHARS {
            return v.to_string();
        }
        let head: String = v.chars().take(VALUE_CHARS).collect();
        let head = head.rsplit_once(' ').map(|(h, _)| h.to_string()).filter(|h| !h.is_empty()).unwrap_or(head);
        format!("{head}…")
    };
    let shown: Vec<String> = pairs.iter().take(2).map(|(k, v)| format!("{k}: {}", cut(v))).collect();
    let more = pairs.len().saturating_sub(2);
    match more {
        0 => shown.join(" · "),
        n => format!("{} · {n} more", shown.join(" · ")),
    }
}
