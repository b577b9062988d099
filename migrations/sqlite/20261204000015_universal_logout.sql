-- Universal Logout (Okta's Global Token Revocation): each signed request's `jti` is used once.
CREATE TABLE universal_logout_jtis (
    provider_id TEXT NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    jti         TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,   -- the request's `exp` (ms): after it the jti can be forgotten
    PRIMARY KEY (provider_id, jti)
);
CREATE INDEX universal_logout_jtis_expires ON universal_logout_jtis (expires_at);
