-- Several replicas on one database.

-- Bumped after every change forward auth caches depend on; replicas poll it.
CREATE TABLE store_changes (
    id BIGINT PRIMARY KEY,
    n  BIGINT NOT NULL
);
INSERT INTO store_changes (id, n) VALUES (1, 0);

-- Every running replica, refreshed every few seconds: the Settings page shows them and which
-- one holds the background runner's lock.
CREATE TABLE replicas (
    id         TEXT PRIMARY KEY,
    host       TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    seen_at    BIGINT NOT NULL,
    runner     BOOLEAN NOT NULL,
    version    TEXT NOT NULL
);

-- Who runs a sync and when it last said it was alive: another replica fails a run whose
-- replica stopped reporting, and watches its progress meanwhile.
ALTER TABLE sync_runs ADD COLUMN replica_id TEXT;
ALTER TABLE sync_runs ADD COLUMN heartbeat_at BIGINT;
ALTER TABLE sync_runs ADD COLUMN progress TEXT;         -- JSON: the live progress, for the other replicas
-- One run per provider, whichever replica starts it. A run still marked running here was cut
-- off by a stop (one process had the database until now): it is failed, as a start would.
UPDATE sync_runs SET status = 'failed', finished_at = started_at,
    error = 'The run was interrupted before it finished (the server stopped or the run was cancelled). Nothing was changed.',
    error_fix = 'Run the sync again.'
WHERE status = 'running';
CREATE UNIQUE INDEX sync_runs_one_running ON sync_runs (provider_id) WHERE status = 'running';
