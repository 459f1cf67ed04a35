-- The purchase engine's typed lifecycle (PostgreSQL).
-- New: a slot may end `failed` (it ran out of attempts; `reason` says why) and records
-- the broker account it started with; a purchase may end `partially_filled` (part of
-- the order filled, the rest was canceled or expired) or `unknown` (the broker never
-- said what became of it within the reconcile window); a skipped purchase says why in
-- `skip_reason`; open orders are re-checked with backoff (`next_check_at`,
-- `check_attempts`).

ALTER TABLE slots DROP CONSTRAINT slots_state_check;
ALTER TABLE slots ADD CONSTRAINT slots_state_check
    CHECK (state IN ('due', 'running', 'done', 'missed', 'failed'));
ALTER TABLE slots ADD COLUMN broker_account TEXT;

ALTER TABLE purchases DROP CONSTRAINT purchases_status_check;
ALTER TABLE purchases ADD CONSTRAINT purchases_status_check
    CHECK (status IN ('pending', 'accepted', 'filled', 'partially_filled', 'rejected', 'failed',
                      'missed', 'skipped', 'unknown'));
ALTER TABLE purchases ADD COLUMN skip_reason TEXT
    CHECK (skip_reason IN ('condition_not_met', 'plan_inactive', 'broker_unavailable'));
ALTER TABLE purchases ADD COLUMN next_check_at BIGINT;
ALTER TABLE purchases ADD COLUMN check_attempts INTEGER NOT NULL DEFAULT 0;
-- Skips before this migration came from the strategy (condition not met), from a plan
-- that was not active, or from a broker that could not be reached; the scheduler wrote
-- the last two with these reasons.
UPDATE purchases SET skip_reason = CASE
        WHEN reason LIKE 'the plan was %' THEN 'plan_inactive'
        WHEN reason LIKE 'Connect a broker%' OR reason LIKE 'Something went wrong on our side%' THEN 'broker_unavailable'
        ELSE 'condition_not_met' END
    WHERE status = 'skipped';
-- Orders still open are checked again from the first reconcile pass on.
UPDATE purchases SET next_check_at = 0 WHERE status = 'accepted';

-- Claims take the due slot with the earliest not_before (then id) straight from this index.
DROP INDEX slots_claimable;
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
DROP INDEX purchases_open;
CREATE INDEX purchases_open ON purchases (status, next_check_at);
