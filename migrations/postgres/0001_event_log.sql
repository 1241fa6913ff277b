-- The event log and the records written in the same transaction as an
-- append. Append-only migrations: never edit a released file, add a new one.

-- One row per stream: its head (optimistic concurrency and hash chain).
CREATE TABLE streams (
    tenant_id  text        NOT NULL,
    stream_id  uuid        NOT NULL,
    kind       text        NOT NULL CHECK (kind IN ('case', 'claimant')),
    version    bigint      NOT NULL CHECK (version > 0),
    head_hash  bytea       NOT NULL,
    PRIMARY KEY (tenant_id, stream_id)
);

CREATE TABLE events (
    position        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The writing transaction: readers take only tx below the oldest running
    -- transaction, so an event that commits late is never skipped, and no
    -- hot counter row serializes writers.
    tx              bigint      NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    tenant_id       text        NOT NULL,
    stream_id       uuid        NOT NULL,
    kind            text        NOT NULL,
    version         bigint      NOT NULL CHECK (version > 0),
    event_id        uuid        NOT NULL UNIQUE,
    event_type      text        NOT NULL,
    schema_version  integer     NOT NULL,
    -- json (not jsonb) keeps the exact bytes that were hashed.
    payload         json        NOT NULL,
    metadata        json        NOT NULL,
    recorded_at     timestamptz NOT NULL,
    prev_hash       bytea       NOT NULL,
    hash            bytea       NOT NULL,
    UNIQUE (tenant_id, stream_id, version)
);

CREATE INDEX events_feed ON events (tx, position);

-- Replaying a command key returns the original result and appends nothing.
CREATE TABLE idempotency (
    tenant_id    text        NOT NULL,
    key          text        NOT NULL,
    fingerprint  text        NOT NULL,
    result       json        NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, key)
);

-- Unique keys held by a stream: the open claim per claimant and benefit
-- (cross-channel dedup without races), file numbers, active appeals.
CREATE TABLE stream_keys (
    tenant_id  text NOT NULL,
    scope      text NOT NULL,
    key        text NOT NULL,
    stream_id  uuid NOT NULL,
    PRIMARY KEY (tenant_id, scope, key)
);

-- The log is append-only: refuse UPDATE and DELETE on events.
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only';
END;
$$;

CREATE TRIGGER events_no_update BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();
