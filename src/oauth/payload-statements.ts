import type { AdapterPayload } from 'oidc-provider';
import { hotQuery, statement, type Statement } from '../db/hot-sql.js';
import type { TenantCtx } from '../tenants/tenant-context.js';

/**
 * The OidcPayload statements of oidc-provider's hot path (every token request) as raw SQL, one round trip each
 * (issue 17 §5, docs/decisions/0035): Prisma's model queries cost more CPU than the statements themselves, and the
 * consume and the refresh rotation's writes were several round trips. Raw SQL bypasses the tenant-scoped client, so
 * the tenant id is bound from the `TenantCtx` in every WHERE and VALUES (as src/scim/user-statements.ts does);
 * test/oauth/payload-statements.test.ts proves another tenant's rows are never read or written.
 * Sent as named prepared statements on the driver (src/db/hot-sql.ts: no Prisma runtime; instants read and written as
 * UTC, as Prisma does for these timestamp(3) columns).
 */
export interface PayloadRow {
  payload: AdapterPayload;
  grantId: string | null;
  expiresAt: Date | null;
  consumedAt: Date | null;
}

export type LookupColumn = 'id' | 'uid' | 'userCode';

const LIVE_COLUMNS = `SELECT "payload", "grantId", "expiresAt", "consumedAt" FROM "OidcPayload"`;
const LIVE = `("expiresAt" IS NULL OR "expiresAt" > $4::timestamp(3))`;
export const FIND_LIVE: Record<LookupColumn, Statement> = {
  id: statement('oidc_find_id', `${LIVE_COLUMNS} WHERE "tenantId" = $1 AND "model" = $2 AND "id" = $3 AND ${LIVE}`),
  uid: statement('oidc_find_uid', `${LIVE_COLUMNS} WHERE "tenantId" = $1 AND "model" = $2 AND "uid" = $3 AND ${LIVE} LIMIT 1`),
  userCode: statement('oidc_find_user_code', `${LIVE_COLUMNS} WHERE "tenantId" = $1 AND "model" = $2 AND "userCode" = $3 AND ${LIVE} LIMIT 1`),
};

/** A grant read beside the row that names it (grant-prefetch.ts); null columns: no grant of this tenant with that id. */
export interface WithGrant {
  grantPayload: AdapterPayload | null;
  grantExpiresAt: Date | null;
}

// The grant by the primary key, bound to the same tenant ($1) as the row `c` that names it. LATERAL … LIMIT 1, not a
// plain join: on a table without statistics the planner ran a plain LEFT JOIN as an index scan by tenant and model
// with the id as a join filter — every grant of the tenant per statement, 2.5–4.5 ms (bench/token/statement-cost.ts);
// the lateral subquery is one lookup by the full key (test/oauth/payload-statements.test.ts checks both plans).
export const GRANT_JOIN = `LEFT JOIN LATERAL (SELECT "payload", "expiresAt" FROM "OidcPayload"
      WHERE "tenantId" = $1 AND "model" = 'Grant' AND "id" = c."grantId" LIMIT 1) g ON true`;

/** FIND_LIVE.id with the row's grant (an authorization code's, at the token endpoint): one round trip for both. */
export const FIND_LIVE_WITH_GRANT = statement(
  'oidc_find_id_with_grant',
  `SELECT c."payload", c."grantId", c."expiresAt", c."consumedAt", g."payload" AS "grantPayload", g."expiresAt" AS "grantExpiresAt"
    FROM "OidcPayload" c ${GRANT_JOIN}
    WHERE c."tenantId" = $1 AND c."model" = $2 AND c."id" = $3 AND (c."expiresAt" IS NULL OR c."expiresAt" > $4::timestamp(3))`,
);

export async function findLivePayloadWithGrant(t: TenantCtx, model: string, id: string, now: Date): Promise<(PayloadRow & WithGrant) | undefined> {
  return (await hotQuery<PayloadRow & WithGrant>(t.db, FIND_LIVE_WITH_GRANT, [t.id, model, id, now]))[0];
}

