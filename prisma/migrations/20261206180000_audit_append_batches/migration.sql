-- Several tenants' audit batches in one statement (issue 17; decision 0055). A statement costs PostgreSQL a fixed
-- ~200 µs of CPU or more (protocol, transaction, commit, the executor's start) besides ~30 µs per row; the gateway's
-- per-tenant group commit paid it once per tenant per window, so with many tenants most batches were a few rows.
--
-- Each batch is appended by audit_append() exactly as a statement of its own would append it (same seq, same hash),
-- one chain after another in chain order ('' — the tenant-less chain — first, then by tenant id), and batches of the
-- same chain in the order given. Any two statements lock the chain heads they share in the same order, so two nodes
-- writing overlapping sets of tenants wait for each other instead of deadlocking. All batches commit together or
-- none does: the application writes each batch on its own after a failure, so one tenant's bad batch fails only
-- its own rows (src/audit/audit-batches.ts).
CREATE OR REPLACE FUNCTION audit_append_batches(p_batches jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  b record;
BEGIN
  FOR b IN
    SELECT x."tenant", x."rows"
      FROM ROWS FROM (jsonb_to_recordset(p_batches) AS ("tenant" text, "rows" jsonb)) WITH ORDINALITY AS x("tenant", "rows", "n")
      ORDER BY coalesce(x."tenant", ''), x."n"
  LOOP
    PERFORM audit_append(b."tenant", b."rows");
  END LOOP;
END $$;
