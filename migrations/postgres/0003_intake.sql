-- Channel intake records: the outcome of every mail-scan document, kept per
-- document id so re-sent or resumed batches file nothing twice, and the
-- unidentified-mail queue (status UNIDENTIFIED).
CREATE TABLE intake_documents (
    tenant_id      text        NOT NULL,
    channel        text        NOT NULL,
    batch_id       text        NOT NULL,
    document_id    text        NOT NULL,
    checksum       text        NOT NULL,
    -- ATTACHED, UNIDENTIFIED, REJECTED, RESOLVED
    status         text        NOT NULL,
    error_code     text,
    error_message  text,
    case_id        uuid,
    received_at    timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL,
    -- The manifest entry as received (needed to file it once resolved).
    entry          text        NOT NULL,
    PRIMARY KEY (tenant_id, channel, document_id)
);
CREATE INDEX intake_documents_batch ON intake_documents (tenant_id, channel, batch_id);
CREATE INDEX intake_documents_queue ON intake_documents (tenant_id, status, received_at, document_id);

-- Matching a claimant by family name + birth date + postcode (a hash, not
-- the values).
ALTER TABLE rm_claimants ADD COLUMN match_key text;
CREATE INDEX rm_claimants_match ON rm_claimants (generation, tenant_id, match_key);
