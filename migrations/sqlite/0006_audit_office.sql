-- The office of the staff member who read (the token's `office` claim), so
-- a citizen's data-access log can say which office read their data
-- without naming the person.
ALTER TABLE audit_log ADD COLUMN office TEXT;
-- A person's entries: their claimant id and their cases' ids.
CREATE INDEX audit_log_subject ON audit_log (tenant_id, subject_type, subject_id, id);
