-- no-transaction
-- The history page reads a user's purchases newest first with an (created_at, id) keyset
-- cursor; this index serves that order without sorting (and the plan/symbol filters on top).
-- Built CONCURRENTLY (outside a transaction) so that an existing deployment keeps taking
-- purchases while it builds.
CREATE INDEX CONCURRENTLY purchases_user_created_id ON purchases (user_id, created_at, id);
