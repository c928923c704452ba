import type { AdapterPayload } from 'oidc-provider';
import type { TenantCtx } from '../tenants/tenant-context.js';

/**
 * The OidcPayload statements of oidc-provider's hot path (every token request) as raw SQL, one round trip each
 * (issue 17 §5, docs/decisions/0035): Prisma's model queries cost more CPU than the statements themselves, and the
 * consume and the refresh rotation's writes were several round trips. Raw SQL bypasses the tenant-scoped client, so
 * the tenant id is bound from the `TenantCtx` in every WHERE and VALUES (as src/scim/user-statements.ts does);
 * test/oauth/payload-statements.test.ts proves another tenant's rows are never read or written.
 * Instants are bound as ISO strings cast to the column's type (timestamp(3), UTC), as Prisma writes them.
 */
export interface PayloadRow {
  payload: AdapterPayload;
  grantId: string | null;
  expiresAt: Date | null;
  consumedAt: Date | null;
}

export type LookupColumn = 'id' | 'uid' | 'userCode';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** A live row (no expiry, or an expiry after `now`) of the model, by its id, uid or user code. */
export async function findLivePayload(t: TenantCtx, model: string, column: LookupColumn, value: string, now: Date): Promise<PayloadRow | undefined> {
  const at = now.toISOString();
  const rows =
    column === 'id'
      ? await t.db.$queryRaw<PayloadRow[]>`
          SELECT "payload", "grantId", "expiresAt", "consumedAt" FROM "OidcPayload"
          WHERE "tenantId" = ${t.id} AND "model" = ${model} AND "id" = ${value}
            AND ("expiresAt" IS NULL OR "expiresAt" > ${at}::timestamp(3))`
      : column === 'uid'
        ? await t.db.$queryRaw<PayloadRow[]>`
            SELECT "payload", "grantId", "expiresAt", "consumedAt" FROM "OidcPayload"
            WHERE "tenantId" = ${t.id} AND "model" = ${model} AND "uid" = ${value}
              AND ("expiresAt" IS NULL OR "expiresAt" > ${at}::timestamp(3)) LIMIT 1`
        : await t.db.$queryRaw<PayloadRow[]>`
            SELECT "payload", "grantId", "expiresAt", "consumedAt" FROM "OidcPayload"
            WHERE "tenantId" = ${t.id} AND "model" = ${model} AND "userCode" = ${value}
              AND ("expiresAt" IS NULL OR "expiresAt" > ${at}::timestamp(3)) LIMIT 1`;
  return rows[0];
}

export interface PayloadWrite {
  model: string;
  id: string;
  payload: AdapterPayload;
  grantId: string | null;
  userCode: string | null;
  uid: string | null;
  accountId: string | null;
  expiresAt: Date | null;
  now: Date;
}

/** What a refresh rotation's winner records beside its new token (refresh-rotation.ts, successorRecord). */
export interface SuccessorWrite {
  /** The consumed token's id: the record's key. */
  id: string;
  grantId: string | null;
  successor: string;
  expiresAt: Date;
  /** The consumed token's consume, deferred into this statement (refresh-rotation.ts, deferConsume); null: written already. */
  consumedAt: Date | null;
}

/**
 * Insert or replace a row (oidc-provider's `upsert`), in ONE statement with what must accompany it:
 * - a Grant's client, if self-registered and still unused, stops expiring (registration-limit.ts);
 * - a rotated refresh token's successor record, which parallel requests for the consumed token wait for, and the
 *   consumed token's consume (as consumePayload writes it), so the rotation's writes commit together.
 */
