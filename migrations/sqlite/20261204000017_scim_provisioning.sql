-- SCIM 2.0 provisioning. A pushed person is a directory_users row of the provider; these
-- columns say it is a SCIM resource and when SCIM last changed it (a sync that listed the
-- provider before that moment does not undo the change).
ALTER TABLE directory_users ADD COLUMN scim_created_at BIGINT;      -- NULL: not a SCIM resource (or deleted by SCIM)
ALTER TABLE directory_users ADD COLUMN scim_changed_at BIGINT;
ALTER TABLE directory_users ADD COLUMN scim_external_id TEXT;       -- the externalId as the client sent it
-- displayName and email as the client sent them (NULL: none): the directory's own columns fill
-- a missing one in (the name, the userName), but GET answers what was pushed.
ALTER TABLE directory_users ADD COLUMN scim_display_name TEXT;
ALTER TABLE directory_users ADD COLUMN scim_email TEXT;
ALTER TABLE directory_users ADD COLUMN scim_email_primary BOOLEAN;  -- the address's primary flag, as pushed
ALTER TABLE directory_users ADD COLUMN scim_active BOOLEAN;         -- NULL: active was not pushed (the person is active)
-- SCIM looks people up by a case-insensitive userName (and Universal Logout by email).
CREATE INDEX directory_users_login_ci ON directory_users (provider_id, lower(login));
-- The SCIM listing (counted and paged in id order) and the deactivation-burst window.
CREATE INDEX directory_users_scim ON directory_users (provider_id, id) WHERE scim_created_at IS NOT NULL;
CREATE INDEX directory_users_removed ON directory_users (provider_id, removed_at) WHERE state <> 'active';

CREATE TABLE scim_settings (
    provider_id  TEXT PRIMARY KEY REFERENCES identity_providers (id) ON DELETE CASCADE,
    enabled      BOOLEAN NOT NULL,
    alert        TEXT,                     -- the last burst of deactivations, until dismissed
    alert_at     BIGINT,
    updated_at   BIGINT NOT NULL
);

-- Pushed groups have ids of their own. group_id is the directory group they are: the group
-- synced from the API with the same name when there is exactly one, else a group of their own
-- (external_id 'scim:<id>'), so policies and role mappings apply to pushed members either way.
CREATE TABLE scim_groups (
    id           TEXT PRIMARY KEY,
    provider_id  TEXT NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    group_id     TEXT NOT NULL UNIQUE REFERENCES directory_groups (id) ON DELETE CASCADE,
    display_name TEXT NOT NULL,
    external_id  TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX scim_groups_provider ON scim_groups (provider_id, display_name);

-- Members SCIM removed, and when: a sync that listed the group earlier does not add them back.
CREATE TABLE scim_membership_removals (
    group_id   TEXT NOT NULL REFERENCES directory_groups (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES directory_users (id) ON DELETE CASCADE,
    removed_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);

-- The last requests each provider's SCIM endpoint received, for its page (the newest 200 kept).
CREATE TABLE scim_requests (
    id           TEXT PRIMARY KEY,
    provider_id  TEXT NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    at           BIGINT NOT NULL,
    method       TEXT NOT NULL,
    path         TEXT NOT NULL,
    status       INTEGER NOT NULL,
    token_prefix TEXT,
    detail       TEXT
);
CREATE INDEX scim_requests_provider ON scim_requests (provider_id, at);
