-- Directory synchronization: Portcullis' copy of each provider's users, groups and
-- memberships, the runs that keep it, and each provider's sync settings.
-- Portable SQL (SQLite now, PostgreSQL later): TEXT ids, BIGINT milliseconds since the epoch.

ALTER TABLE directory_groups ADD COLUMN last_membership_updated TEXT;  -- the provider's lastMembershipUpdated
ALTER TABLE directory_groups ADD COLUMN first_seen_run TEXT;           -- the sync run that first stored it
ALTER TABLE directory_groups ADD COLUMN last_changed_run TEXT;         -- the sync run that last created or changed it

CREATE TABLE directory_users (
    id                      TEXT PRIMARY KEY,
    provider_id             TEXT NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    external_id             TEXT NOT NULL,        -- the provider's id (Okta: 00u…)
    email                   TEXT NOT NULL,        -- lower-cased; a console account with this email is this person
    login                   TEXT NOT NULL,
    first_name              TEXT NOT NULL,
    last_name               TEXT NOT NULL,
    display_name            TEXT NOT NULL,
    okta_status             TEXT NOT NULL,        -- ACTIVE, STAGED, SUSPENDED, …, DEPROVISIONED, or GONE (no longer listed)
    state                   TEXT NOT NULL,        -- 'active'; 'disabled' or 'kept' once removed in the provider
    last_updated            TEXT,                 -- the provider's lastUpdated, as of the last change stored
    fingerprint             TEXT NOT NULL,        -- hash of the stored fields: unchanged users are not rewritten
    source                  TEXT NOT NULL,        -- 'sync', 'sign_in' or 'scim'
    first_seen_run          TEXT,
    last_seen_run           TEXT,
    last_changed_run        TEXT,
    account_disabled_by_run TEXT,                 -- set when a run disabled the matching console account: restored if the user returns
    removed_at              BIGINT,
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL
);
CREATE UNIQUE INDEX directory_users_external ON directory_users (provider_id, external_id);
CREATE INDEX directory_users_email ON directory_users (email);
CREATE INDEX directory_users_display_name ON directory_users (display_name);

