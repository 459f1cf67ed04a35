-- What a user's list of signed-in devices shows of each session: a handle to end it by
-- (random; the session id never leaves the server), when it signed in and was last used,
-- and the address and browser it signed in from. Sessions from before carry none until
-- they are used again.
ALTER TABLE sessions ADD COLUMN handle TEXT;
ALTER TABLE sessions ADD COLUMN created_at BIGINT;
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT;
ALTER TABLE sessions ADD COLUMN ip TEXT;
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
CREATE UNIQUE INDEX sessions_handle ON sessions (handle);
