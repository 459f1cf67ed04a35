-- Slots and purchases (SQLite): the scheduler's durable work queue and its results.
-- A slot is one execution of a plan; its key (plan, instant, kind) is unique, so no
-- instance can create it twice. A purchase is one leg's order intent, written with its
-- deterministic client_order_id before the order is sent.

CREATE TABLE slots (
    id          TEXT PRIMARY KEY NOT NULL,
    plan_id     TEXT NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL,
    slot_at     BIGINT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('scheduled', 'manual')),
    state       TEXT NOT NULL CHECK (state IN ('due', 'running', 'done', 'missed')),
    not_before  BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    reason      TEXT,
    -- A "buy now" request's Idempotency-Key: a retried request finds its slot.
    idempotency_key TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (plan_id, slot_at, kind),
    UNIQUE (plan_id, idempotency_key)
);
CREATE INDEX slots_claimable ON slots (state, not_before);

CREATE TABLE purchases (
    id              TEXT PRIMARY KEY NOT NULL,
    slot_id         TEXT NOT NULL REFERENCES slots (id) ON DELETE CASCADE,
    plan_id         TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    symbol          TEXT NOT NULL,
    notional        TEXT NOT NULL,
    client_order_id TEXT NOT NULL UNIQUE,
    broker_order_id TEXT,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'filled', 'rejected', 'failed', 'missed', 'skipped')),
    qty             TEXT,
    price           TEXT,
    reason          TEXT,
    slot_at         BIGINT NOT NULL,
    submitted_at    BIGINT,
    filled_at       BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX purchases_user_plan ON purchases (user_id, plan_id, created_at);
CREATE INDEX purchases_open ON purchases (status);
