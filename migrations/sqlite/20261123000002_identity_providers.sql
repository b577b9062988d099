-- External identity providers and the groups fetched from them.
-- Secrets are sealed (AES-256-GCM) before they reach these tables.

CREATE TABLE identity_providers (
    id                      TEXT PRIMARY KEY,
    kind                    TEXT NOT NULL,        -- 'okta' or 'oidc'
    name                    TEXT NOT NULL,
    base_url                TEXT NOT NULL,        -- normalised
    issuer                  TEXT NOT NULL,        -- what discovery must state
    auth_server             TEXT,                 -- Okta: NULL for Org, else the custom server id
    client_id               TEXT NOT NULL,
    client_secret_sealed    TEXT NOT NULL,
    scopes                  TEXT NOT NULL,        -- space-separated
    groups_claim            TEXT NOT NULL,
    pkce                    BOOLEAN NOT NULL,
    directory_mode          TEXT NOT NULL,        -- 'off', 'service_app' or 'api_token'
    directory_client_id     TEXT,
    directory_secret_sealed TEXT,                 -- the private key or the API token
    enabled                 BOOLEAN NOT NULL,
    discovery               TEXT,                 -- JSON, as of the last successful check
    last_test_at            BIGINT,
    last_test_ok            BOOLEAN,
    last_test_summary       TEXT,
    last_test_report        TEXT,                 -- JSON report of the last check
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL
);
CREATE UNIQUE INDEX identity_providers_name ON identity_providers (name);

CREATE TABLE directory_groups (
    id           TEXT PRIMARY KEY,
    provider_id  TEXT NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    external_id  TEXT NOT NULL,                   -- the provider's id (Okta: 00g…); policies refer to this
    name         TEXT NOT NULL,
    description  TEXT,
    kind         TEXT NOT NULL,                   -- OKTA_GROUP, APP_GROUP, BUILT_IN, …
    source       TEXT NOT NULL,                   -- 'wizard', 'sync', 'sign_in' or 'scim'
    last_updated TEXT,                            -- the provider's lastUpdated
    synced_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX directory_groups_external ON directory_groups (provider_id, external_id);
CREATE INDEX directory_groups_name ON directory_groups (name);
