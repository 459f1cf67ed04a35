-- DCA plans (SQLite). `config` holds the typed plan settings as JSON (legs with decimal
-- string amounts, schedule, smart condition); instants are Unix milliseconds.

CREATE TABLE plans (
    id          TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    mode        TEXT NOT NULL CHECK (mode IN ('pure', 'smart', 'discretionary')),
    status      TEXT NOT NULL CHECK (status IN ('active', 'paused', 'stopped')),
    config      TEXT NOT NULL,
    next_run_at BIGINT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX plans_user_id ON plans (user_id, created_at);
CREATE INDEX plans_due ON plans (status, next_run_at);
