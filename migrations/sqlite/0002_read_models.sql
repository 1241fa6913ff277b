-- SQLite flavour of migrations/postgres/0002_read_models.sql.

CREATE TABLE rm_meta (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    generation  INTEGER NOT NULL
);
INSERT INTO rm_meta (id, generation) VALUES (1, 1);

CREATE TABLE rm_checkpoints (
    projector   TEXT    NOT NULL,
    generation  INTEGER NOT NULL,
    tx          INTEGER NOT NULL,
    position    INTEGER NOT NULL,
    PRIMARY KEY (projector, generation)
);

CREATE TABLE rm_cases (
    generation        INTEGER NOT NULL,
    tenant_id         TEXT    NOT NULL,
    case_id           BLOB    NOT NULL,
    claimant_id       BLOB    NOT NULL,
    version           INTEGER NOT NULL,
    status            TEXT    NOT NULL,
    phase             TEXT    NOT NULL,
    assignee          TEXT,
    team              TEXT,
    phase_entered_at  TEXT    NOT NULL,
    awaiting_approval INTEGER NOT NULL,
    proposer          TEXT,
    overdue_count     INTEGER NOT NULL,
    closed            INTEGER NOT NULL,
    claim_date        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL,
    view              TEXT    NOT NULL,
    PRIMARY KEY (generation, tenant_id, case_id)
);
CREATE INDEX rm_cases_claimant ON rm_cases (generation, tenant_id, claimant_id, case_id);
CREATE INDEX rm_cases_assignee ON rm_cases (generation, tenant_id, closed, assignee, phase_entered_at);
CREATE INDEX rm_cases_team ON rm_cases (generation, tenant_id, closed, team, phase_entered_at);

CREATE TABLE rm_claimants (
    generation        INTEGER NOT NULL,
    tenant_id         TEXT    NOT NULL,
    claimant_id       BLOB    NOT NULL,
    version           INTEGER NOT NULL,
    file_number_hash  TEXT    NOT NULL,
    view              TEXT    NOT NULL,
    PRIMARY KEY (generation, tenant_id, claimant_id)
);
CREATE INDEX rm_claimants_file_number ON rm_claimants (generation, tenant_id, file_number_hash);

CREATE TABLE audit_log (
    id            BLOB PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    at            TEXT NOT NULL,
    actor         TEXT NOT NULL,
    roles         TEXT NOT NULL,
    action        TEXT NOT NULL,
    subject_type  TEXT NOT NULL,
    subject_id    TEXT NOT NULL,
    purpose       TEXT NOT NULL,
    outcome       TEXT NOT NULL
);
CREATE INDEX audit_log_tenant_at ON audit_log (tenant_id, at);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TABLE identity_verifications (
    tenant_id    TEXT NOT NULL,
    agent        TEXT NOT NULL,
    claimant_id  BLOB NOT NULL,
    method       TEXT NOT NULL,
    verified_at  TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, agent, claimant_id)
);
