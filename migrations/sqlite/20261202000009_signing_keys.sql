-- Keys that sign the identity assertions sent to upstreams (X-Portcullis-Jwt-Assertion).
-- The private key is sealed with the console's secret key; the public half is published.
CREATE TABLE signing_keys (
    kid            TEXT PRIMARY KEY,
    private_sealed TEXT NOT NULL,
    public_jwk     TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
