-- Read models: one partition per generation.
--
-- `rm_cases` and `rm_claimants` become tables partitioned by generation
-- (LIST), each generation's rows in `rm_cases_g<N>` / `rm_claimants_g<N>`.
-- A rebuild fills a table of its own with only its primary key, builds the
-- other indexes once the rows are in (a sorted build instead of an index
-- insert per row), attaches it, and after the switch drops the old
-- generation's tables (DROP TABLE instead of deleting every row, which
-- left the space to a vacuum).
--
-- The rows already here stay where they are: the existing tables become
-- the partitions of the active generation. Rows of any other generation are
-- left-overs of a rebuild that did not finish (or of an old one not yet
-- dropped) and are deleted first.
DO $$
DECLARE
    live bigint := (SELECT generation FROM rm_meta WHERE id = 1);
    kind text;
    ix record;
BEGIN
    FOREACH kind IN ARRAY ARRAY['rm_cases', 'rm_claimants'] LOOP
        EXECUTE format('DELETE FROM %I WHERE generation <> %s', kind, live);
        EXECUTE format('ALTER TABLE %I RENAME TO %I', kind, kind || '_g' || live);
        -- Index names are unique in a schema: the partition's indexes give
        -- theirs to the partitioned table's.
        FOR ix IN
            SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = (kind || '_g' || live)::regclass
        LOOP
            EXECUTE format('ALTER INDEX %I RENAME TO %I', ix.relname,
                           replace(ix.relname, kind, kind || '_g' || live));
        END LOOP;
        -- The same columns (and column compression), partitioned.
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING ALL EXCLUDING INDEXES) PARTITION BY LIST (generation)',
                       kind, kind || '_g' || live);
    END LOOP;

    ALTER TABLE rm_cases ADD PRIMARY KEY (generation, tenant_id, case_id);
    CREATE INDEX rm_cases_claimant ON rm_cases (generation, tenant_id, claimant_id, case_id);
    CREATE INDEX rm_cases_assignee ON rm_cases (generation, tenant_id, closed, assignee, phase_entered_at);
    CREATE INDEX rm_cases_team ON rm_cases (generation, tenant_id, closed, team, phase_entered_at);
    CREATE INDEX rm_cases_next_due ON rm_cases (generation, tenant_id, next_due);
    ALTER TABLE rm_claimants ADD PRIMARY KEY (generation, tenant_id, claimant_id);
    CREATE INDEX rm_claimants_file_number ON rm_claimants (generation, tenant_id, file_number_hash);
    CREATE INDEX rm_claimants_match ON rm_claimants (generation, tenant_id, match_key);

    -- Attaching finds the partitions' own indexes (same definitions) and
    -- adopts them; nothing is rebuilt.
    FOREACH kind IN ARRAY ARRAY['rm_cases', 'rm_claimants'] LOOP
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES IN (%s)',
                       kind, kind || '_g' || live, live);
    END LOOP;
END
$$;
