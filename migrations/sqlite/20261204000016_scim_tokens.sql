-- SCIM provisioning tokens, per provider: only the SHA-256 is kept. The current token has no
-- expiry; generating a new one gives the previous ones a grace period (Okta keeps pushing with
-- the old token until its app is saved with the new one).
CREATE TABLE scim_tokens (
    id           TEXT PRIMARY KEY,
    provider_id  TEXT NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,            -- pcst_ and 8 characters: what lists show
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,                   -- NULL: the current token
    last_used_at BIGINT
);
CREATE INDEX scim_tokens_provider ON scim_tokens (provider_id);
