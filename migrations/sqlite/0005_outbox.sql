CREATE TABLE outbox_checkpoints (
    name      TEXT    PRIMARY KEY,
    tx        INTEGER NOT NULL,
    position  INTEGER NOT NULL
);
