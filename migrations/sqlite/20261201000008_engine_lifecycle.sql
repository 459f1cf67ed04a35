-- The purchase engine's typed lifecycle (SQLite). SQLite cannot change a CHECK
-- constraint, so `slots` and `purchases` are rebuilt: new tables are filled from the old
-- ones, the old ones dropped (child first, so no ON DELETE CASCADE fires), and the new
-- ones renamed into place (which repoints purchases' foreign key at the new `slots`).
--
-- New: a slot may end `failed` (it ran out of attempts; `reason` says why) and records
-- the broker account it started with; a purchase may end `partially_filled` (part of
-- the order filled, the rest was canceled or expired) or `unknown` (the broker never
-- said what became of it within the reconcile window); a skipped purchase says why in
-- `skip_reason`; open orders are re-checked with backoff (`next_check_at`,
-- `check_attempts`).

CREATE TABLE slots_new (
    id          TEXT PRIMARY KEY NOT NULL,
    plan_id     TEXT NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL,
    slot_at     BIGINT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('scheduled', 'manual')),
    state       TEXT NOT NULL CHECK (state IN ('due', 'running', 'done', 'missed', 'failed')),
    not_before  BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    reason      TEXT,
    idempotency_key TEXT,
    broker_account TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (plan_id, slot_at, kind),
    UNIQUE (plan_id, idempotency_key)
);
INSERT INTO slots_new (id, plan_id, user_id, slot_at, kind, state, not_before, lease_owner, lease_until,
    attempts, reason, idempotency_key, created_at, updated_at)
SELECT id, plan_id, user_id, slot_at, kind, state, not_before, lease_owner, lease_until,
    attempts, reason, idempotency_key, created_at, updated_at FROM slots;

CREATE TABLE purchases_new (
    id              TEXT PRIMARY KEY NOT NULL,
    slot_id         TEXT NOT NULL REFERENCES slots_new (id) ON DELETE CASCADE,
    plan_id         TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    symbol          TEXT NOT NULL,
    notional        TEXT NOT NULL,
    client_order_id TEXT NOT NULL UNIQUE,
    broker_order_id TEXT,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'filled', 'partially_filled',
                        'rejected', 'failed', 'missed', 'skipped', 'unknown')),
    skip_reason     TEXT CHECK (skip_reason IN ('condition_not_met', 'plan_inactive', 'broker_unavailable')),
    qty             TEXT,
    price           TEXT,
    reason          TEXT,
    slot_at         BIGINT NOT NULL,
    submitted_at    BIGINT,
    filled_at       BIGINT,
    next_check_at   BIGINT,
    check_attempts  INTEGER NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
-- Skips before this migration came from the strategy (condition not met), from a plan
-- that was not active, or from a broker that could not be reached; the scheduler wrote
-- the last two with these reasons.
INSERT INTO purchases_new (id, slot_id, plan_id, user_id, symbol, notional, client_order_id, broker_order_id,
    status, skip_reason, qty, price, reason, slot_at, submitted_at, filled_at, next_check_at, created_at, updated_at)
SELECT id, slot_id, plan_id, user_id, symbol, notional, client_order_id, broker_order_id, status,
    CASE WHEN status <> 'skipped' THEN NULL
         WHEN reason LIKE 'the plan was %' THEN 'plan_inactive'
         WHEN reason LIKE 'Connect a broker%' OR reason LIKE 'Something went wrong on our side%' THEN 'broker_unavailable'
         ELSE 'condition_not_met' END,
    qty, price, reason, slot_at, submitted_at, filled_at,
    -- Orders still open are checked again from the first reconcile pass on.
    CASE WHEN status = 'accepted' THEN 0 END,
    created_at, updated_at FROM purchases;

DROP TABLE purchases;
DROP TABLE slots;
ALTER TABLE slots_new RENAME TO slots;
ALTER TABLE purchases_new RENAME TO purchases;

-- Claims take the due slot with the earliest not_before (then id) straight from this index.
CREATE INDEX slots_claimable ON slots (state, not_before, id);
CREATE INDEX slots_user_state ON slots (user_id, state);
-- At most one "buy now" per plan waits at a time (the service also refuses a second
-- while one runs). Extra ones already queued are ended, visibly, keeping the oldest.
UPDATE slots SET state = 'failed',
        reason = 'only one "buy now" may wait per plan; this extra request was not run'
    WHERE kind = 'manual' AND state = 'due' AND EXISTS (
        SELECT 1 FROM slots o WHERE o.plan_id = slots.plan_id AND o.kind = 'manual'
            AND o.state = 'due' AND (o.slot_at < slots.slot_at OR (o.slot_at = slots.slot_at AND o.id < slots.id)));
CREATE UNIQUE INDEX slots_one_pending_manual ON slots (plan_id) WHERE kind = 'manual' AND state = 'due';
CREATE INDEX purchases_user_plan ON purchases (user_id, plan_id, created_at);
CREATE INDEX purchases_open ON purchases (status, next_check_at);
CREATE INDEX purchases_user_created_id ON purchases (user_id, created_at, id);
