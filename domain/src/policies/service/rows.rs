//! Between the store's rows and the policy model, and the audit details of a change.

use super::*;

/// Request text kept in an access audit row: enough to recognise, not a way to fill the log.
pub(super) const AUDIT_TEXT_MAX: usize = 512;

pub(super) fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

pub(super) fn hosts_by_app(rows: Vec<HostRow>) -> HashMap<String, Vec<HostRule>> {
    let mut map: HashMap<String, Vec<HostRule>> = HashMap::new();
    for h in rows {
        map.entry(h.application_id).or_default().push(HostRule { hostname: h.hostname, path_prefix: h.path_prefix });
    }
    map
}

pub(super) fn application_from(row: ApplicationRow, hosts: &mut HashMap<String, Vec<HostRule>>) -> Application {
    Application {
        hosts: hosts.remove(&row.id).unwrap_or_default(),
        id: row.id,
        name: row.name,
        session_duration_minutes: u32::try_from(row.session_duration_minutes)
            .unwrap_or(validate::DEFAULT_SESSION_MINUTES),
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// A new application's row, from validated input.
pub(super) fn new_application_row(input: &ApplicationInput, now: i64) -> ApplicationRow {
    ApplicationRow {
        id: new_id(),
        name: input.name.clone(),
        session_duration_minutes: i64::from(input.session_duration_minutes),
        created_at: now,
        updated_at: now,
    }
}

/// A new policy, from validated input; its position is given when it is stored.
pub(super) fn new_policy(application_id: &str, input: PolicyInput, now: i64) -> Policy {
    Policy {
        id: new_id(),
        application_id: application_id.to_string(),
        position: 0,
        name: input.name,
        action: input.action,
        rules: input.rules,
        enabled: input.enabled,
        created_at: now,
        updated_at: now,
    }
}

pub(super) fn host_rows(application_id: &str, hosts: &[HostRule]) -> Vec<HostRow> {
    hosts
        .iter()
        .map(|h| HostRow {
            application_id: application_id.to_string(),
            hostname: h.hostname.clone(),
            path_prefix: h.path_prefix.clone(),
        })
        .collect()
}

/// A stored policy. One that cannot be read (edited by hand in the database) blocks
/// everyone: failing closed beats skipping what may have been a Block.
pub(super) fn policy_from(row: PolicyRow) -> Policy {
    let action = Action::parse(&row.action);
    let rules = serde_json::from_str::<Rules>(&row.rules);
    let (name, action, rules) = match (action, rules) {
        (Some(action), Ok(rules)) => (row.name, action, rules),
        (action, rules) => {
            tracing::error!(policy_id = %row.id, action = ?action, rules_ok = rules.is_ok(), "unreadable policy: it blocks everyone");
            (
                format!("{} (unreadable: blocks everyone)", row.name),
                Action::Block,
                Rules { include: vec![Selector::Everyone], ..Default::default() },
            )
        }
    };
    Policy {
        id: row.id,
        application_id: row.application_id,
        position: u32::try_from(row.position).unwrap_or(u32::MAX),
        name,
        action,
        rules,
        enabled: row.enabled,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

pub(super) fn policy_row(p: &Policy) -> PolicyRow {
    PolicyRow {
        id: p.id.clone(),
        application_id: p.application_id.clone(),
        position: i64::from(p.position),
        name: p.name.clone(),
        action: p.action.as_str().into(),
        // Plain data with string keys: serialising cannot fail.
        rules: serde_json::to_string(&p.rules).unwrap_or_default(),
        enabled: p.enabled,
        created_at: p.created_at,
        updated_at: p.updated_at,
    }
}

pub(super) fn hosts_detail(hosts: &[HostRule]) -> Vec<String> {
    hosts.iter().map(HostRule::display).collect()
}

/// A policy for the audit log: what it does and to whom (ids, emails, domains; no secrets exist here).
pub(super) fn policy_detail(p: &Policy) -> Value {
    json!({"name": p.name, "action": p.action.as_str(), "enabled": p.enabled, "position": p.position + 1, "rules": p.rules})
}

/// A unique index refused the write (a concurrent change since the checks).
pub(super) fn conflict(e: StoreError, input: &ApplicationInput) -> PolicyError {
    match e {
        StoreError::Conflict(what) if what.contains("hostname") => PolicyError::HostTaken {
            host: hosts_detail(&input.hosts).join(", "),
            application: "another application".into(),
        },
        StoreError::Conflict(_) => PolicyError::ApplicationNameTaken(input.name.clone()),
        other => PolicyError::Store(other),
    }
}
