-- Applications behind Portcullis and the access policies that guard them.
-- Portable SQL (SQLite now, PostgreSQL later): TEXT ids, BIGINT milliseconds since the epoch.

CREATE TABLE applications (
    id                       TEXT PRIMARY KEY,
    name                     TEXT NOT NULL,
    session_duration_minutes BIGINT NOT NULL,
    created_at               BIGINT NOT NULL,
    updated_at               BIGINT NOT NULL
);
CREATE UNIQUE INDEX applications_name ON applications (name);

-- Where an application answers. A request goes to the application with its exact hostname
-- (else a '*.' wildcard one label up) and the longest matching path prefix.
CREATE TABLE application_hosts (
    application_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    hostname       TEXT NOT NULL,                 -- lower-case, no port; '*.example.com' for one label of subdomains
    path_prefix    TEXT NOT NULL DEFAULT '/',     -- starts with '/', no trailing '/' except the root
    PRIMARY KEY (hostname, path_prefix)           -- one application per host and prefix, across applications
);
CREATE INDEX application_hosts_application ON application_hosts (application_id);

CREATE TABLE policies (
    id             TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    position       BIGINT NOT NULL,               -- 0, 1, 2… within the application; Bypass and Block still go first
    name           TEXT NOT NULL,
    action         TEXT NOT NULL,                 -- 'allow', 'block' or 'bypass'
    rules          TEXT NOT NULL,                 -- JSON {"include": [...], "require": [...], "exclude": [...]}
    enabled        BOOLEAN NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
-- Not unique: a reorder rewrites positions one row at a time.
CREATE INDEX policies_application ON policies (application_id, position);
