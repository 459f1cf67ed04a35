-- Every running server instance beats here every few seconds: the admin health page shows
-- which instances are up, their version, and how busy their scheduler workers are. A row
-- not beaten for a day is deleted by the others; a clean shutdown deletes its own.
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
