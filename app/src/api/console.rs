//! Server functions and the data they return. Thin: each checks the caller's
//! role, calls the domain and maps the result to what the page shows.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The signed-in person, as pages see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub email: String,
    pub display_name: String,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: String,
    /// Already formatted, UTC: the browser and the server show the same text.
    pub at: String,
    pub actor: String,
    pub action: String,
    pub action_label: String,
    pub target: Option<String>,
    pub success: bool,
    pub ip: Option<String>,
    /// A line from the details, cut short: the table's column.
    pub summary: String,
    /// Every detail as (name, value), shown on demand.
    pub details: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPageData {
    pub entries: Vec<AuditEntry>,
    pub older: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingRow {
    pub name: String,
    pub value: String,
    pub help: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsOverview {
    pub rows: Vec<SettingRow>,
    pub config_file: Option<String>,
    pub version: String,
}

/// Who is signed in; `None` on the sign-in and setup pages.
#[server(endpoint = "whoami")]
pub async fn whoami() -> Result<Option<Me>, ServerFnError> {
    Ok(crate::api::ssr::signed_in().map(|u| Me {
        email: u.email,
        display_name: u.display_name,
        role: u.role.label().to_string(),
    }))
}

/// Whether `/setup` still has work to do.
#[server(endpoint = "setup_needed")]
pub async fn setup_needed() -> Result<bool, ServerFnError> {
    let services = crate::api::ssr::services()?;
    services.accounts.needs_setup().await.map_err(crate::api::ssr::internal)
}

/// A page of the audit log, newest first, filtered as the page's query string says.
#[server(endpoint = "audit_events")]
pub async fn audit_events(
    before: Option<String>,
    action: Option<String>,
    actor: Option<String>,
    target: Option<String>,
    from: Option<String>,
    to: Option<String>,
) -> Result<AuditPageData, ServerFnError> {
    use crate::api::ssr::{detail_pairs, detail_summary, fail, format_time, require, services};
    use portcullis_domain::{
        audit::{Action, AuditFilter},
        Role,
    };
    require(Role::Viewer)?;
    let filter = AuditFilter { action, actor, target, from, to };
    let page = services()?.audit.page(&filter, before, 50).await.map_err(fail)?;
    let entries = page
        .records
        .into_iter()
        .map(|r| {
            let details = detail_pairs(&r.details);
            AuditEntry {
                action_label: Action::parse(&r.action)
                    .map(|a| a.label().to_string())
                    .unwrap_or_else(|| r.action.clone()),
                at: format_time(r.at),
                id: r.id,
                actor: r.actor,
                action: r.action,
                target: r.target,
                success: r.outcome == "success",
                ip: r.ip,
                summary: detail_summary(&details),
                details,
            }
        })
        .collect();
    Ok(AuditPageData { entries, older: page.next_before })
}

/// The audit log's actions as (stable name, label), for its filter.
#[server(endpoint = "audit_actions")]
pub async fn audit_actions() -> Result<Vec<(String, String)>, ServerFnError> {
    use portcullis_domain::{audit::Action, Role};
    crate::api::ssr::require(Role::Viewer)?;
    Ok(Action::ALL.iter().map(|a| (a.as_str().to_string(), a.label().to_string())).collect())
}

/// The settings the server runs with, secrets left out.
#[server(endpoint = "console_settings")]
pub async fn console_settings() -> Result<SettingsOverview, ServerFnError> {
    use portcullis_domain::Role;
    crate::api::ssr::require(Role::Viewer)?;
    let services = crate::api::ssr::services()?;
    let s = &services.settings;
    let row = |name: &str, value: String, help: &str| SettingRow { name: name.into(), value, help: help.into() };
    let store = services.sync.store();
    let up = portcullis_domain::replica::replicas_up(store).await.unwrap_or_default();
    let me = services.replica.id();
    let runner = match up.iter().find(|r| r.runner) {
        Some(r) if r.id == me => format!("{} (this replica)", r.id),
        Some(r) => r.id.clone(),
        None => "none at the moment: another replica takes over within a minute".into(),
    };
    let replicas =
        if up.is_empty() { me.to_string() } else { up.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(", ") };
    let mut rows = vec![
        row("PORTCULLIS_LISTEN", s.listen.to_string(), "Address and port the server listens on."),
        row(
            "PORTCULLIS_PUBLIC_URL",
            s.public_base(),
            "The URL people and identity providers use to reach the console; redirect URIs are built from it.",
        ),
        row(
            "PORTCULLIS_DATABASE_URL",
            s.database_url_redacted(),
            "Where configuration and the directory are stored (credentials are not shown).",
        ),
        row("PORTCULLIS_DATA_DIR", s.data_dir.display().to_string(), "Folder for the database and key files."),
        row(
            "PORTCULLIS_SESSION_IDLE_MINUTES",
            (s.session_idle.as_secs() / 60).to_string(),
            "A session unused this long ends.",
        ),
        row(
            "PORTCULLIS_SESSION_LIFETIME_HOURS",
            (s.session_lifetime.as_secs() / 3600).to_string(),
            "A session ends this long after sign-in, used or not.",
        ),
        row(
            "PORTCULLIS_TRUSTED_PROXIES",
            s.trusted_proxies.display(),
            "Proxies whose X-Forwarded-For is believed for the client's address (audit, throttling, forward auth).",
        ),
        row(
            "Secure cookies",
            if s.secure_cookies() { "on (https)" } else { "off (http public URL)" }.into(),
            "Follows the scheme of the public URL.",
        ),
    ];
    rows.splice(
        3..3,
        [
            row(
                "Database backend",
                store.backend().label().into(),
                "SQLite for one machine; PostgreSQL when several replicas share one database.",
            ),
            row(
                "PORTCULLIS_REPLICA_ID",
                me.to_string(),
                "This replica, as the other replicas and the sync runs name it.",
            ),
            row(
                "Background runner",
                runner,
                "The one replica that runs scheduled syncs, key rotation and housekeeping.",
            ),
            row("Replicas up", replicas, "Replicas heard from in the last 30 seconds."),
        ],
    );
    Ok(SettingsOverview {
        rows,
        config_file: s.config_file.as_ref().map(|p| p.display().to_string()),
        version: env!("CARGO_PKG_VERSION").to_string(),
    })
}

/// One provider on the Overview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderStateItem {
    pub id: String,
    pub name: String,
    pub enabled: bool,
    /// "Passed 2026-12-04 10:00:00 UTC", "Failed …", "Not checked".
    pub check: String,
    pub check_ok: Option<bool>,
    /// "Full sync succeeded 2026-12-04 …", "Off", "Not synchronized yet".
    pub sync: String,
    pub problem: Option<String>,
}

/// What to do next, with where to do it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextStepItem {
    pub title: String,
    pub text: String,
    pub href: String,
    pub link: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverviewData {
    pub providers: Vec<ProviderStateItem>,
    pub applications: usize,
    pub policies: usize,
    pub role_mappings: usize,
    pub allowed_24h: i64,
    pub blocked_24h: i64,
    pub next: NextStepItem,
}

/// The console's state at a glance.
#[server(endpoint = "console/overview")]
pub async fn console_overview() -> Result<OverviewData, ServerFnError> {
    use crate::api::ssr::{format_time, internal, require, services};
    use portcullis_domain::{
        overview::NextStep,
        sync::{RunKind, RunStatus},
        Role,
    };
    require(Role::Viewer)?;
    let o = services()?.overview.get().await.map_err(internal)?;
    let providers = o
        .providers
        .into_iter()
        .map(|p| ProviderStateItem {
            check: match (p.last_test_ok, p.last_test_at) {
                (Some(true), Some(at)) => format!("Passed {}", format_time(at)),
                (Some(false), Some(at)) => format!("Failed {}", format_time(at)),
                _ => "Not checked".into(),
            },
            check_ok: p.last_test_ok,
            sync: match (&p.last_sync, p.directory) {
                (_, false) => "Off".into(),
                (None, true) => "Not synchronized yet".into(),
                (Some(r), true) => format!(
                    "{} {} {}",
                    RunKind::parse(&r.mode).map_or("Sync", |k| k.label()),
                    RunStatus::parse(&r.status).map_or(r.status.as_str(), |s| s.label()).to_lowercase(),
                    format_time(r.finished_at.unwrap_or(r.started_at)),
                ),
            },
            id: p.id,
            name: p.name,
            enabled: p.enabled,
            problem: p.problem,
        })
        .collect();
    let step = |title: &str, text: String, href: String, link: &str| NextStepItem {
        title: title.into(),
        text,
        href,
        link: link.into(),
    };
    let next = match o.next {
        NextStep::ConnectProvider => step(
            "Connect your identity provider",
            "Add Okta or another OpenID Connect provider. Portcullis checks the settings before saving them.".into(),
            "/settings/identity-providers".into(),
            "Identity providers",
        ),
        NextStep::FixProvider { name, .. } => step(
            "Fix an identity provider",
            format!("{name} needs attention: see its problem below, then run Test connection."),
            "/settings/identity-providers".into(),
            "Identity providers",
        ),
        NextStep::ReviewSync { name } => step(
            "Review a held sync",
            format!("A sync of {name} would remove more than its threshold allows: approve or discard it."),
            "/directory".into(),
            "Directory",
        ),
        NextStep::MapRoles => step(
            "Map groups to console roles",
            "Nobody can sign in with a provider until one of their groups maps to a role.".into(),
            "/settings/role-mappings".into(),
            "Role mappings",
        ),
        NextStep::CreateApplication => step(
            "Protect an application",
            "Add the application's hostnames; your reverse proxy then asks Portcullis before every request.".into(),
            "/policies/new".into(),
            "New application",
        ),
        NextStep::AddPolicy { application_id, application_name } => step(
            "Decide who may reach it",
            format!("{application_name} has no policy yet, so everyone is blocked: add an Allow policy."),
            format!("/policies/apps/{application_id}"),
            "Open the application",
        ),
        NextStep::ConnectProxy { application_id } => step(
            "Connect your proxy",
            "No request has been decided in the last 24 hours: add the configuration on the application's page to nginx, Caddy or Traefik.".into(),
            format!("/policies/apps/{application_id}"),
            "Proxy configuration",
        ),
        NextStep::AllSet => step(
            "All set",
            "Requests are being decided. Test a user to see what they can reach and why.".into(),
            "/policies/test".into(),
            "Test a user",
        ),
    };
    Ok(OverviewData {
        providers,
        applications: o.applications,
        policies: o.policies,
        role_mappings: o.role_mappings,
        allowed_24h: o.allowed_24h,
        blocked_24h: o.blocked_24h,
        next,
    })
}
