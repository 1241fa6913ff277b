-- SQLite flavour of the event log (embedded default). Same tables and
-- meaning as migrations/postgres; writers are serialized, so `tx` is the
-- first position of the writing transaction.

CREATE TABLE streams (
    tenant_id  TEXT    NOT NULL,
    stream_id  BLOB    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('case', 'claimant')),
    version    INTEGER NOT NULL CHECK (version > 0),
    head_hash  BLOB    NOT NULL,
    PRIMARY KEY (tenant_id, stream_id)
) WITHOUT ROWID;

CREATE TABLE events (
    position        INTEGER PRIMARY KEY,
    tx              INTEGER NOT NULL,
    tenant_id       TEXT    NOT NULL,
    stream_id       BLOB    NOT NULL,
    kind            TEXT    NOT NULL,
    version         INTEGER NOT NULL CHECK (version > 0),
    event_id        BLOB    NOT NULL UNIQUE,
    event_type      TEXT    NOT NULL,
    schema_version  INTEGER NOT NULL,
    payload         TEXT    NOT NULL,
    metadata        TEXT    NOT NULL,
    recorded_at     TEXT    NOT NULL,
    prev_hash       BLOB    NOT NULL,
    hash            BLOB    NOT NULL,
    UNIQUE (tenant_id, stream_id, version)
);

CREATE INDEX events_feed ON events (tx, position);

CREATE TABLE idempotency (
    tenant_id    TEXT NOT NULL,
    key          TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    result       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, key)
) WITHOUT ROWID;

CREATE TABLE stream_keys (
    tenant_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    key        TEXT NOT NULL,
    stream_id  BLOB NOT NULL,
    PRIMARY KEY (tenant_id, scope, key)
) WITHOUT ROWID;

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;

CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;
