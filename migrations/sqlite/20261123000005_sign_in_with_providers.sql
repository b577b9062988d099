-- Sign-in with identity providers: linked identities, login attempts, role mappings,
-- console-wide settings, and what a session needs to refresh at its provider.
-- Portable SQL (SQLite now, PostgreSQL later): TEXT ids, BIGINT milliseconds since the epoch.

-- A console account signed in through a provider is keyed by (provider, sub), never by email.
CREATE TABLE user_identities (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider_id   TEXT NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    subject       TEXT NOT NULL,              -- the ID token's `sub`
    email         TEXT NOT NULL,
    groups        TEXT NOT NULL DEFAULT '[]', -- JSON: the groups seen at the last sign-in or refresh
    created_at    BIGINT NOT NULL,
    last_login_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX user_identities_subject ON user_identities (provider_id, subject);
CREATE INDEX user_identities_user ON user_identities (user_id);

-- One authorization request in flight: single use, short-lived, bound to the browser that started it.
CREATE TABLE login_attempts (
    id                   TEXT PRIMARY KEY,    -- SHA-256 of `state`
    provider_id          TEXT NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    purpose              TEXT NOT NULL,       -- 'sign_in', 'dry_run' or 'link'
    browser_hash         TEXT NOT NULL,       -- SHA-256 of the binding cookie's value
    nonce                TEXT NOT NULL,
    pkce_verifier_sealed TEXT NOT NULL,
    return_to            TEXT NOT NULL,
    started_by           TEXT,                -- the signed-in user for 'dry_run' and 'link'
    created_at           BIGINT NOT NULL,
    expires_at           BIGINT NOT NULL
);
CREATE INDEX login_attempts_expires ON login_attempts (expires_at);

-- What a finished attempt showed: a refusal's groups, or a test sign-in's claims. Read once by its starter.
CREATE TABLE login_outcomes (
    id          TEXT PRIMARY KEY,
    provider_id TEXT NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,                -- 'no_role' or 'dry_run'
    viewer      TEXT,                         -- the user who may read it; NULL: the browser in browser_hash
    browser_hash TEXT NOT NULL,
    details     TEXT NOT NULL,                -- JSON; claims and groups, never tokens
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX login_outcomes_expires ON login_outcomes (expires_at);

-- "Members of group X at provider P get role R". The group is the provider's id, so a rename keeps the rule.
CREATE TABLE role_mappings (
    id                TEXT PRIMARY KEY,
    provider_id       TEXT NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    group_external_id TEXT NOT NULL,
    group_name        TEXT NOT NULL,          -- the name when the rule was made, shown when the group is not in the directory
    role              TEXT NOT NULL,          -- 'admin', 'editor' or 'viewer'
    created_by        TEXT,
    created_at        BIGINT NOT NULL
);
CREATE UNIQUE INDEX role_mappings_group ON role_mappings (provider_id, group_external_id);

CREATE TABLE console_settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Sessions signed in through a provider refresh there before their tokens expire.
ALTER TABLE sessions ADD COLUMN identity_id TEXT REFERENCES user_identities (id) ON DELETE CASCADE;
ALTER TABLE sessions ADD COLUMN refresh_token_sealed TEXT;
ALTER TABLE sessions ADD COLUMN id_token_sealed TEXT;   -- for the provider's sign-out (id_token_hint)
ALTER TABLE sessions ADD COLUMN tokens_expire_at BIGINT;
ALTER TABLE sessions ADD COLUMN role TEXT;              -- signed in through a provider: the role its groups map to
