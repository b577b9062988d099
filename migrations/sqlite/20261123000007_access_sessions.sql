-- Access to the applications behind forward auth: a session of its own, in a cookie that
-- the applications' hosts see, so that no upstream ever receives a console session.
-- Portable SQL (SQLite now, PostgreSQL later): TEXT ids, BIGINT milliseconds since the epoch.

CREATE TABLE access_sessions (
    id          TEXT PRIMARY KEY,                 -- SHA-256 of the cookie token
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    identity_id TEXT REFERENCES user_identities (id) ON DELETE CASCADE,
    session_id  TEXT,                             -- the console session it was issued from
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX access_sessions_user ON access_sessions (user_id);
CREATE INDEX access_sessions_expires ON access_sessions (expires_at);
