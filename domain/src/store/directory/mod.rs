//! Directory synchronization's storage: sync settings and runs, the staging tables a run
//! writes while it fetches, the final transaction that switches the directory over, and the
//! queries behind the Directory pages.

mod queries;
mod runs;
mod staging;
mod tx;

pub use queries::*;
pub use runs::*;
pub use staging::*;
pub use tx::*;

/// The console account tied to directory user `d`: the one whose identity at d's provider
/// has d's id as its subject. Never by email: anyone can hold an email at some provider.
const TIED_ACCOUNT: &str =
    "LEFT JOIN user_identities i ON i.provider_id = d.provider_id AND i.subject = d.external_id \
    LEFT JOIN users a ON a.id = i.user_id";

/// SQL: console account `a` is an admin, by its own role or through a role mapping of one of
/// its identities' providers: a group the person is in (the directory's memberships, the
/// provider's Everyone group, or the groups seen at their last sign-in), or a live session
/// with the admin role. Over-inclusive on purpose: it picks the admin setting and guards the
/// last admin.
fn admin_account(a: &str) -> String {
    format!(
        "({a}.role = 'admin' \
         OR EXISTS (SELECT 1 FROM sessions se WHERE se.user_id = {a}.id AND se.role = 'admin' \
            AND se.expires_at > CAST(strftime('%s', 'now') AS BIGINT) * 1000) \
         OR EXISTS (SELECT 1 FROM user_identities ai JOIN role_mappings rm ON rm.provider_id = ai.provider_id AND rm.role = 'admin' \
            WHERE ai.user_id = {a}.id AND ( \
                EXISTS (SELECT 1 FROM directory_users du JOIN directory_memberships dm ON dm.user_id = du.id \
                    JOIN directory_groups dg ON dg.id = dm.group_id \
                    WHERE du.provider_id = ai.provider_id AND du.external_id = ai.subject AND dg.external_id = rm.group_external_id) \
                OR EXISTS (SELECT 1 FROM directory_groups dg WHERE dg.provider_id = ai.provider_id \
                    AND dg.external_id = rm.group_external_id AND dg.kind = 'BUILT_IN') \
                OR EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid(ai.groups) THEN ai.groups ELSE '[]' END) jg \
                    WHERE jg.value = rm.group_name OR jg.value = rm.group_external_id))))"
    )
}

/// Active users the run stages as gone (`d`), their staged row (`s`) and the console
/// account tied to them by identity (`a`, see [`TIED_ACCOUNT`]). Parameters: $1 run, $2 provider.
/// Driven from the (small) staging: CROSS JOIN keeps SQLite from scanning the directory.
static CANDIDATES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "sync_stage_users s CROSS JOIN directory_users d {TIED_ACCOUNT} \
         WHERE d.provider_id = $2 AND d.external_id = s.external_id AND s.run_id = $1 AND s.change = 'gone' AND d.state = 'active' \
         AND (d.scim_changed_at IS NULL OR d.scim_changed_at < (SELECT started_at FROM sync_runs WHERE id = $1))"
    )
});
