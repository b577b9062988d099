-- PostgreSQL schema: the SQLite migrations up to 20261204000017, as one baseline. From here on
-- every change is a migration in both folders, under the same version (a test compares the
-- two schemas' tables and columns). Text compares byte-wise (COLLATE "C"), as in SQLite, so
-- ids, names and cursors order the same on both backends.

CREATE TABLE users (
    id            TEXT COLLATE "C" PRIMARY KEY,
    email         TEXT COLLATE "C" NOT NULL,          -- stored lower-cased
    display_name  TEXT COLLATE "C" NOT NULL DEFAULT '',
    password_hash TEXT COLLATE "C",                   -- argon2id PHC string; NULL for accounts without a local password
    role          TEXT COLLATE "C",                   -- 'admin', 'editor', 'viewer'; NULL: no console access
    disabled_at   BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    email_verified BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE TABLE audit_log (
    id        TEXT COLLATE "C" PRIMARY KEY,           -- UUIDv7: ordered by time
    at        BIGINT NOT NULL,
    actor_id  TEXT COLLATE "C",
    actor     TEXT COLLATE "C" NOT NULL,              -- an email, 'system' or 'anonymous'
    action    TEXT COLLATE "C" NOT NULL,
    target    TEXT COLLATE "C",
    outcome   TEXT COLLATE "C" NOT NULL,              -- 'success' or 'failure'
    ip        TEXT COLLATE "C",
    details   TEXT COLLATE "C" NOT NULL DEFAULT '{}'  -- JSON; never holds secrets
);

CREATE TABLE login_throttle (
    key               TEXT COLLATE "C" PRIMARY KEY,   -- 'account:<email>' or 'ip:<address>'
    failures          BIGINT NOT NULL,
    window_started_at BIGINT NOT NULL,
    blocked_until     BIGINT NOT NULL
);

CREATE TABLE identity_providers (
    id                      TEXT COLLATE "C" PRIMARY KEY,
    kind                    TEXT COLLATE "C" NOT NULL,        -- 'okta' or 'oidc'
    name                    TEXT COLLATE "C" NOT NULL,
    base_url                TEXT COLLATE "C" NOT NULL,        -- normalised
    issuer                  TEXT COLLATE "C" NOT NULL,        -- what discovery must state
    auth_server             TEXT COLLATE "C",                 -- Okta: NULL for Org, else the custom server id
    client_id               TEXT COLLATE "C" NOT NULL,
    client_secret_sealed    TEXT COLLATE "C" NOT NULL,
    scopes                  TEXT COLLATE "C" NOT NULL,        -- space-separated
    groups_claim            TEXT COLLATE "C" NOT NULL,
    pkce                    BOOLEAN NOT NULL,
    directory_mode          TEXT COLLATE "C" NOT NULL,        -- 'off', 'service_app' or 'api_token'
    directory_client_id     TEXT COLLATE "C",
    directory_secret_sealed TEXT COLLATE "C",                 -- the private key or the API token
    enabled                 BOOLEAN NOT NULL,
    discovery               TEXT COLLATE "C",                 -- JSON, as of the last successful check
    last_test_at            BIGINT,
    last_test_ok            BOOLEAN,
    last_test_summary       TEXT COLLATE "C",
    last_test_report        TEXT COLLATE "C",                 -- JSON report of the last check
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL,
    asserts_verified_email BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE user_identities (
    id            TEXT COLLATE "C" PRIMARY KEY,
    user_id       TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider_id   TEXT COLLATE "C" NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    subject       TEXT COLLATE "C" NOT NULL,              -- the ID token's `sub`
    email         TEXT COLLATE "C" NOT NULL,
    groups        TEXT COLLATE "C" NOT NULL DEFAULT '[]', -- JSON: the groups seen at the last sign-in or refresh
    created_at    BIGINT NOT NULL,
    last_login_at BIGINT NOT NULL,
    email_verified BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE sessions (
    id           TEXT COLLATE "C" PRIMARY KEY,        -- SHA-256 of the cookie token: a database leak yields no usable cookie
    user_id      TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,         -- absolute expiry; idle expiry is computed from last_seen_at
    ip           TEXT COLLATE "C",
    user_agent   TEXT COLLATE "C",
    identity_id TEXT COLLATE "C" REFERENCES user_identities (id) ON DELETE CASCADE,
    refresh_token_sealed TEXT COLLATE "C",
    id_token_sealed TEXT COLLATE "C",
    tokens_expire_at BIGINT,
    role TEXT COLLATE "C"
);

CREATE TABLE directory_groups (
    id           TEXT COLLATE "C" PRIMARY KEY,
    provider_id  TEXT COLLATE "C" NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    external_id  TEXT COLLATE "C" NOT NULL,                   -- the provider's id (Okta: 00g…); policies refer to this
    name         TEXT COLLATE "C" NOT NULL,
    description  TEXT COLLATE "C",
    kind         TEXT COLLATE "C" NOT NULL,                   -- OKTA_GROUP, APP_GROUP, BUILT_IN, …
    source       TEXT COLLATE "C" NOT NULL,                   -- 'wizard', 'sync', 'sign_in' or 'scim'
    last_updated TEXT COLLATE "C",                            -- the provider's lastUpdated
    synced_at    BIGINT NOT NULL,
    last_membership_updated TEXT COLLATE "C",
    first_seen_run TEXT COLLATE "C",
    last_changed_run TEXT COLLATE "C"
);

CREATE TABLE directory_users (
    id                      TEXT COLLATE "C" PRIMARY KEY,
    provider_id             TEXT COLLATE "C" NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    external_id             TEXT COLLATE "C" NOT NULL,        -- the provider's id (Okta: 00u…)
    email                   TEXT COLLATE "C" NOT NULL,        -- lower-cased; a console account with this email is this person
    login                   TEXT COLLATE "C" NOT NULL,
    first_name              TEXT COLLATE "C" NOT NULL,
    last_name               TEXT COLLATE "C" NOT NULL,
    display_name            TEXT COLLATE "C" NOT NULL,
    okta_status             TEXT COLLATE "C" NOT NULL,        -- ACTIVE, STAGED, SUSPENDED, …, DEPROVISIONED, or GONE (no longer listed)
    state                   TEXT COLLATE "C" NOT NULL,        -- 'active'; 'disabled' or 'kept' once removed in the provider
    last_updated            TEXT COLLATE "C",                 -- the provider's lastUpdated, as of the last change stored
    fingerprint             TEXT COLLATE "C" NOT NULL,        -- hash of the stored fields: unchanged users are not rewritten
    source                  TEXT COLLATE "C" NOT NULL,        -- 'sync', 'sign_in' or 'scim'
    first_seen_run          TEXT COLLATE "C",
    last_changed_run        TEXT COLLATE "C",
    account_disabled_by_run TEXT COLLATE "C",                 -- set when a run disabled the matching console account: restored if the user returns
    removed_at              BIGINT,
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL,
    scim_created_at BIGINT,
    scim_changed_at BIGINT,
    scim_external_id TEXT COLLATE "C",
    scim_display_name TEXT COLLATE "C",
    scim_email TEXT COLLATE "C",
    scim_email_primary BOOLEAN,
    scim_active BOOLEAN
);

CREATE TABLE directory_memberships (
    group_id    TEXT COLLATE "C" NOT NULL REFERENCES directory_groups (id) ON DELETE CASCADE,
    user_id     TEXT COLLATE "C" NOT NULL REFERENCES directory_users (id) ON DELETE CASCADE,
    provider_id TEXT COLLATE "C" NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    source      TEXT COLLATE "C" NOT NULL,                    -- 'sync', 'sign_in' or 'scim'
    sync_run_id TEXT COLLATE "C",                             -- the run that added it
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);

CREATE TABLE sync_settings (
    provider_id               TEXT COLLATE "C" PRIMARY KEY REFERENCES identity_providers (id) ON DELETE CASCADE,
    enabled                   BOOLEAN NOT NULL,   -- scheduled runs
    interval_minutes          BIGINT NOT NULL,
    full_every_hours          BIGINT NOT NULL,   -- a full run at least this often; incremental runs between
    scope                     TEXT COLLATE "C" NOT NULL,      -- 'org' or 'app'
    app_id                    TEXT COLLATE "C",               -- with scope 'app': the Okta app (0oa…)
    deprovision_action        TEXT COLLATE "C" NOT NULL,      -- 'disable', 'keep' or 'delete'
    admin_deprovision_action  TEXT COLLATE "C" NOT NULL,      -- the same, for people whose console account is an admin
    removal_threshold_percent BIGINT NOT NULL,   -- more removals than this stop the run for approval
    watermark                 TEXT COLLATE "C",               -- Okta time (ISO 8601): the next incremental run asks for changes after it
    last_full_at              BIGINT,
    updated_at                BIGINT NOT NULL
);

CREATE TABLE sync_runs (
    id                  TEXT COLLATE "C" PRIMARY KEY,
    provider_id         TEXT COLLATE "C" NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    mode                TEXT COLLATE "C" NOT NULL,            -- 'full', 'incremental' or 'dry_run'
    scope               TEXT COLLATE "C" NOT NULL,            -- 'org' or 'app'
    trigger_kind        TEXT COLLATE "C" NOT NULL,            -- 'manual' or 'schedule'
    triggered_by        TEXT COLLATE "C",                     -- the admin's email for manual runs
    status              TEXT COLLATE "C" NOT NULL,            -- running, succeeded, failed, awaiting_approval, approved, cancelled
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
    error               TEXT COLLATE "C",                     -- what went wrong, in plain words
    error_fix           TEXT COLLATE "C",                     -- what to do about it
    watermark           TEXT COLLATE "C",                     -- Okta's time when the listing began, minus a margin
    decided_by          TEXT COLLATE "C",                     -- who approved or discarded the diff
    decided_at          BIGINT
);

CREATE TABLE sync_run_removals (
    run_id            TEXT COLLATE "C" NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    directory_user_id TEXT COLLATE "C" NOT NULL,
    external_id       TEXT COLLATE "C" NOT NULL,
    email             TEXT COLLATE "C" NOT NULL,
    display_name      TEXT COLLATE "C" NOT NULL,
    okta_status       TEXT COLLATE "C" NOT NULL,              -- DEPROVISIONED, or GONE
    action            TEXT COLLATE "C" NOT NULL,              -- 'disable', 'delete' or 'keep'
    account_role      TEXT COLLATE "C",                       -- the matching console account's role, if any
    PRIMARY KEY (run_id, directory_user_id)
);

CREATE TABLE sync_stage_users (
    run_id       TEXT COLLATE "C" NOT NULL,
    external_id  TEXT COLLATE "C" NOT NULL,
    id           TEXT COLLATE "C" NOT NULL,                   -- the row id if the user is new
    change       TEXT COLLATE "C" NOT NULL,                   -- 'create', 'update' or 'gone' (deprovisioned, or no longer listed)
    email        TEXT COLLATE "C" NOT NULL,
    login        TEXT COLLATE "C" NOT NULL,
    first_name   TEXT COLLATE "C" NOT NULL,
    last_name    TEXT COLLATE "C" NOT NULL,
    display_name TEXT COLLATE "C" NOT NULL,
    okta_status  TEXT COLLATE "C" NOT NULL,                   -- with 'gone': DEPROVISIONED or GONE
    last_updated TEXT COLLATE "C",
    fingerprint  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (run_id, external_id)
);

CREATE TABLE sync_stage_groups (
    run_id                  TEXT COLLATE "C" NOT NULL,
    external_id             TEXT COLLATE "C" NOT NULL,
    id                      TEXT COLLATE "C" NOT NULL,
    change                  TEXT COLLATE "C" NOT NULL,        -- 'create', 'update', 'marks' (only Okta's timestamps moved) or 'gone'
    name                    TEXT COLLATE "C" NOT NULL,
    description             TEXT COLLATE "C",
    kind                    TEXT COLLATE "C" NOT NULL,
    last_updated            TEXT COLLATE "C",
    last_membership_updated TEXT COLLATE "C",
    PRIMARY KEY (run_id, external_id)
);

CREATE TABLE sync_stage_memberships (
    run_id            TEXT COLLATE "C" NOT NULL,
    group_external_id TEXT COLLATE "C" NOT NULL,
    user_external_id  TEXT COLLATE "C" NOT NULL,
    group_id          TEXT COLLATE "C" NOT NULL,              -- the rows' ids, assigned while fetching (new users and groups
    user_id           TEXT COLLATE "C" NOT NULL,              -- get theirs then): the switch-over copies without lookups
    change            TEXT COLLATE "C" NOT NULL,              -- 'add' or 'remove'
    PRIMARY KEY (run_id, group_external_id, user_external_id)
);

CREATE TABLE login_attempts (
    id                   TEXT COLLATE "C" PRIMARY KEY,    -- SHA-256 of `state`
    provider_id          TEXT COLLATE "C" NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    purpose              TEXT COLLATE "C" NOT NULL,       -- 'sign_in', 'dry_run' or 'link'
    browser_hash         TEXT COLLATE "C" NOT NULL,       -- SHA-256 of the binding cookie's value
    nonce                TEXT COLLATE "C" NOT NULL,
    pkce_verifier_sealed TEXT COLLATE "C" NOT NULL,
    return_to            TEXT COLLATE "C" NOT NULL,
    started_by           TEXT COLLATE "C",                -- the signed-in user for 'dry_run' and 'link'
    created_at           BIGINT NOT NULL,
    expires_at           BIGINT NOT NULL
);

CREATE TABLE login_outcomes (
    id          TEXT COLLATE "C" PRIMARY KEY,
    provider_id TEXT COLLATE "C" NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    kind        TEXT COLLATE "C" NOT NULL,                -- 'no_role' or 'dry_run'
    viewer      TEXT COLLATE "C",                         -- the user who may read it; NULL: the browser in browser_hash
    browser_hash TEXT COLLATE "C" NOT NULL,
    details     TEXT COLLATE "C" NOT NULL,                -- JSON; claims and groups, never tokens
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);

CREATE TABLE role_mappings (
    id                TEXT COLLATE "C" PRIMARY KEY,
    provider_id       TEXT COLLATE "C" NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    group_external_id TEXT COLLATE "C" NOT NULL,
    group_name        TEXT COLLATE "C" NOT NULL,          -- the name when the rule was made, shown when the group is not in the directory
    role              TEXT COLLATE "C" NOT NULL,          -- 'admin', 'editor' or 'viewer'
    created_by        TEXT COLLATE "C",
    created_at        BIGINT NOT NULL
);

CREATE TABLE console_settings (
    key        TEXT COLLATE "C" PRIMARY KEY,
    value      TEXT COLLATE "C" NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE applications (
    id                       TEXT COLLATE "C" PRIMARY KEY,
    name                     TEXT COLLATE "C" NOT NULL,
    session_duration_minutes BIGINT NOT NULL,
    created_at               BIGINT NOT NULL,
    updated_at               BIGINT NOT NULL
);

CREATE TABLE application_hosts (
    application_id TEXT COLLATE "C" NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    hostname       TEXT COLLATE "C" NOT NULL,                 -- lower-case, no port; '*.example.com' for one label of subdomains
    path_prefix    TEXT COLLATE "C" NOT NULL DEFAULT '/',     -- starts with '/', no trailing '/' except the root
    PRIMARY KEY (hostname, path_prefix)           -- one application per host and prefix, across applications
);

CREATE TABLE policies (
    id             TEXT COLLATE "C" PRIMARY KEY,
    application_id TEXT COLLATE "C" NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    position       BIGINT NOT NULL,               -- 0, 1, 2… within the application; Bypass and Block still go first
    name           TEXT COLLATE "C" NOT NULL,
    action         TEXT COLLATE "C" NOT NULL,                 -- 'allow', 'block' or 'bypass'
    rules          TEXT COLLATE "C" NOT NULL,                 -- JSON {"include": [...], "require": [...], "exclude": [...]}
    enabled        BOOLEAN NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

CREATE TABLE access_sessions (
    id          TEXT COLLATE "C" PRIMARY KEY,                 -- SHA-256 of the cookie token
    user_id     TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    identity_id TEXT COLLATE "C" REFERENCES user_identities (id) ON DELETE CASCADE,
    session_id  TEXT COLLATE "C",                             -- the console session it was issued from
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    application_id TEXT COLLATE "C"
);

CREATE TABLE access_handoffs (
    id                 TEXT COLLATE "C" PRIMARY KEY,          -- SHA-256 of the code
    user_id            TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    identity_id        TEXT COLLATE "C" REFERENCES user_identities (id) ON DELETE CASCADE,
    session_id         TEXT COLLATE "C" NOT NULL,             -- the console or single sign-on session it came from
    application_id     TEXT COLLATE "C" NOT NULL,
    return_to          TEXT COLLATE "C" NOT NULL,
    session_expires_at BIGINT NOT NULL,           -- when the application session will end
    expires_at         BIGINT NOT NULL            -- when the code stops working (a minute)
);

CREATE TABLE signing_keys (
    kid            TEXT COLLATE "C" PRIMARY KEY,
    private_sealed TEXT COLLATE "C" NOT NULL,
    public_jwk     TEXT COLLATE "C" NOT NULL,
    created_at     BIGINT NOT NULL
);

CREATE TABLE sync_run_group_removals (
    run_id      TEXT COLLATE "C" NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    external_id TEXT COLLATE "C" NOT NULL,                -- the provider's group id
    name        TEXT COLLATE "C" NOT NULL,
    members     BIGINT NOT NULL,              -- memberships that go with the group
    PRIMARY KEY (run_id, external_id)
);

CREATE TABLE sync_run_membership_removals (
    run_id            TEXT COLLATE "C" NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    group_external_id TEXT COLLATE "C" NOT NULL,
    group_name        TEXT COLLATE "C" NOT NULL,
    user_external_id  TEXT COLLATE "C" NOT NULL,
    email             TEXT COLLATE "C" NOT NULL,
    display_name      TEXT COLLATE "C" NOT NULL,
    group_deleted     BOOLEAN NOT NULL,       -- removed because the whole group goes
    PRIMARY KEY (run_id, group_external_id, user_external_id)
);

CREATE TABLE api_tokens (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT COLLATE "C" NOT NULL,
    prefix TEXT COLLATE "C" NOT NULL UNIQUE,
    hash TEXT COLLATE "C" NOT NULL UNIQUE,
    role TEXT COLLATE "C" NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    -- JSON array of CIDRs; empty: any address.
    allowed_cidrs TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    created_by TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_used_at BIGINT,
    last_used_ip TEXT COLLATE "C",
    revoked_at BIGINT
);

CREATE TABLE universal_logout_jtis (
    provider_id TEXT COLLATE "C" NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    jti         TEXT COLLATE "C" NOT NULL,
    expires_at  BIGINT NOT NULL,   -- the request's `exp` (ms): after it the jti can be forgotten
    PRIMARY KEY (provider_id, jti)
);

CREATE TABLE scim_tokens (
    id           TEXT COLLATE "C" PRIMARY KEY,
    provider_id  TEXT COLLATE "C" NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    token_hash   TEXT COLLATE "C" NOT NULL UNIQUE,
    prefix       TEXT COLLATE "C" NOT NULL,            -- pcst_ and 8 characters: what lists show
    created_by   TEXT COLLATE "C" NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,                   -- NULL: the current token
    last_used_at BIGINT
);

CREATE TABLE scim_settings (
    provider_id  TEXT COLLATE "C" PRIMARY KEY REFERENCES identity_providers (id) ON DELETE CASCADE,
    enabled      BOOLEAN NOT NULL,
    alert        TEXT COLLATE "C",                     -- the last burst of deactivations, until dismissed
    alert_at     BIGINT,
    updated_at   BIGINT NOT NULL
);

CREATE TABLE scim_groups (
    id           TEXT COLLATE "C" PRIMARY KEY,
    provider_id  TEXT COLLATE "C" NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    group_id     TEXT COLLATE "C" NOT NULL UNIQUE REFERENCES directory_groups (id) ON DELETE CASCADE,
    display_name TEXT COLLATE "C" NOT NULL,
    external_id  TEXT COLLATE "C",
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE TABLE scim_membership_removals (
    group_id   TEXT COLLATE "C" NOT NULL REFERENCES directory_groups (id) ON DELETE CASCADE,
    user_id    TEXT COLLATE "C" NOT NULL REFERENCES directory_users (id) ON DELETE CASCADE,
    removed_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);

CREATE TABLE scim_requests (
    id           TEXT COLLATE "C" PRIMARY KEY,
    provider_id  TEXT COLLATE "C" NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    at           BIGINT NOT NULL,
    method       TEXT COLLATE "C" NOT NULL,
    path         TEXT COLLATE "C" NOT NULL,
    status       BIGINT NOT NULL,
    token_prefix TEXT COLLATE "C",
    detail       TEXT COLLATE "C"
);

CREATE UNIQUE INDEX users_email ON users (email);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_action ON audit_log (action);
CREATE UNIQUE INDEX identity_providers_name ON identity_providers (name);
CREATE UNIQUE INDEX directory_groups_external ON directory_groups (provider_id, external_id);
CREATE INDEX directory_groups_name ON directory_groups (name);
CREATE UNIQUE INDEX directory_users_external ON directory_users (provider_id, external_id);
CREATE INDEX directory_users_email ON directory_users (email);
CREATE INDEX directory_users_display_name ON directory_users (display_name);
CREATE INDEX directory_memberships_user ON directory_memberships (user_id);
CREATE INDEX sync_runs_provider ON sync_runs (provider_id, started_at);
CREATE INDEX sync_runs_status ON sync_runs (status);
CREATE UNIQUE INDEX user_identities_subject ON user_identities (provider_id, subject);
CREATE INDEX user_identities_user ON user_identities (user_id);
CREATE INDEX login_attempts_expires ON login_attempts (expires_at);
CREATE INDEX login_outcomes_expires ON login_outcomes (expires_at);
CREATE UNIQUE INDEX role_mappings_group ON role_mappings (provider_id, group_external_id);
CREATE UNIQUE INDEX applications_name ON applications (name);
CREATE INDEX application_hosts_application ON application_hosts (application_id);
CREATE INDEX policies_application ON policies (application_id, position);
CREATE INDEX access_sessions_user ON access_sessions (user_id);
CREATE INDEX access_sessions_expires ON access_sessions (expires_at);
CREATE INDEX access_handoffs_expires ON access_handoffs (expires_at);
CREATE INDEX user_identities_provider ON user_identities (provider_id);
CREATE INDEX login_throttle_window ON login_throttle (window_started_at);
CREATE INDEX audit_log_action_at ON audit_log (action, at);
CREATE INDEX audit_log_action_id ON audit_log (action, id);
CREATE INDEX api_tokens_created ON api_tokens (created_at);
CREATE INDEX universal_logout_jtis_expires ON universal_logout_jtis (expires_at);
CREATE INDEX scim_tokens_provider ON scim_tokens (provider_id);
CREATE INDEX directory_users_login_ci ON directory_users (provider_id, lower(login));
CREATE INDEX directory_users_scim ON directory_users (provider_id, id) WHERE scim_created_at IS NOT NULL;
CREATE INDEX directory_users_removed ON directory_users (provider_id, removed_at) WHERE state <> 'active';
CREATE INDEX scim_groups_provider ON scim_groups (provider_id, display_name);
CREATE INDEX scim_requests_provider ON scim_requests (provider_id, at);

-- The few SQLite functions the store's SQL uses, with SQLite's meaning, so one statement
-- serves both backends: strftime('%s', 'now'), json_valid(text) and json_each(text).value
-- (over a JSON array of strings, as the groups columns hold).
CREATE FUNCTION strftime(format TEXT, at TEXT) RETURNS TEXT LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN format = '%s' AND at = 'now' THEN floor(extract(epoch FROM now()))::bigint::text END
$$;
CREATE FUNCTION json_valid(doc TEXT) RETURNS BOOLEAN LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    PERFORM doc::jsonb;
    RETURN doc IS NOT NULL;
EXCEPTION WHEN others THEN
    RETURN FALSE;
END
$$;
CREATE FUNCTION json_each(doc TEXT) RETURNS TABLE (value TEXT) LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(e) = 'string' THEN e #>> '{}' ELSE e::text END
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(doc::jsonb) = 'array' THEN doc::jsonb ELSE '[]'::jsonb END) AS e
$$;
