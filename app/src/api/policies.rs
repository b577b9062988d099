//! Server functions of the Policies pages: applications, their ordered policies, the policy
//! editor's pickers and live preview, Test a user, export and import. Thin: the work is
//! `portcullis_domain::policies::PolicyService`. Viewers read; Editors change.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

pub use portcullis_types::policy::{ProviderMatch, ProviderMatchKind, Selector};
use std::collections::BTreeMap;

/// A selector with its current label, as the editor and the list show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectorItem {
    pub selector: Selector,
    /// "Group", "Email", …
    pub kind: String,
    /// The group's current name, "Name <email>", the provider's name, the email or domain.
    pub label: String,
    /// The group, user or provider is gone: the rule matches no one.
    pub missing: bool,
}

/// A policy's rules as the editor holds them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RulesDraft {
    pub include: Vec<Selector>,
    pub require: Vec<Selector>,
    pub exclude: Vec<Selector>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostForm {
    pub hostname: String,
    /// Empty or "/": every path.
    pub path_prefix: String,
}

/// The application form. The duration is text so a typo gets a sentence, not a decode error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppForm {
    pub name: String,
    pub hosts: Vec<HostForm>,
    pub session_duration_minutes: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppSummary {
    pub id: String,
    pub name: String,
    pub hosts: Vec<HostForm>,
    pub session_duration_minutes: u32,
    pub policy_count: usize,
}

