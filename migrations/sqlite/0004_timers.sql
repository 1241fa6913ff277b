-- SQLite flavour of migrations/postgres/0004_timers.sql (dates as
-- YYYY-MM-DD text, which sorts as dates do).

ALTER TABLE rm_cases ADD COLUMN next_due TEXT;
CREATE INDEX rm_cases_next_due ON rm_cases (generation, tenant_id, next_due);

UPDATE rm_cases SET next_due = (
    SELECT min(json_extract(r.value, '$.suspenseDate'))
    FROM json_each(rm_cases.view, '$.requests') AS r
    WHERE json_extract(r.value, '$.status') IN ('NEEDED_FROM_YOU', 'NEEDED_FROM_OTHERS')
      AND json_extract(r.value, '$.overdue') = 0
)
WHERE closed = 0;
