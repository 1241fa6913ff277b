CREATE TABLE intake_documents (
    tenant_id      TEXT NOT NULL,
    channel        TEXT NOT NULL,
    batch_id       TEXT NOT NULL,
    document_id    TEXT NOT NULL,
    checksum       TEXT NOT NULL,
    status         TEXT NOT NULL,
    error_code     TEXT,
    error_message  TEXT,
    case_id        BLOB,
    received_at    TEXT NOT NULL,
    recorded_at    TEXT NOT NULL,
    entry          TEXT NOT NULL,
    PRIMARY KEY (tenant_id, channel, document_id)
);
CREATE INDEX intake_documents_batch ON intake_documents (tenant_id, channel, batch_id);
CREATE INDEX intake_documents_queue ON intake_documents (tenant_id, status, received_at, document_id);

ALTER TABLE rm_claimants ADD COLUMN match_key TEXT;
CREATE INDEX rm_claimants_match ON rm_claimants (generation, tenant_id, match_key);