CREATE TABLE directory_memberships (
    group_id    TEXT NOT NULL REFERENCES directory_groups (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES directory_users (id) ON DELETE CASCADE,
    provider_id TEXT NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    source      TEXT NOT NULL,                    -- 'sync', 'sign_in' or 'scim'
    sync_run_id TEXT,                             -- the run that added it
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX directory_memberships_user ON directory_memberships (user_id);
CREATE INDEX directory_memberships_provider ON directory_memberships (provider_id);

CREATE TABLE sync_settings (
    provider_id               TEXT PRIMARY KEY REFERENCES identity_providers (id) ON DELETE CASCADE,
    enabled                   BOOLEAN NOT NULL,   -- scheduled runs
    interval_minutes          INTEGER NOT NULL,
    full_every_hours          INTEGER NOT NULL,   -- a full run at least this often; incremental runs between
    scope                     TEXT NOT NULL,      -- 'org' or 'app'
    app_id                    TEXT,               -- with scope 'app': the Okta app (0oa…)
    deprovision_action        TEXT NOT NULL,      -- 'disable', 'keep' or 'delete'
    admin_deprovision_action  TEXT NOT NULL,      -- the same, for people whose console account is an admin
    removal_threshold_percent INTEGER NOT NULL,   -- more removals than this stop the run for approval
    watermark                 TEXT,               -- Okta time (ISO 8601): the next incremental run asks for changes after it
    last_full_at              BIGINT,
    updated_at                BIGINT NOT NULL
);

CREATE TABLE sync_runs (
    id                  TEXT PRIMARY KEY,
    provider_id         TEXT NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    mode                TEXT NOT NULL,            -- 'full', 'incremental' or 'dry_run'
    scope               TEXT NOT NULL,            -- 'org' or 'app'
    trigger_kind        TEXT NOT NULL,            -- 'manual' or 'schedule'
    triggered_by        TEXT,                     -- the admin's email for manual runs
    status              TEXT NOT NULL,            -- running, succeeded, failed, awaiting_approval, approved, cancelled
    started_at          BIGINT NOT NULL,
    finished_at         BIGINT,
    users_seen          BIGINT NOT NULL DEFAULT 0,
    groups_seen         BIGINT NOT NULL DEFAULT 0,
    memberships_seen    BIGINT NOT NULL DEFAULT 0,
    created             BIGINT NOT NULL DEFAULT 0,
    updated             BIGINT NOT NULL DEFAULT 0,
    disabled            BIGINT NOT NULL DEFAULT 0,
    deleted             BIGINT NOT NULL DEFAULT 0,
    kept                BIGINT NOT NULL DEFAULT 0,
    unchanged           BIGINT NOT NULL DEFAULT 0,
    groups_created      BIGINT NOT NULL DEFAULT 0,
    groups_updated      BIGINT NOT NULL DEFAULT 0,
    groups_deleted      BIGINT NOT NULL DEFAULT 0,
    memberships_added   BIGINT NOT NULL DEFAULT 0,
    memberships_removed BIGINT NOT NULL DEFAULT 0,
    requests            BIGINT NOT NULL DEFAULT 0,
    rate_limit_waits    BIGINT NOT NULL DEFAULT 0,
    paced_waits         BIGINT NOT NULL DEFAULT 0,
    retries             BIGINT NOT NULL DEFAULT 0,
    error               TEXT,                     -- what went wrong, in plain words
    error_fix           TEXT,                     -- what to do about it
    watermark           TEXT,                     -- Okta's time when the listing began, minus a margin
    decided_by          TEXT,                     -- who approved or discarded the diff
    decided_at          BIGINT
);
CREATE INDEX sync_runs_provider ON sync_runs (provider_id, started_at);
CREATE INDEX sync_runs_status ON sync_runs (status);

-- Who a run would disable, delete or keep: shown for approval and for dry runs.
CREATE TABLE sync_run_removals (
    run_id            TEXT NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    directory_user_id TEXT NOT NULL,
    external_id       TEXT NOT NULL,
    email             TEXT NOT NULL,
    display_name      TEXT NOT NULL,
    okta_status       TEXT NOT NULL,              -- DEPROVISIONED, or GONE
    action            TEXT NOT NULL,              -- 'disable', 'delete' or 'keep'
    account_role      TEXT,                       -- the matching console account's role, if any
    PRIMARY KEY (run_id, directory_user_id)
);

-- Staging: a run writes what it fetches here, batch by batch, and switches the directory
-- over in one final transaction; a run that dies leaves the directory as it was.
CREATE TABLE sync_stage_users (
    run_id       TEXT NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    external_id  TEXT NOT NULL,
    id           TEXT NOT NULL,                   -- the row id if the user is new
    email        TEXT NOT NULL,
    login        TEXT NOT NULL,
    first_name   TEXT NOT NULL,
    last_name    TEXT NOT NULL,
    display_name TEXT NOT NULL,
    okta_status  TEXT NOT NULL,
    last_updated TEXT,
    fingerprint  TEXT NOT NULL,
    change       TEXT,                            -- set when the diff is computed: create, update, same, gone
    PRIMARY KEY (run_id, external_id)
);

CREATE TABLE sync_stage_groups (
    run_id                  TEXT NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    external_id             TEXT NOT NULL,
    id                      TEXT NOT NULL,
    name                    TEXT NOT NULL,
    description             TEXT,
    kind                    TEXT NOT NULL,
    last_updated            TEXT,
    last_membership_updated TEXT,
    relisted                BOOLEAN NOT NULL,     -- its members were fetched in this run
    change                  TEXT,
    PRIMARY KEY (run_id, external_id)
);

CREATE TABLE sync_stage_memberships (
    run_id            TEXT NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    group_external_id TEXT NOT NULL,
    user_external_id  TEXT NOT NULL,
    PRIMARY KEY (run_id, group_external_id, user_external_id)
);

-- The membership diff of a run, computed in its final transaction.
CREATE TABLE sync_stage_membership_changes (
    run_id   TEXT NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    group_id TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    change   TEXT NOT NULL,                       -- 'add' or 'remove'
    PRIMARY KEY (run_id, group_id, user_id)
);
