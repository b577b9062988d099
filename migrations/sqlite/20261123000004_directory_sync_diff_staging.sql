-- A run now compares what it fetches with the directory as pages arrive, and stages only
-- the differences (new, changed and gone users and groups, added and removed memberships):
-- a run over an unchanged 100k-user org stages next to nothing. Staging holds no lasting
-- data, so its tables are recreated, without foreign keys: SQLite empties a table without
-- them in one step, and stale staging is cleared by run id.

DROP TABLE sync_stage_membership_changes;
DROP TABLE sync_stage_memberships;
DROP TABLE sync_stage_groups;
DROP TABLE sync_stage_users;

CREATE TABLE sync_stage_users (
    run_id       TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    id           TEXT NOT NULL,                   -- the row id if the user is new
    change       TEXT NOT NULL,                   -- 'create', 'update' or 'gone' (deprovisioned, or no longer listed)
    email        TEXT NOT NULL,
    login        TEXT NOT NULL,
    first_name   TEXT NOT NULL,
    last_name    TEXT NOT NULL,
    display_name TEXT NOT NULL,
    okta_status  TEXT NOT NULL,                   -- with 'gone': DEPROVISIONED or GONE
    last_updated TEXT,
    fingerprint  TEXT NOT NULL,
    PRIMARY KEY (run_id, external_id)
);

CREATE TABLE sync_stage_groups (
    run_id                  TEXT NOT NULL,
    external_id             TEXT NOT NULL,
    id                      TEXT NOT NULL,
    change                  TEXT NOT NULL,        -- 'create', 'update', 'marks' (only Okta's timestamps moved) or 'gone'
    name                    TEXT NOT NULL,
    description             TEXT,
    kind                    TEXT NOT NULL,
    last_updated            TEXT,
    last_membership_updated TEXT,
    PRIMARY KEY (run_id, external_id)
);

CREATE TABLE sync_stage_memberships (
    run_id            TEXT NOT NULL,
    group_external_id TEXT NOT NULL,
    user_external_id  TEXT NOT NULL,
    group_id          TEXT NOT NULL,              -- the rows' ids, assigned while fetching (new users and groups
    user_id           TEXT NOT NULL,              -- get theirs then): the switch-over copies without lookups
    change            TEXT NOT NULL,              -- 'add' or 'remove'
    PRIMARY KEY (run_id, group_external_id, user_external_id)
);

-- "Last seen" is the provider's last successful run for every active user; writing it to
-- each row cost a full-table update per run.
ALTER TABLE directory_users DROP COLUMN last_seen_run;

-- Memberships go with their group or user; counting a provider's memberships scans.
DROP INDEX directory_memberships_provider;
