-- API tokens for /api/v1: only a SHA-256 of the token is kept (tokens carry 190 random bits,
-- so a fast hash is enough, as GitHub's and GitLab's are). The prefix is what lists show and
-- what `portcullis api-token revoke` takes.
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL UNIQUE,
    hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    -- JSON array of CIDRs; empty: any address.
    allowed_cidrs TEXT NOT NULL DEFAULT '[]',
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_used_at BIGINT,
    last_used_ip TEXT,
    revoked_at BIGINT
);
CREATE INDEX api_tokens_created ON api_tokens (created_at);
