-- Settings operators change at run time from the admin panel (not the config file): one
-- row per key, the value as JSON. Every instance reads them again every few seconds.
CREATE TABLE platform_settings (
    key        TEXT PRIMARY KEY NOT NULL,
    value      TEXT NOT NULL,
    updated_by TEXT,
    updated_at BIGINT NOT NULL
);
