-- Sign-in and sign-up attempts counted atomically per key and fixed window (an attempt is
-- reserved before the password is checked, so parallel guesses cannot all be checked), and
-- the audit log's retention: rows older than the retention period are the only ones the
-- database lets anyone delete, and sessions keyed by the hash of their id (SQLite).

CREATE TABLE sign_in_attempts (
    key            TEXT NOT NULL,
    window_start   BIGINT NOT NULL,
    attempts       BIGINT NOT NULL,
    -- Whether this window's block of this key is in the audit log already (once per window).
    block_recorded INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key, window_start)
);
CREATE INDEX sign_in_attempts_window ON sign_in_attempts (window_start);

CREATE TABLE audit_retention (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    retention_days INTEGER NOT NULL CHECK (retention_days >= 30)
);
INSERT INTO audit_retention (id, retention_days) VALUES (1, 365);

DROP TRIGGER audit_log_no_delete;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN OLD.at >= CAST(strftime('%s', 'now') AS INTEGER) * 1000
             - (SELECT retention_days FROM audit_retention WHERE id = 1) * 86400000
BEGIN
    SELECT RAISE(ABORT, 'audit_log entries are kept for the retention period');
END;

-- Sessions are now stored under the SHA-256 of their id: the rows of the old form can never
-- be found again, so they go (everyone signs in once more).
DELETE FROM sessions;
