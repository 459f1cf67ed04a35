-- no-transaction
-- A slot's purchases are read by the slot (several times per run): without this index each
-- read scanned every purchase ever made, so the engine slowed as the history grew. Built
-- CONCURRENTLY (outside a transaction) so that a running deployment keeps recording
-- purchases while it builds.
CREATE INDEX CONCURRENTLY purchases_slot ON purchases (slot_id, created_at, symbol);
