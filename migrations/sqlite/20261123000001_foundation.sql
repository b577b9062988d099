-- Accounts, sessions, audit and sign-in throttling.
-- Portable SQL (SQLite now, PostgreSQL later): TEXT ids, BIGINT milliseconds since the epoch.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL,          -- stored lower-cased
    display_name  TEXT NOT NULL DEFAULT '',
    password_hash TEXT,                   -- argon2id PHC string; NULL for accounts without a local password
    role          TEXT,                   -- 'admin', 'editor', 'viewer'; NULL: no console access
    disabled_at   BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (email);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,        -- SHA-256 of the cookie token: a database leak yields no usable cookie
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,         -- absolute expiry; idle expiry is computed from last_seen_at
    ip           TEXT,
    user_agent   TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE audit_log (
    id        TEXT PRIMARY KEY,           -- UUIDv7: ordered by time
    at        BIGINT NOT NULL,
    actor_id  TEXT,
    actor     TEXT NOT NULL,              -- an email, 'system' or 'anonymous'
    action    TEXT NOT NULL,
    target    TEXT,
    outcome   TEXT NOT NULL,              -- 'success' or 'failure'
    ip        TEXT,
    details   TEXT NOT NULL DEFAULT '{}'  -- JSON; never holds secrets
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_action ON audit_log (action);

CREATE TABLE login_throttle (
    key               TEXT PRIMARY KEY,   -- 'account:<email>' or 'ip:<address>'
    failures          INTEGER NOT NULL,
    window_started_at BIGINT NOT NULL,
    blocked_until     BIGINT NOT NULL
);
