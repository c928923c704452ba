-- Audit log: per-chain sequence and SHA-256 hash chain, appended only through audit_append(), and triggers that make
-- the table append-only in the database itself (docs/decisions/0015-audit-chain-append-only.md).

-- AlterTable
ALTER TABLE "AuditEvent" ADD COLUMN     "hash" TEXT,
ADD COLUMN     "seq" BIGINT;

-- CreateTable
CREATE TABLE "AuditChain" (
    "chain" TEXT NOT NULL,
    "lastSeq" BIGINT NOT NULL DEFAULT 0,
    "lastHash" TEXT NOT NULL DEFAULT '',
    "prunedSeq" BIGINT NOT NULL DEFAULT 0,
    "prunedHash" TEXT NOT NULL DEFAULT '',
    "prunedAt" TIMESTAMP(3),

    CONSTRAINT "AuditChain_pkey" PRIMARY KEY ("chain")
);

-- CreateIndex
CREATE UNIQUE INDEX "AuditEvent_tenantId_seq_key" ON "AuditEvent"("tenantId", "seq");

-- What a row commits to: every column but the hash, as the text of one JSON array. jsonb's text form is deterministic
-- for a value (keys sorted), and the timestamp is formatted explicitly so that no session setting (DateStyle) alters it.
CREATE FUNCTION audit_content(p_seq bigint, p_id text, p_tenant text, p_actor_kind text, p_actor_id text, p_action text,
    p_target_kind text, p_target_id text, p_outcome text, p_ip text, p_user_agent text, p_request_id text,
    p_detail jsonb, p_created_at timestamp) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_array(p_seq, p_id, p_tenant, p_actor_kind, p_actor_id, p_action, p_target_kind, p_target_id,
    p_outcome, p_ip, p_user_agent, p_request_id, p_detail, to_char(p_created_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS'))::text
$$;

-- One link of the chain: the previous row's hash (64 hex digits, or the retention anchor, or '' at the start) and
-- this row's content.
CREATE FUNCTION audit_link(p_prev text, p_content text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT encode(sha256(convert_to(p_prev || p_content, 'UTF8')), 'hex')
$$;

-- Chain the rows that exist already, per tenant in (createdAt, id) order.
DO $$
DECLARE
  r record;
  v_chain text;
  v_prev_chain text;
  v_seq bigint := 0;
  v_hash text := '';
BEGIN
  FOR r IN SELECT * FROM "AuditEvent" ORDER BY coalesce("tenantId", ''), "createdAt", "id" LOOP
    v_chain := coalesce(r."tenantId", '');
    IF v_prev_chain IS DISTINCT FROM v_chain THEN
      IF v_prev_chain IS NOT NULL THEN
        INSERT INTO "AuditChain" ("chain", "lastSeq", "lastHash") VALUES (v_prev_chain, v_seq, v_hash);
      END IF;
      v_prev_chain := v_chain;
      v_seq := 0;
      v_hash := '';
    END IF;
    v_seq := v_seq + 1;
    v_hash := audit_link(v_hash, audit_content(v_seq, r."id", r."tenantId", r."actorKind", r."actorId", r."action",
      r."targetKind", r."targetId", r."outcome", r."ip", r."userAgent", r."requestId", r."detail", r."createdAt"));
    UPDATE "AuditEvent" SET "seq" = v_seq, "hash" = v_hash WHERE "id" = r."id";
  END LOOP;
  IF v_prev_chain IS NOT NULL THEN
    INSERT INTO "AuditChain" ("chain", "lastSeq", "lastHash") VALUES (v_prev_chain, v_seq, v_hash);
  END IF;
END $$;

ALTER TABLE "AuditEvent" ALTER COLUMN "seq" SET NOT NULL, ALTER COLUMN "hash" SET NOT NULL;

-- Appends one batch (a JSON array of rows, in order) to a chain: the tenant's (p_tenant) or the tenant-less one (NULL).
-- The chain head is read and advanced under its row lock, so batches from several nodes take turns and every row
-- commits to the row before it; one call is one statement, as the group commit needs (decision 0007).
CREATE FUNCTION audit_append(p_tenant text, p_rows jsonb) RETURNS void LANGUAGE plpgsql AS $$
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
    SELECT audit_content(v_seq + e.n, r."id", p_tenant, r."actorKind", r."actorId", r."action", r."targetKind",
        r."targetId", r."outcome", r."ip", r."userAgent", r."requestId", coalesce(r."detail", '{}'), r."createdAt")
      FROM jsonb_array_elements(p_rows) WITH ORDINALITY AS e(v, n),
           jsonb_to_record(e.v) AS r("id" text, "actorKind" text, "actorId" text, "action" text, "targetKind" text,
             "targetId" text, "outcome" text, "ip" text, "userAgent" text, "requestId" text, "detail" jsonb,
             "createdAt" timestamp(3))
      ORDER BY e.n
  LOOP
    v_hash := audit_link(v_hash, v_content);
    v_hashes := v_hashes || v_hash;
  END LOOP;
  INSERT INTO "AuditEvent" ("id", "tenantId", "actorKind", "actorId", "action", "targetKind", "targetId", "outcome",
      "ip", "userAgent", "requestId", "detail", "createdAt", "seq", "hash")
    SELECT r."id", p_tenant, r."actorKind", r."actorId", r."action", r."targetKind", r."targetId", r."outcome", r."ip",
        r."userAgent", r."requestId", coalesce(r."detail", '{}'), r."createdAt", v_seq + e.n, v_hashes[e.n]
      FROM jsonb_array_elements(p_rows) WITH ORDINALITY AS e(v, n),
           jsonb_to_record(e.v) AS r("id" text, "actorKind" text, "actorId" text, "action" text, "targetKind" text,
             "targetId" text, "outcome" text, "ip" text, "userAgent" text, "requestId" text, "detail" jsonb,
             "createdAt" timestamp(3));
  UPDATE "AuditChain" SET "lastSeq" = v_seq + cardinality(v_hashes), "lastHash" = v_hash WHERE "chain" = v_chain;
END $$;

-- Rows are never updated or deleted, and the table is never truncated. The one exception is audit_prune() deleting
-- rows its chain's retention anchor has already moved past, which it announces with a transaction-local setting.
CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE'
     AND current_setting('sso_bridge.audit_prune', true) = 'chain:' || coalesce(OLD."tenantId", '')
     AND OLD."seq" <= (SELECT "prunedSeq" FROM "AuditChain" WHERE "chain" = coalesce(OLD."tenantId", '')) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'AuditEvent is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER "AuditEvent_append_only" BEFORE UPDATE OR DELETE ON "AuditEvent"
  FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();

-- A chain head only moves forward; its retention anchor moves only inside audit_prune(); it is never deleted.
CREATE FUNCTION audit_chain_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW."chain" = OLD."chain" AND NEW."lastSeq" >= OLD."lastSeq"
     AND NEW."prunedSeq" >= OLD."prunedSeq" AND NEW."prunedSeq" <= NEW."lastSeq"
     AND ((NEW."prunedSeq", NEW."prunedHash", NEW."prunedAt") IS NOT DISTINCT FROM (OLD."prunedSeq", OLD."prunedHash", OLD."prunedAt")
          OR current_setting('sso_bridge.audit_prune', true) = 'chain:' || OLD."chain") THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'AuditChain only moves forward: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER "AuditChain_forward_only" BEFORE UPDATE OR DELETE ON "AuditChain"
  FOR EACH ROW EXECUTE FUNCTION audit_chain_forward_only();

CREATE FUNCTION audit_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: TRUNCATE refused', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER "AuditEvent_no_truncate" BEFORE TRUNCATE ON "AuditEvent"
  FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate();
CREATE TRIGGER "AuditChain_no_truncate" BEFORE TRUNCATE ON "AuditChain"
  FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate();

-- Retention: deletes the oldest rows of one chain — the longest prefix (by seq) whose rows are all older than
-- p_before, never a row in the middle — moves the chain's anchor to the last deleted row's hash (the first kept row
-- chains from it, so the rest still verifies), and appends p_event (an audit row without detail) saying what it did.
CREATE FUNCTION audit_prune(p_tenant text, p_before timestamp, p_event jsonb)
    RETURNS TABLE (deleted bigint, through_seq bigint, anchor_hash text) LANGUAGE plpgsql AS $$
DECLARE
  v_chain text := coalesce(p_tenant, '');
  v_last bigint;
  v_pruned bigint;
  v_through bigint;
  v_anchor text;
  v_deleted bigint;
BEGIN
  SELECT "lastSeq", "prunedSeq" INTO v_last, v_pruned FROM "AuditChain" WHERE "chain" = v_chain FOR UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 0::bigint, 0::bigint, ''::text;
    RETURN;
  END IF;
  SELECT coalesce(min("seq") - 1, v_last) INTO v_through FROM "AuditEvent"
    WHERE coalesce("tenantId", '') = v_chain AND "seq" > v_pruned AND "createdAt" >= p_before;
  IF v_through <= v_pruned THEN
    RETURN QUERY SELECT 0::bigint, v_pruned, (SELECT "prunedHash" FROM "AuditChain" WHERE "chain" = v_chain);
    RETURN;
  END IF;
  SELECT "hash" INTO v_anchor FROM "AuditEvent" WHERE coalesce("tenantId", '') = v_chain AND "seq" = v_through;
  PERFORM set_config('sso_bridge.audit_prune', 'chain:' || v_chain, true);
  UPDATE "AuditChain" SET "prunedSeq" = v_through, "prunedHash" = v_anchor, "prunedAt" = (p_event->>'createdAt')::timestamp(3)
    WHERE "chain" = v_chain;
  DELETE FROM "AuditEvent" WHERE coalesce("tenantId", '') = v_chain AND "seq" > v_pruned AND "seq" <= v_through;
  GET DIAGNOSTICS v_deleted = ROW_COUNT;
  PERFORM set_config('sso_bridge.audit_prune', '', true);
  PERFORM audit_append(p_tenant, jsonb_build_array(p_event || jsonb_build_object('detail', jsonb_build_object(
    'before', to_char(p_before, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'deleted', v_deleted, 'throughSeq', v_through,
    'anchorHash', v_anchor))));
  RETURN QUERY SELECT v_deleted, v_through, v_anchor;
END $$;
