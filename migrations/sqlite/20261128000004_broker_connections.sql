-- Users' own broker keys (SQLite). Key id and secret are sealed with AES-256-GCM (see
-- server/src/secrets.rs); only their last four characters are kept in the clear.

CREATE TABLE broker_connections (
    user_id      TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    environment  TEXT NOT NULL CHECK (environment IN ('paper', 'live')),
    key_id       TEXT NOT NULL,
    secret       TEXT NOT NULL,
    key_last4    TEXT NOT NULL,
    account_id   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
