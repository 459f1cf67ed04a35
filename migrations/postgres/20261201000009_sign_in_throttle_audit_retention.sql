-- Sign-in and sign-up attempts counted atomically per key and fixed window (an attempt is
-- reserved before the password is checked, so parallel guesses cannot all be checked), and
-- the audit log's retention: rows older than the retention period are the only ones the
-- database lets anyone delete, and sessions keyed by the hash of their id (PostgreSQL).

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

DROP TRIGGER audit_log_no_change ON audit_log;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
CREATE FUNCTION audit_log_retained() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.at >= (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT
                 - (SELECT retention_days FROM audit_retention WHERE id = 1)::BIGINT * 86400000 THEN
        RAISE EXCEPTION 'audit_log entries are kept for the retention period';
    END IF;
    RETURN OLD;
END;
$$;
CREATE TRIGGER audit_log_no_early_delete BEFORE DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_retained();
-- TRUNCATE skips row triggers: refuse it outright.
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- Sessions are now stored under the SHA-256 of their id: the rows of the old form can never
-- be found again, so they go (everyone signs in once more).
DELETE FROM sessions;
