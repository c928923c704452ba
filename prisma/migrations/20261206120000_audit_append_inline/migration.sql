-- audit_append() for less of PostgreSQL's CPU (issue 17; decision 0045). Every seq and hash is byte-for-byte what the
-- definitions of migration audit_chain produce (test/foundation/audit-append-equivalence.test.ts), so rows written
-- before and after this migration form one chain that `audit verify` checks with the same audit_content/audit_link.

-- STABLE, not IMMUTABLE: the bodies call STABLE functions (to_char, json_build_array, convert_to), and PostgreSQL only
-- inlines a SQL function whose body is no more volatile than declared. Inlined, the content and the link are
-- expressions of the calling query (a PL/pgSQL simple expression for the link) instead of one executor run of the SQL
-- function per row, which parsed and planned the body again on every audit_append call.
-- json_build_array(...)::text is the same text as jsonb_build_array(...)::text for these arguments — ", " between
-- elements, strings through the same escape_json, the bigint's digits, `detail` through jsonb_out either way — without
-- building a jsonb value only to print it.
CREATE OR REPLACE FUNCTION audit_content(p_seq bigint, p_id text, p_tenant text, p_actor_kind text, p_actor_id text, p_action text,
    p_target_kind text, p_target_id text, p_outcome text, p_ip text, p_user_agent text, p_request_id text,
    p_detail jsonb, p_created_at timestamp) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT json_build_array(p_seq, p_id, p_tenant, p_actor_kind, p_actor_id, p_action, p_target_kind, p_target_id,
    p_outcome, p_ip, p_user_agent, p_request_id, p_detail, to_char(p_created_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS'))::text
$$;

CREATE OR REPLACE FUNCTION audit_link(p_prev text, p_content text) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT encode(sha256(convert_to(p_prev || p_content, 'UTF8')), 'hex')
$$;

-- Same lock order and statements as before (chain head FOR UPDATE, fold, one INSERT … SELECT, head advanced), with
-- the batch read by jsonb_to_recordset (one pass over the array per statement instead of an element copy plus a
-- jsonb_to_record per row), the hashes collected with array_append (in place) and joined by position instead of
-- subscripted once per inserted row.
CREATE OR REPLACE FUNCTION audit_append(p_tenant text, p_rows jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_chain text := coalesce(p_tenant, '');
  v_seq bigint;
  v_hash text;
  v_content text;
  v_hashes text[] := '{}';
BEGIN
  SELECT "lastSeq", "lastHash" INTO v_seq, v_hash FROM "AuditChain" WHERE "chain" = v_chain FOR UPDATE;
  IF NOT FOUND THEN
    INSERT INTO "AuditChain" ("chain") VALUES (v_chain) ON CONFLICT ("chain") DO NOTHING;
    SELECT "lastSeq", "lastHash" INTO v_seq, v_hash FROM "AuditChain" WHERE "chain" = v_chain FOR UPDATE;
  END IF;
  FOR v_content IN
    SELECT audit_content(v_seq + r.ordinality, r."id", p_tenant, r."actorKind", r."actorId", r."action", r."targetKind",
        r."targetId", r."outcome", r."ip", r."userAgent", r."requestId", coalesce(r."detail", '{}'), r."createdAt")
      FROM ROWS FROM (jsonb_to_recordset(p_rows) AS ("id" text, "actorKind" text, "actorId" text, "action" text,
             "targetKind" text, "targetId" text, "outcome" text, "ip" text, "userAgent" text, "requestId" text,
             "detail" jsonb, "createdAt" timestamp(3))) WITH ORDINALITY AS r
      ORDER BY r.ordinality
  LOOP
    v_hash := audit_link(v_hash, v_content);
    v_hashes := array_append(v_hashes, v_hash);
  END LOOP;
  INSERT INTO "AuditEvent" ("id", "tenantId", "actorKind", "actorId", "action", "targetKind", "targetId", "outcome",
      "ip", "userAgent", "requestId", "detail", "createdAt", "seq", "hash")
    SELECT r."id", p_tenant, r."actorKind", r."actorId", r."action", r."targetKind", r."targetId", r."outcome", r."ip",
        r."userAgent", r."requestId", coalesce(r."detail", '{}'), r."createdAt", v_seq + r.ordinality, h."hash"
      FROM ROWS FROM (jsonb_to_recordset(p_rows) AS ("id" text, "actorKind" text, "actorId" text, "action" text,
             "targetKind" text, "targetId" text, "outcome" text, "ip" text, "userAgent" text, "requestId" text,
             "detail" jsonb, "createdAt" timestamp(3))) WITH ORDINALITY AS r
      JOIN unnest(v_hashes) WITH ORDINALITY AS h("hash", "n") ON h."n" = r.ordinality;
  UPDATE "AuditChain" SET "lastSeq" = v_seq + cardinality(v_hashes), "lastHash" = v_hash WHERE "chain" = v_chain;
END $$;
