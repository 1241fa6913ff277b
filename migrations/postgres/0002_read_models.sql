-- Read models, rebuilt from the event log at will. Every row belongs to a
-- generation: `omnicase rebuild` fills generation N+1 beside the live one
-- and switches `rm_meta.generation` in one transaction.

CREATE TABLE rm_meta (
    id          integer PRIMARY KEY CHECK (id = 1),
    generation  bigint  NOT NULL
);
INSERT INTO rm_meta (id, generation) VALUES (1, 1);

-- Where each projector is in the feed, per generation; updated in the same
-- transaction as the rows it wrote.
CREATE TABLE rm_checkpoints (
    projector   text   NOT NULL,
    generation  bigint NOT NULL,
    tx          bigint NOT NULL,
    position    bigint NOT NULL,
    PRIMARY KEY (projector, generation)
);

CREATE TABLE rm_cases (
    generation        bigint      NOT NULL,
    tenant_id         text        NOT NULL,
    case_id           uuid        NOT NULL,
    claimant_id       uuid        NOT NULL,
    version           bigint      NOT NULL,
    status            text        NOT NULL,
    phase             text        NOT NULL,
    assignee          text,
    team              text,
    phase_entered_at  timestamptz NOT NULL,
    awaiting_approval boolean     NOT NULL,
    proposer          text,
    overdue_count     bigint      NOT NULL,
    closed            boolean     NOT NULL,
    claim_date        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    -- The CaseView document (text: the same SQL runs on SQLite).
    view              text        NOT NULL,
    PRIMARY KEY (generation, tenant_id, case_id)
);
CREATE INDEX rm_cases_claimant ON rm_cases (generation, tenant_id, claimant_id, case_id);
CREATE INDEX rm_cases_assignee ON rm_cases (generation, tenant_id, closed, assignee, phase_entered_at);
CREATE INDEX rm_cases_team ON rm_cases (generation, tenant_id, closed, team, phase_entered_at);

CREATE TABLE rm_claimants (
    generation        bigint NOT NULL,
    tenant_id         text   NOT NULL,
    claimant_id       uuid   NOT NULL,
    version           bigint NOT NULL,
    file_number_hash  text   NOT NULL,
    view              text   NOT NULL,
    PRIMARY KEY (generation, tenant_id, claimant_id)
);
CREATE INDEX rm_claimants_file_number ON rm_claimants (generation, tenant_id, file_number_hash);

-- Who read or was refused what, when and why. Append-only.
CREATE TABLE audit_log (
    id            uuid        PRIMARY KEY,
    tenant_id     text        NOT NULL,
    at            timestamptz NOT NULL,
    actor         text        NOT NULL,
    roles         text        NOT NULL,
    action        text        NOT NULL,
    subject_type  text        NOT NULL,
    subject_id    text        NOT NULL,
    purpose       text        NOT NULL,
    outcome       text        NOT NULL
);
CREATE INDEX audit_log_tenant_at ON audit_log (tenant_id, at);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

-- A call-center agent's record that they verified the caller's identity;
-- unlocks full identity values for that claimant until it expires.
CREATE TABLE identity_verifications (
    tenant_id    text        NOT NULL,
    agent        text        NOT NULL,
    claimant_id  uuid        NOT NULL,
    method       text        NOT NULL,
    verified_at  timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, agent, claimant_id)
);
