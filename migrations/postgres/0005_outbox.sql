-- How far each outbox relay (the Kafka publisher) has published the feed.
-- Not a read model: a rebuild never touches it.
CREATE TABLE outbox_checkpoints (
    name      text   PRIMARY KEY,
    tx        bigint NOT NULL,
    position  bigint NOT NULL
);
