-- The user's preferred time zone (IANA name) for new plans and dates; NULL: the browser's.
ALTER TABLE users ADD COLUMN timezone TEXT;
