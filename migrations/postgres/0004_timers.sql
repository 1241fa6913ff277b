-- Timers: the earliest due date among a case's requests that still await
-- a submission and are not yet overdue (NULL when there is none, or the
-- case is closed or complete). The timer looks for `next_due < today`
-- instead of reading every document.

ALTER TABLE rm_cases ADD COLUMN next_due date;
CREATE INDEX rm_cases_next_due ON rm_cases (generation, tenant_id, next_due);

-- Rows projected before this migration: derive it from their documents
-- (the projector writes it from now on; a rebuild gives the same values).
UPDATE rm_cases SET next_due = (
    SELECT min((r ->> 'suspenseDate')::date)
    FROM jsonb_array_elements(rm_cases.view::jsonb -> 'requests') AS r
    WHERE r ->> 'status' IN ('NEEDED_FROM_YOU', 'NEEDED_FROM_OTHERS')
      AND NOT (r ->> 'overdue')::boolean
)
WHERE NOT closed;
