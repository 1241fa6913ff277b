-- Group commit's append of several commands (store/src/group.rs) as a
-- function: one command after another inside one statement, each step a
-- primary-key look-up or write whose plan the server keeps. The single
-- data-modifying CTE it replaces was planned again on every execution
-- (its plan depends on the arrays' lengths), and planning it was a fifth
-- of the server's work under load.
--
-- For each command (arrays c_*, in order): a command whose idempotency key
-- is already recorded moves nothing (moved = false: a replay); otherwise
-- its stream head moves only from the version and hash it was decided on
-- (moved = true), and a command whose head is elsewhere is not returned.
-- Then the events (arrays e_*, e_i naming their command, counted from 0)
-- and idempotency records of the commands that moved go in, in command
-- and version order. A key recorded by a transaction still in flight makes
-- the whole statement fail on idempotency_pkey (the caller then runs each
-- command on its own).
CREATE FUNCTION omnicase_append_group(
    c_tenant text[], c_stream uuid[], c_kind text[], c_version bigint[], c_hash bytea[],
    c_expected bigint[], c_expected_hash bytea[], c_at timestamptz[],
    c_key text[], c_fingerprint text[], c_result text[],
    e_i int[], e_version bigint[], e_id uuid[], e_type text[], e_schema int[],
    e_payload text[], e_metadata text[], e_prev bytea[], e_hash bytea[])
RETURNS TABLE (cmd int, moved boolean)
LANGUAGE plpgsql AS $$
DECLARE
    n int;
    done int[] := '{}';
BEGIN
    FOR n IN 1 .. coalesce(array_length(c_tenant, 1), 0) LOOP
        cmd := n - 1;
        IF c_key[n] IS NOT NULL AND EXISTS (
            SELECT 1 FROM idempotency x WHERE x.tenant_id = c_tenant[n] AND x.key = c_key[n]
        ) THEN
            moved := false;
            RETURN NEXT;
        ELSE
            UPDATE streams s SET version = c_version[n], head_hash = c_hash[n]
            WHERE s.tenant_id = c_tenant[n] AND s.stream_id = c_stream[n] AND s.kind = c_kind[n]
              AND s.version = c_expected[n] AND s.head_hash = c_expected_hash[n];
            IF FOUND THEN
                done := done || (n - 1);
                moved := true;
                RETURN NEXT;
            END IF;
        END IF;
    END LOOP;
    INSERT INTO events (tenant_id, stream_id, kind, version, event_id, event_type,
                        schema_version, payload, metadata, recorded_at, prev_hash, hash)
    SELECT c_tenant[e.c + 1], c_stream[e.c + 1], c_kind[e.c + 1], e.v, e.id, e.t, e.s,
           e.p::json, e.m::json, c_at[e.c + 1], e.ph, e.h
    FROM unnest(e_i, e_version, e_id, e_type, e_schema, e_payload, e_metadata, e_prev, e_hash)
         AS e(c, v, id, t, s, p, m, ph, h)
    WHERE e.c = ANY (done)
    ORDER BY e.c, e.v;
    INSERT INTO idempotency (tenant_id, key, fingerprint, result, created_at)
    SELECT c_tenant[d.c + 1], c_key[d.c + 1], c_fingerprint[d.c + 1], c_result[d.c + 1]::json,
           c_at[d.c + 1]
    FROM unnest(done) AS d(c)
    WHERE c_key[d.c + 1] IS NOT NULL;
END
$$;
