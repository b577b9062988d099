-- A run held for approval (or a dry run) lists the groups it would delete and the group
-- memberships it would remove, next to the users (sync_run_removals), so the admin sees
-- every removal before approving. The first rows only: the counts are on the run.

CREATE TABLE sync_run_group_removals (
    run_id      TEXT NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    external_id TEXT NOT NULL,                -- the provider's group id
    name        TEXT NOT NULL,
    members     BIGINT NOT NULL,              -- memberships that go with the group
    PRIMARY KEY (run_id, external_id)
);

CREATE TABLE sync_run_membership_removals (
    run_id            TEXT NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    group_external_id TEXT NOT NULL,
    group_name        TEXT NOT NULL,
    user_external_id  TEXT NOT NULL,
    email             TEXT NOT NULL,
    display_name      TEXT NOT NULL,
    group_deleted     BOOLEAN NOT NULL,       -- removed because the whole group goes
    PRIMARY KEY (run_id, group_external_id, user_external_id)
);
