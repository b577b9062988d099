-- The Overview counts one action's entries of the last 24 hours on every load: with access
-- decisions audited, the log grows with traffic, so the count reads only that window.
CREATE INDEX audit_log_action_at ON audit_log (action, at);
