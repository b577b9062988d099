-- Per-application sessions: each application gets its own cookie on its own host, bound to
-- that application. A row without an application is the person's single sign-on session on
-- the console's host, from which application sessions are handed out.
-- Portable SQL (SQLite now, PostgreSQL later).

-- Sessions issued before this change were valid for every application: end them.
DELETE FROM access_sessions;
ALTER TABLE access_sessions ADD COLUMN application_id TEXT;

-- One-time codes that an application's host trades for its cookie at /.portcullis/callback.
CREATE TABLE access_handoffs (
    id                 TEXT PRIMARY KEY,          -- SHA-256 of the code
    user_id            TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    identity_id        TEXT REFERENCES user_identities (id) ON DELETE CASCADE,
    session_id         TEXT NOT NULL,             -- the console or single sign-on session it came from
    application_id     TEXT NOT NULL,
    return_to          TEXT NOT NULL,
    session_expires_at BIGINT NOT NULL,           -- when the application session will end
    expires_at         BIGINT NOT NULL            -- when the code stops working (a minute)
);
CREATE INDEX access_handoffs_expires ON access_handoffs (expires_at);
