-- Deleted plans leave the lists but keep their purchase history (and its audit trail).
ALTER TABLE plans ADD COLUMN deleted_at BIGINT;
