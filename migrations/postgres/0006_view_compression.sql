-- Read-model documents (a case's is a few KB, so it is compressed) use lz4
-- where the server has it: cheaper to write than the default pglz (a
-- rebuild's document writes measured 3.8 s instead of 4.6-5.2 s). Servers
-- built without lz4 keep pglz.
DO $$
BEGIN
    EXECUTE 'ALTER TABLE rm_cases ALTER COLUMN view SET COMPRESSION lz4';
    EXECUTE 'ALTER TABLE rm_claimants ALTER COLUMN view SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available: read-model documents keep pglz';
END
$$;
