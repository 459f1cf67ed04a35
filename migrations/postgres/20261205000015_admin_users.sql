-- The admin panel's users: an account an admin disabled (no sign-in, sessions ended, plans
-- paused) and when the user was last active (sign-in, or a visit refreshing the session).
-- Both lists the panel pages through are ordered newest first with the id as tiebreak.
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
ALTER TABLE users ADD COLUMN last_seen_at BIGINT NOT NULL DEFAULT 0;
UPDATE users SET last_seen_at = created_at;
CREATE INDEX users_created_at_id ON users (created_at, id);
CREATE INDEX users_last_seen_at_id ON users (last_seen_at, id);
-- A user's audit rows, for the admin's page of that user (by actor, and by subject: the
-- user's e-mail address or id).
CREATE INDEX audit_log_actor_at ON audit_log (actor_user_id, at);
CREATE INDEX audit_log_subject_at ON audit_log (subject, at);
