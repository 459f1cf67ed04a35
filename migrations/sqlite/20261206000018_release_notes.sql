-- Release notes: admins write them in Markdown; the server keeps the rendered, sanitised
-- HTML beside the source. Published notes whose publish time has come are shown on
-- /whats-new, newest first. A user's notes_seen_at is when they last opened that page:
-- a published note that became visible after it (visible_from: the later of its publish
-- time and the moment it was published) lights the "What's new" badge.
CREATE TABLE release_notes (
    id          TEXT PRIMARY KEY NOT NULL,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    html        TEXT NOT NULL,
    publish_at  BIGINT NOT NULL,
    published   INTEGER NOT NULL DEFAULT 0,
    visible_from BIGINT NOT NULL,
    created_by  TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX release_notes_feed ON release_notes (published, publish_at);
ALTER TABLE users ADD COLUMN notes_seen_at BIGINT NOT NULL DEFAULT 0;
