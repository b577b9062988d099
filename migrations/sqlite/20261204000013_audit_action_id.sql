-- The audit log filtered by action, newest first and paged by id (the page, its Older
-- links, the exports): the (action, at) index finds the rows but makes SQLite sort all of
-- them by id; this one reads them in order, from the page's `before` on.
CREATE INDEX IF NOT EXISTS audit_log_action_id ON audit_log (action, id);
