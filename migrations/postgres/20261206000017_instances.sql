-- Every running server instance beats here every few seconds: the admin health page shows
-- which instances are up, their version, and how busy their scheduler workers are. A row
-- not beaten for ten minutes is deleted by the others; a clean shutdown deletes its own.
CREATE TABLE instances (
    id           TEXT PRIMARY KEY NOT NULL,
    host         TEXT NOT NULL,
    version      TEXT NOT NULL,
    started_at   BIGINT NOT NULL,
    last_beat_at BIGINT NOT NULL,
    workers      INTEGER NOT NULL,
    busy         INTEGER NOT NULL,
    capacity     INTEGER NOT NULL
);
-- The health page and the metrics count slots by state over the last hour and day.
CREATE INDEX slots_slot_at ON slots (slot_at);