impl AppSummary {
    /// `wiki.example.com`, `example.com/admin`.
    pub fn host_labels(&self) -> Vec<String> {
        self.hosts
            .iter()
            .map(|h| {
                if h.path_prefix == "/" || h.path_prefix.is_empty() {
                    h.hostname.clone()
                } else {
                    format!("{}{}", h.hostname, h.path_prefix)
                }
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppList {
    pub apps: Vec<AppSummary>,
    pub can_edit: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyItem {
    pub id: String,
    /// From 1, as the admin arranged them.
    pub number: u32,
    /// From 1, in the order they are evaluated: Bypass and Block before Allow.
    pub evaluated: u32,
    pub name: String,
    /// `allow`, `block` or `bypass`.
    pub action: String,
    pub enabled: bool,
    pub include: Vec<SelectorItem>,
    pub require: Vec<SelectorItem>,
    pub exclude: Vec<SelectorItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppPage {
    pub app: AppSummary,
    pub policies: Vec<PolicyItem>,
    pub can_edit: bool,
    /// nginx, Caddy and Traefik configuration for this application.
    pub snippets: Vec<ProxySnippet>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxySnippet {
    pub proxy: String,
    pub language: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditorData {
    pub app: AppSummary,
    /// `None`: a new policy.
    pub policy: Option<PolicyItem>,
    /// (id, name) of identity providers, for the provider picker.
    pub providers: Vec<(String, String)>,
    pub can_edit: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyForm {
    pub name: String,
    /// `allow`, `block` or `bypass`.
    pub action: String,
    pub enabled: bool,
    pub rules: RulesDraft,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupChoice {
    pub selector: Selector,
    pub name: String,
    pub provider_name: String,
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonChoice {
    /// The directory user's row id (for Test a user).
    pub id: String,
    pub selector: Selector,
    pub email: String,
    pub display_name: String,
    pub provider_name: String,
}

impl PersonChoice {
    /// "Ada Lovelace <ada@example.com>", or the email alone.
    pub fn label(&self) -> String {
        if self.display_name.is_empty() {
            self.email.clone()
        } else {
            format!("{} <{}>", self.display_name, self.email)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewPerson {
    pub id: String,
    pub email: String,
    pub display_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewResult {
    pub matched: usize,
    pub total: usize,
    /// The first 100 matched.
    pub users: Vec<PreviewPerson>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionStep {
    pub number: u32,
    pub policy_id: String,
    pub policy_name: String,
    pub action: String,
    /// `matched`, `not_included`, `requirement_not_met`, `excluded`, `disabled`, `not_reached`.
    pub result: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionView {
    /// `allow`, `block`, `bypass` or `no_match`.
    pub outcome: String,
    /// "Allowed", "Blocked: no policy matched", …
    pub outcome_label: String,
    pub permits: bool,
    pub application_id: String,
    pub application_name: String,
    pub policy_name: Option<String>,
    pub summary: String,
    /// In evaluation order.
    pub steps: Vec<DecisionStep>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestResult {
    /// "Name <email>" of the person tested.
    pub user_label: String,
    pub user_id: String,
    pub user_email: String,
    pub decision: DecisionView,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSummary {
    pub application_id: String,
    pub created_application: bool,
    pub imported: usize,
    pub replaced: u64,
}

#[cfg(feature = "ssr")]
pub(crate) mod convert {
    use leptos::prelude::ServerFnError;
    use portcullis_domain::policies as p;

    use super::*;

    pub fn rules_in(r: &RulesDraft) -> p::Rules {
        let list = |l: &[Selector]| l.to_vec();
        p::Rules { include: list(&r.include), require: list(&r.require), exclude: list(&r.exclude) }
    }

    fn item(v: &p::SelectorView) -> SelectorItem {
        SelectorItem { selector: v.selector.clone(), kind: v.kind.clone(), label: v.label.clone(), missing: v.missing }
    }

    pub fn policy(v: &p::PolicyView) -> PolicyItem {
        let items = |l: &[p::SelectorView]| l.iter().map(item).collect();
        PolicyItem {
            id: v.policy.id.clone(),
            number: v.policy.position + 1,
            evaluated: v.evaluated,
            name: v.policy.name.clone(),
            action: v.policy.action.as_str().into(),
            enabled: v.policy.enabled,
            include: items(&v.include),
            require: items(&v.require),
            exclude: items(&v.exclude),
        }
    }

    pub fn app(a: p::Application, policy_count: usize) -> AppSummary {
        AppSummary {
            id: a.id,
            name: a.name,
            hosts: a.hosts.into_iter().map(|h| HostForm { hostname: h.hostname, path_prefix: h.path_prefix }).collect(),
            session_duration_minutes: a.session_duration_minutes,
            policy_count,
        }
    }

    pub fn app_input(f: &AppForm) -> Result<p::ApplicationInput, ServerFnError> {
        let minutes = f.session_duration_minutes.trim();
        let session_duration_minutes = minutes.parse::<u32>().map_err(|_| {
            crate::api::ssr::bad_input(format!(
                "Enter the session duration as a whole number of minutes; '{minutes}' is not one."
            ))
        })?;
        let hosts = f
            .hosts
            .iter()
            .filter(|h| !(h.hostname.trim().is_empty() && h.path_prefix.trim().is_empty()))
            .map(|h| {
                let prefix = h.path_prefix.trim();
                p::HostRule::new(h.hostname.clone(), if prefix.is_empty() { "/" } else { prefix })
            })
            .collect();
        Ok(p::ApplicationInput { name: f.name.clone(), hosts, session_duration_minutes })
    }

    pub fn policy_input(f: &PolicyForm) -> Result<p::PolicyInput, ServerFnError> {
        let action =
            p::Action::parse(&f.action).ok_or_else(|| crate::api::ssr::bad_input("Choose Allow, Block or Bypass."))?;
        Ok(p::PolicyInput { name: f.name.clone(), action, rules: rules_in(&f.rules), enabled: f.enabled })
    }

    pub fn decision(d: p::Decision) -> DecisionView {
        let outcome = match d.outcome {
            p::Outcome::Allow => "allow",
            p::Outcome::Block => "block",
            p::Outcome::Bypass => "bypass",
            p::Outcome::NoMatch => "no_match",
        };
        DecisionView {
            outcome: outcome.into(),
            outcome_label: d.outcome.label().into(),
            permits: d.outcome.permits(),
            application_id: d.application_id,
            application_name: d.application_name,
            policy_name: d.policy_name,
            summary: d.summary,
            steps: d
                .steps
                .into_iter()
                .map(|s| DecisionStep {
                    number: s.number,
                    policy_id: s.policy_id,
                    policy_name: s.policy_name,
                    action: s.action.label().into(),
                    result: match s.result {
                        p::StepResult::Matched { .. } => "matched",
                        p::StepResult::NotIncluded => "not_included",
                        p::StepResult::RequirementNotMet { .. } => "requirement_not_met",
                        p::StepResult::Excluded { .. } => "excluded",
                        p::StepResult::Disabled => "disabled",
                        p::StepResult::NotReached => "not_reached",
                    }
                    .into(),
                    reason: s.reason,
                })
                .collect(),
        }
    }

    pub fn person(u: p::UserOption) -> PersonChoice {
        PersonChoice {
            id: u.directory_user_id,
            selector: u.selector.clone(),
            email: u.email,
            display_name: u.display_name,
            provider_name: u.provider_name,
        }
    }
}

/// Every application, by name.
#[server(endpoint = "policies/applications")]
pub async fn list_applications() -> Result<AppList, ServerFnError> {
    use crate::api::ssr::{require, services};
    use portcullis_domain::Role;
    let user = require(Role::Viewer)?;
    let s = services()?.policies;
    let mut apps = Vec::new();
    for a in s.applications().await.map_err(crate::api::ssr::fail)? {
        let count = s.policies(&a.id).await.map_err(crate::api::ssr::fail)?.len();
        apps.push(convert::app(a, count));
    }
    Ok(AppList { apps, can_edit: user.role >= Role::Editor })
}

/// An application with its policies in order, with current group and user names.
#[server(endpoint = "policies/application")]
pub async fn application_page(id: String) -> Result<AppPage, ServerFnError> {
    use crate::api::ssr::{require, services};
    use portcullis_domain::Role;
    let user = require(Role::Viewer)?;
    let services = services()?;
    let s = services.policies;
    let app = s.application(&id).await.map_err(crate::api::ssr::fail)?;
    let views = s.policy_views(&id).await.map_err(crate::api::ssr::fail)?;
    let snippets = portcullis_domain::forward_auth::snippets::snippets(&app, &services.settings.public_base())
        .into_iter()
        .map(|s| ProxySnippet { proxy: s.proxy.into(), language: s.language.into(), text: s.text })
        .collect();
    Ok(AppPage {
        app: convert::app(app, views.len()),
        policies: views.iter().map(convert::policy).collect(),
        can_edit: user.role >= Role::Editor,
        snippets,
    })
}

/// Returns the new application's id.
#[server(endpoint = "policies/create_application", input = Json)]
pub async fn create_application(form: AppForm) -> Result<String, ServerFnError> {
    use crate::api::ssr::services;
    use portcullis_domain::Role;
    let caller = crate::api::ssr::caller(Role::Editor)?;
    let input = convert::app_input(&form)?;
    let app = services()?
        .policies
        .create_application(&caller.actor, caller.ip.as_deref(), &input)
        .await
        .map_err(crate::api::ssr::fail)?;
    Ok(app.id)
}

#[server(endpoint = "policies/update_application", input = Json)]
pub async fn update_application(id: String, form: AppForm) -> Result<(), ServerFnError> {
    use crate::api::ssr::services;
    use portcullis_domain::Role;
    let caller = crate::api::ssr::caller(Role::Editor)?;
    let input = convert::app_input(&form)?;
    services()?
        .policies
        .update_application(&caller.actor, caller.ip.as_deref(), &id, &input)
        .await
        .map_err(crate::api::ssr::fail)?;
    Ok(())
}

/// Deletes the application and its policies.
#[server(endpoint = "policies/delete_application")]
pub async fn delete_application(id: String) -> Result<(), ServerFnError> {
    use crate::api::ssr::services;
    use portcullis_domain::Role;
    let caller = crate::api::ssr::caller(Role::Editor)?;
    services()?
        .policies
        .delete_application(&caller.actor, caller.ip.as_deref(), &id)
        .await
        .map_err(crate::api::ssr::fail)
}

/// What the policy editor starts from; `policy_id` `None` for a new policy.
#[server(endpoint = "policies/editor")]
pub async fn policy_editor(application_id: String, policy_id: Option<String>) -> Result<EditorData, ServerFnError> {
    use crate::api::ssr::{require, services};
    use portcullis_domain::Role;
    let user = require(Role::Viewer)?;
    let s = services()?.policies;
    let app = s.application(&application_id).await.map_err(crate::api::ssr::fail)?;
    let views = s.policy_views(&application_id).await.map_err(crate::api::ssr::fail)?;
    let policy = match policy_id {
        Some(id) => Some(views.iter().find(|v| v.policy.id == id).map(convert::policy).ok_or_else(|| {
            crate::api::ssr::not_found("No such policy in this application: it may have been deleted.")
        })?),
        None => None,
    };
    let providers = s.providers().await.map_err(crate::api::ssr::fail)?;
    Ok(EditorData { app: convert::app(app, views.len()), policy, providers, can_edit: user.role >= Role::Editor })
}

/// Adds a policy after the application's last one; returns its id.
#[server(endpoint = "policies/create_policy", input = Json)]
pub async fn create_policy(application_id: String, form: PolicyForm) -> Result<String, ServerFnError> {
    use crate::api::ssr::services;
    use portcullis_domain::Role;
    let caller = crate::api::ssr::caller(Role::Editor)?;
    let input = convert::policy_input(&form)?;
    let policy = services()?
        .policies
        .create_policy(&caller.actor, caller.ip.as_deref(), &application_id, &input)
        .await
        .map_err(crate::api::ssr::fail)?;
    Ok(policy.id)
}

#[server(endpoint = "policies/update_policy", input = Json)]
pub async fn update_policy(id: String, form: PolicyForm) -> Result<(), ServerFnError> {
    use crate::api::ssr::services;
    use portcullis_domain::Role;
    let caller = crate::api::ssr::caller(Role::Editor)?;
    let input = convert::policy_input(&form)?;
    services()?
        .policies
        .update_policy(&caller.actor, caller.ip.as_deref(), &id, &input)
        .await
        .map_err(crate::api::ssr::fail)?;
    Ok(())
}

#[server(endpoint = "policies/delete_policy")]
pub async fn delete_policy(id: String) -> Result<(), ServerFnError> {
    use crate::api::ssr::services;
    use portcullis_domain::Role;
    let caller = crate::api::ssr::caller(Role::Editor)?;
    services()?.policies.delete_policy(&caller.actor, caller.ip.as_deref(), &id).await.map_err(crate::api::ssr::fail)
}

/// One place up (`up`) or down; at either end nothing changes.
#[server(endpoint = "policies/move")]
pub async fn move_policy(id: String, up: bool) -> Result<(), ServerFnError> {
    use crate::api::ssr::services;
    use portcullis_domain::{policies::Move, Role};
    let caller = crate::api::ssr::caller(Role::Editor)?;
    let to = if up { Move::Up } else { Move::Down };
    services()?
        .policies
        .move_policy(&caller.actor, caller.ip.as_deref(), &id, to)
        .await
        .map_err(crate::api::ssr::fail)?;
    Ok(())
}

/// The full order after a drag: every policy of the application once.
#[server(endpoint = "policies/reorder", input = Json)]
pub async fn reorder_policies(application_id: String, ids: Vec<String>) -> Result<(), ServerFnError> {
    use crate::api::ssr::services;
    use portcullis_domain::Role;
    let caller = crate::api::ssr::caller(Role::Editor)?;
    services()?
        .policies
        .reorder_policies(&caller.actor, caller.ip.as_deref(), &application_id, &ids)
        .await
        .map_err(crate::api::ssr::fail)?;
    Ok(())
}

/// Directory groups whose name contains `search`, for the group picker.
#[server(endpoint = "policies/search_groups")]
pub async fn search_groups(search: String) -> Result<Vec<GroupChoice>, ServerFnError> {
    use crate::api::ssr::{require, services};
    use portcullis_domain::Role;
    require(Role::Viewer)?;
    let groups = services()?.policies.search_groups(&search, 20).await.map_err(crate::api::ssr::fail)?;
    Ok(groups
        .into_iter()
        .map(|g| GroupChoice {
            selector: g.selector.clone(),
            name: g.name,
            provider_name: g.provider_name,
            kind: g.kind,
        })
        .collect())
}

/// Active directory users by name, email or login, for the user picker and Test a user.
#[server(endpoint = "policies/search_people")]
pub async fn search_people(search: String) -> Result<Vec<PersonChoice>, ServerFnError> {
    use crate::api::ssr::{require, services};
    use portcullis_domain::Role;
    require(Role::Viewer)?;
    let people = services()?.policies.search_users(&search, 20).await.map_err(crate::api::ssr::fail)?;
    Ok(people.into_iter().map(convert::person).collect())
}

/// Who the draft's rules match among active directory users.
#[server(endpoint = "policies/preview", input = Json)]
pub async fn policy_preview(application_id: String, rules: RulesDraft) -> Result<PreviewResult, ServerFnError> {
    use crate::api::ssr::{require, services};
    use portcullis_domain::Role;
    require(Role::Viewer)?;
    let preview = services()?
        .policies
        .preview(&application_id, &convert::rules_in(&rules))
        .await
        .map_err(crate::api::ssr::fail)?;
    Ok(PreviewResult {
        matched: preview.matched,
        total: preview.total,
        users: preview
            .users
            .into_iter()
            .map(|u| PreviewPerson { id: u.id, email: u.email, display_name: u.display_name })
            .collect(),
    })
}

/// The decision for a directory user on an application, and why. `user` is a directory
/// user's id, or a search (an email) that finds exactly one active user.
#[server(endpoint = "policies/test_user")]
pub async fn test_user_access(application_id: String, user: String) -> Result<TestResult, ServerFnError> {
    use crate::api::ssr::{require, services};
    use portcullis_domain::Role;
    require(Role::Viewer)?;
    let s = services()?;
    let person = s.policies.test_person(&user).await.map_err(crate::api::ssr::fail)?;
    let decision = s.policies.test_user(&person.id, &application_id).await.map_err(crate::api::ssr::fail)?;
    Ok(TestResult {
        user_id: person.id,
        user_email: person.email,
        user_label: person.label,
        decision: convert::decision(decision),
    })
}

/// How the providers a document's rules name are found here (`providers`: the
/// administrator's choices so far, file id → provider id here).
#[server(endpoint = "policies/import_plan", input = Json)]
pub async fn import_plan(
    document: String,
    #[server(default)] providers: BTreeMap<String, String>,
) -> Result<Vec<ProviderMatch>, ServerFnError> {
    use crate::api::ssr::{fail, services};
    use portcullis_domain::{policies::PolicyDocument, Role};
    crate::api::ssr::require(Role::Editor)?;
    let doc = PolicyDocument::from_json(&document).map_err(fail)?;
    services()?.policies.import_plan(&doc, &providers).await.map_err(fail)
}

/// Imports a document: into this application (`replace`: its policies become the document's;
/// else they are added after the existing ones), or as a new application when `application_id`
/// is `None`. A bad document changes nothing.
#[server(endpoint = "policies/import", input = Json)]
pub async fn import_policies(
    application_id: Option<String>,
    document: String,
    replace: bool,
    #[server(default)] providers: BTreeMap<String, String>,
) -> Result<ImportSummary, ServerFnError> {
    use crate::api::ssr::services;
    use portcullis_domain::{
        policies::{ImportMode, ImportTarget, PolicyDocument},
        Role,
    };
    let caller = crate::api::ssr::caller(Role::Editor)?;
    if document.trim().is_empty() {
        return Err(crate::api::ssr::bad_input("Paste an exported policy document (JSON) first."));
    }
    let doc = PolicyDocument::from_json(&document).map_err(crate::api::ssr::fail)?;
    let target = match application_id {
        Some(id) => ImportTarget::Existing(id),
        None => ImportTarget::New,
    };
    let mode = if replace { ImportMode::Replace } else { ImportMode::Append };
    let r = services()?
        .policies
        .import(&caller.actor, caller.ip.as_deref(), &target, &doc, mode, &providers)
        .await
        .map_err(crate::api::ssr::fail)?;
    Ok(ImportSummary {
        application_id: r.application_id,
        created_application: r.created_application,
        imported: r.imported,
        replaced: r.replaced,
    })
}