export async function upsertPayload(t: TenantCtx, w: PayloadWrite, extra: { grantOfClient?: string; successor?: SuccessorWrite } = {}): Promise<void> {
  const payload = JSON.stringify(w.payload);
  const now = w.now.toISOString();
  const s = extra.successor;
  const consumedAt = iso(s?.consumedAt ?? null);
  const consumed = s?.consumedAt ? Math.floor(s.consumedAt.getTime() / 1000) : null;
  // Rows returned, not the driver's affected-row count: PGlite reports 0 affected rows for a SELECT.
  await t.db.$queryRaw`
    WITH upserted AS (
      INSERT INTO "OidcPayload" ("tenantId", "model", "id", "payload", "grantId", "userCode", "uid", "accountId", "expiresAt", "createdAt")
        VALUES (${t.id}, ${w.model}, ${w.id}, ${payload}::jsonb, ${w.grantId}, ${w.userCode}, ${w.uid}, ${w.accountId},
          ${iso(w.expiresAt)}::timestamp(3), ${now}::timestamp(3))
        ON CONFLICT ("tenantId", "model", "id") DO UPDATE SET "payload" = EXCLUDED."payload", "grantId" = EXCLUDED."grantId",
          "userCode" = EXCLUDED."userCode", "uid" = EXCLUDED."uid", "accountId" = EXCLUDED."accountId", "expiresAt" = EXCLUDED."expiresAt"
        RETURNING 1),
    client_in_use AS (
      UPDATE "OidcPayload" SET "expiresAt" = NULL
        WHERE ${extra.grantOfClient ?? null}::text IS NOT NULL AND "tenantId" = ${t.id} AND "model" = 'Client'
          AND "id" = ${extra.grantOfClient ?? null} AND "expiresAt" IS NOT NULL
        RETURNING 1),
    successor AS (
      INSERT INTO "OidcPayload" ("tenantId", "model", "id", "payload", "grantId", "expiresAt", "createdAt")
        SELECT ${t.id}, 'RefreshSuccessor', ${s?.id ?? null}, jsonb_build_object('successor', ${s?.successor ?? null}::text), ${s?.grantId ?? null},
          ${iso(s?.expiresAt ?? null)}::timestamp(3), ${now}::timestamp(3)
        WHERE ${s?.id ?? null}::text IS NOT NULL
        ON CONFLICT ("tenantId", "model", "id") DO UPDATE SET "payload" = EXCLUDED."payload", "expiresAt" = EXCLUDED."expiresAt"
        RETURNING 1),
    consumed AS (
      UPDATE "OidcPayload" SET "consumedAt" = COALESCE("consumedAt", ${consumedAt}::timestamp(3)),
          "payload" = "payload" || jsonb_build_object('consumed', ${consumed}::bigint)
        WHERE ${consumedAt}::text IS NOT NULL AND "tenantId" = ${t.id} AND "model" = 'RefreshToken' AND "id" = ${s?.id ?? null}
        RETURNING 1)
    SELECT (SELECT count(*) FROM upserted) AS n, (SELECT count(*) FROM client_in_use) AS c, (SELECT count(*) FROM successor) AS s,
      (SELECT count(*) FROM consumed) AS u`;
}

/**
 * oidc-provider's `consume` as ONE statement: the row is stamped consumed (column and payload, which oidc-provider
 * reads back). `singleUse`: only a row not consumed yet matches, so of two parallel redemptions of one code exactly
 * one gets `true` (the conditional update is the lock). Otherwise (a refresh token, already claimed by the rotation)
 * the first consumption instant is kept.
 */
export async function consumePayload(t: TenantCtx, model: string, id: string, at: Date, singleUse: boolean): Promise<boolean> {
  const when = at.toISOString();
  const consumed = Math.floor(at.getTime() / 1000);
  const rows = singleUse
    ? await t.db.$queryRaw<unknown[]>`
        UPDATE "OidcPayload" SET "consumedAt" = ${when}::timestamp(3), "payload" = "payload" || jsonb_build_object('consumed', ${consumed}::bigint)
        WHERE "tenantId" = ${t.id} AND "model" = ${model} AND "id" = ${id} AND "consumedAt" IS NULL
        RETURNING 1`
    : await t.db.$queryRaw<unknown[]>`
        UPDATE "OidcPayload" SET "consumedAt" = COALESCE("consumedAt", ${when}::timestamp(3)),
          "payload" = "payload" || jsonb_build_object('consumed', ${consumed}::bigint)
        WHERE "tenantId" = ${t.id} AND "model" = ${model} AND "id" = ${id}
        RETURNING 1`;
  return rows.length > 0;
}

/** Deletes one row; resolves with whether it existed. */
export async function deletePayload(t: TenantCtx, model: string, id: string): Promise<boolean> {
  const rows = await t.db.$queryRaw<unknown[]>`
    DELETE FROM "OidcPayload" WHERE "tenantId" = ${t.id} AND "model" = ${model} AND "id" = ${id} RETURNING 1`;
  return rows.length > 0;
}

/** Deletes the model's rows of one grant (oidc-provider's `revokeByGrantId`). */
export async function deletePayloadsOfGrant(t: TenantCtx, model: string, grantId: string): Promise<void> {
  await t.db.$queryRaw`
    DELETE FROM "OidcPayload" WHERE "tenantId" = ${t.id} AND "model" = ${model} AND "grantId" = ${grantId} RETURNING 1`;
}

/**
 * The account behind a `sub` (oidc-provider's `findAccount`, read on every token request): an active user of this
 * tenant. Raw SQL (three columns, no Prisma model mapping), so the tenant is bound here.
 */
export async function findActiveAccount(t: TenantCtx, sub: string): Promise<{ id: string; email: string | null; displayName: string | null } | undefined> {
  const [user] = await t.db.$queryRaw<{ id: string; email: string | null; displayName: string | null }[]>`
    SELECT "id", "email", "displayName" FROM "User" WHERE "tenantId" = ${t.id} AND "id" = ${sub} AND "active" = true`;
  return user;
}