/** A live row (no expiry, or an expiry after `now`) of the model, by its id, uid or user code. */
export async function findLivePayload(t: TenantCtx, model: string, column: LookupColumn, value: string, now: Date): Promise<PayloadRow | undefined> {
  return (await hotQuery<PayloadRow>(t.db, FIND_LIVE[column], [t.id, model, value, now]))[0];
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

/**
 * What a refresh rotation's winner records with its new token (refresh-rotation.ts, successorRecord): the successor's
 * id, written into the consumed token's own row (payload key SUCCESSOR_KEY), which parallel requests for the consumed
 * token read (docs/decisions/0052).
 */
export interface SuccessorWrite {
  /** The consumed token's id. */
  id: string;
  successor: string;
  /** The consumed token's consume, deferred into this statement (refresh-rotation.ts, deferConsume); null: written already. */
  consumedAt: Date | null;
}

/**
 * The payload key of a consumed refresh token naming the token that succeeded it. oidc-provider ignores it (its models
 * keep only their own payload properties); the `x_sb_` prefix is the project's own namespace in payloads, as
 * `x_sb_secret_ref` and `x_sb_admin_registered` are.
 */
export const SUCCESSOR_KEY = 'x_sb_successor';

/**
 * Insert or replace a row (oidc-provider's `upsert`), in ONE statement with what must accompany it:
 * - a Grant's client, if self-registered and still unused, stops expiring (registration-limit.ts);
 * - for a rotated refresh token, the consumed token's row gets the successor's id, which parallel requests for the
 *   consumed token wait for, and its consume (as consumePayload writes it), so the rotation's writes commit together:
 *   one insert and one (HOT) update, not a second row with six index entries (docs/decisions/0052).
 */
export async function upsertPayload(t: TenantCtx, w: PayloadWrite, extra: { grantOfClient?: string; successor?: SuccessorWrite } = {}): Promise<void> {
  const s = extra.successor;
  const consumedAt = s?.consumedAt ?? null;
  await hotQuery(t.db, UPSERT, [
    t.id, w.model, w.id, JSON.stringify(w.payload), w.grantId, w.userCode, w.uid, w.accountId, w.expiresAt, w.now,
    extra.grantOfClient ?? null,
    s?.id ?? null, s?.successor ?? null,
    consumedAt, consumedAt ? Math.floor(consumedAt.getTime() / 1000) : null,
  ]);
}

// $1 tenant, $2–$10 the row, $11 a granted client, $12–$13 the rotation (the consumed token, its successor; the
// rotation plan binds both to this tenant and grant: refresh-rotation.ts, successorRecord), $14–$15 the deferred
// consume. Rows returned, not the driver's affected-row count: PGlite reports 0 affected rows for a SELECT.
const UPSERT = statement(
  'oidc_upsert',
  `WITH upserted AS (
    INSERT INTO "OidcPayload" ("tenantId", "model", "id", "payload", "grantId", "userCode", "uid", "accountId", "expiresAt", "createdAt")
      VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9::timestamp(3), $10::timestamp(3))
      ON CONFLICT ("tenantId", "model", "id") DO UPDATE SET "payload" = EXCLUDED."payload", "grantId" = EXCLUDED."grantId",
        "userCode" = EXCLUDED."userCode", "uid" = EXCLUDED."uid", "accountId" = EXCLUDED."accountId", "expiresAt" = EXCLUDED."expiresAt"
      RETURNING 1),
  client_in_use AS (
    UPDATE "OidcPayload" SET "expiresAt" = NULL
      WHERE $11::text IS NOT NULL AND "tenantId" = $1 AND "model" = 'Client' AND "id" = $11::text AND "expiresAt" IS NOT NULL
      RETURNING 1),
  rotated AS (
    UPDATE "OidcPayload" SET "consumedAt" = COALESCE("consumedAt", $14::timestamp(3)),
        "payload" = "payload" || CASE WHEN $14::timestamp(3) IS NULL THEN jsonb_build_object('${SUCCESSOR_KEY}', $13::text)
          ELSE jsonb_build_object('${SUCCESSOR_KEY}', $13::text, 'consumed', $15::bigint) END
      WHERE $12::text IS NOT NULL AND "tenantId" = $1 AND "model" = 'RefreshToken' AND "id" = $12::text
      RETURNING 1)
  SELECT (SELECT count(*) FROM upserted) AS n, (SELECT count(*) FROM client_in_use) AS c, (SELECT count(*) FROM rotated) AS r`,
);

/**
 * oidc-provider's `consume` as ONE statement: the row is stamped consumed (column and payload, which oidc-provider
 * reads back). `singleUse`: only a row not consumed yet matches, so of two parallel redemptions of one code exactly
 * one gets `true` (the conditional update is the lock). Otherwise (a refresh token, already claimed by the rotation)
 * the first consumption instant is kept.
 */
export async function consumePayload(t: TenantCtx, model: string, id: string, at: Date, singleUse: boolean): Promise<boolean> {
  const rows = await hotQuery(t.db, singleUse ? CONSUME_ONCE : CONSUME, [t.id, model, id, at, Math.floor(at.getTime() / 1000)]);
  return rows.length > 0;
}

export const CONSUME_ONCE = statement(
  'oidc_consume_once',
  `UPDATE "OidcPayload" SET "consumedAt" = $4::timestamp(3), "payload" = "payload" || jsonb_build_object('consumed', $5::bigint)
    WHERE "tenantId" = $1 AND "model" = $2 AND "id" = $3 AND "consumedAt" IS NULL
    RETURNING 1`,
);
export const CONSUME = statement(
  'oidc_consume',
  `UPDATE "OidcPayload" SET "consumedAt" = COALESCE("consumedAt", $4::timestamp(3)), "payload" = "payload" || jsonb_build_object('consumed', $5::bigint)
    WHERE "tenantId" = $1 AND "model" = $2 AND "id" = $3
    RETURNING 1`,
);

export const DELETE = statement('oidc_delete', `DELETE FROM "OidcPayload" WHERE "tenantId" = $1 AND "model" = $2 AND "id" = $3 RETURNING 1`);
const DELETE_OF_GRANT = statement('oidc_delete_of_grant', `DELETE FROM "OidcPayload" WHERE "tenantId" = $1 AND "model" = $2 AND "grantId" = $3 RETURNING 1`);

/** Deletes one row; resolves with whether it existed. */
export async function deletePayload(t: TenantCtx, model: string, id: string): Promise<boolean> {
  return (await hotQuery(t.db, DELETE, [t.id, model, id])).length > 0;
}

/** Deletes the model's rows of one grant (oidc-provider's `revokeByGrantId`). */
export async function deletePayloadsOfGrant(t: TenantCtx, model: string, grantId: string): Promise<void> {
  await hotQuery(t.db, DELETE_OF_GRANT, [t.id, model, grantId]);
}

export interface Account {
  id: string;
  email: string | null;
  displayName: string | null;
}

const ACTIVE_ACCOUNT = statement('active_account', `SELECT "id", "email", "displayName" FROM "User" WHERE "tenantId" = $1 AND "id" = $2 AND "active" = true`);

/**
 * The account behind a `sub` (oidc-provider's `findAccount`, read on every token request): an active user of this
 * tenant. Raw SQL (three columns, no Prisma model mapping), so the tenant is bound here.
 */
export async function findActiveAccount(t: TenantCtx, sub: string): Promise<Account | undefined> {
  return (await hotQuery<Account>(t.db, ACTIVE_ACCOUNT, [t.id, sub]))[0];
}
