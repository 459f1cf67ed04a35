-- E-mail. Every message is first a row of `outbox`, written in the same transaction as the
-- event that causes it (a sign-up, a reset request, a finished purchase); sender tasks on
-- any instance claim due rows with a lease (like slots), deliver them, and mark them sent,
-- or try again later with backoff, or give up (failed) after a bounded time. What a
-- message says is rendered when it is sent, from `payload` (secrets in it are sealed).
CREATE TABLE outbox (
    id          TEXT PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL,
    -- No foreign key: finishing a slot must never fail for its message (a row whose
    -- user is gone is skipped when it comes up).
    user_id     TEXT,
    -- At most one message per event (`slot:<id>`, `weekly:<user>:<week>`, …).
    dedupe_key  TEXT UNIQUE,
    payload     TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'skipped')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    not_before  BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    last_error  TEXT,
    transport   TEXT,
    subject     TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    sent_at     BIGINT
);
CREATE INDEX outbox_ready ON outbox (state, not_before);
CREATE INDEX outbox_user ON outbox (user_id, created_at);

-- The local mailbox of demo mode without SMTP: what would have been sent, readable at
-- /dev/mailbox (loopback only).
CREATE TABLE mailbox (
    id         TEXT PRIMARY KEY NOT NULL,
    to_addr    TEXT NOT NULL,
    subject    TEXT NOT NULL,
    text_body  TEXT NOT NULL,
    html_body  TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX mailbox_created ON mailbox (created_at);

-- Single-use links: e-mail verification (24 h) and password reset (1 h). Only a SHA-256
-- digest of the token is stored; the token itself is in the e-mail (sealed in the outbox).
CREATE TABLE email_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('verify', 'reset')),
    email      TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX email_tokens_user ON email_tokens (user_id, purpose);

-- What each user wants to hear about (1: yes).
ALTER TABLE users ADD COLUMN notify_purchases INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN notify_failures INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN notify_funds INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN notify_weekly INTEGER NOT NULL DEFAULT 1;
