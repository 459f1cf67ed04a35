-- Why the server paused a plan (its user's tier no longer allows it), shown to the user;
-- NULL when the user paused it, and cleared by any later status change.
ALTER TABLE plans ADD COLUMN paused_reason TEXT;
