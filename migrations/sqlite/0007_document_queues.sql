-- The document work queues: when the oldest evidence document still waiting
-- for a link to a request arrived (UNLINKED_DOCUMENTS), and the oldest late
-- evidence not yet acknowledged by the caseworker (LATE_EVIDENCE). NULL when
-- nothing waits or the case ended. Rows written before this migration hold
-- no such documents (older events are read as filed with their submission).
ALTER TABLE rm_cases ADD COLUMN unlinked_since TEXT;
ALTER TABLE rm_cases ADD COLUMN late_since TEXT;
CREATE INDEX rm_cases_unlinked ON rm_cases (generation, tenant_id, unlinked_since, case_id)
    WHERE unlinked_since IS NOT NULL;
CREATE INDEX rm_cases_late ON rm_cases (generation, tenant_id, assignee, late_since, case_id)
    WHERE late_since IS NOT NULL;
