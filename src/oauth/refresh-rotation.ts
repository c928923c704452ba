import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { hotQuery, statement } from '../db/hot-sql.js';
import type { Prisma } from '../generated/prisma/client.js';
import type { Clock } from '../lib/clock.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { keepGrant } from './grant-prefetch.js';
import { GRANT_JOIN, SUCCESSOR_KEY, type SuccessorWrite, type WithGrant } from './payload-statements.js';

/**
 * Refresh-token rotation with reuse detection (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2), serialized in the database.
 *
 * Before oidc-provider sees a refresh request we *claim* the presented token with a conditional update
 * (`consumedAt IS NULL`): of two parallel requests — on one node or two — exactly one wins and rotates. The loser, if
 * it arrives within the grace window, waits for the winner's successor and is answered with that same successor
 * (clients that refresh twice in parallel, or lost the first reply, keep working). Outside the window the token is a
 * replay: it is marked used so oidc-provider revokes the whole grant and answers `invalid_grant`.
 */
export const REFRESH_GRACE_MS = 10_000;
const WAIT_STEP_MS = 25;
const WAIT_MAX_MS = 3_000;

/** The claimed token's row as the claim returned it: oidc-provider's lookup of that token is answered from it. */
export interface ClaimedRow {
  payload: unknown;
  expiresAt: Date | null;
}

export type RotationPlan =
  | {
      kind: 'rotate';
      tenantId: string;
      id: string;
      grantId: string | null;
      claimed?: ClaimedRow;
      /** oidc-provider consumed the claimed token: written with its successor (deferConsume), or after the request. */
      pendingConsume?: Date;
    }
  /** A used token within the grace window: answered with its successor, and recorded in the audit log. */
  | { kind: 'grace'; grantId: string | null }
  /** A used token presented again outside the grace window: oidc-provider will revoke its grant. */
  | { kind: 'replay'; grantId: string | null }
  | { kind: 'none' };

const plans = new AsyncLocalStorage<RotationPlan>();

export const runWithRotationPlan = <T>(plan: RotationPlan, fn: () => Promise<T>) => plans.run(plan, fn);

/** The plan of the token request being served (read inside oidc-provider's middleware, see audit-issuance.ts). */
export const currentRotationPlan = (): RotationPlan | undefined => plans.getStore();

/** oidc-provider's rotateRefreshToken: always rotate, except when answering a grace-window duplicate. */
export const shouldRotate = () => plans.getStore()?.kind !== 'grace';

/**
 * Adapter hook: when the winner of a claim saves its new refresh token, which token succeeded the one it consumed —
 * written by the adapter into the consumed token's row, in the same statement as the new token (payload-statements.ts,
 * SUCCESSOR_KEY; docs/decisions/0052). Null when the token being saved is not this rotation's successor (another
 * tenant, another grant, the consumed token itself).
 */
export function successorRecord(t: TenantCtx, successorId: string, grantId: string | undefined): SuccessorWrite | null {
  const plan = plans.getStore();
  if (plan?.kind !== 'rotate' || plan.tenantId !== t.id || plan.id === successorId || plan.grantId !== (grantId ?? null)) return null;
  return { id: plan.id, successor: successorId, consumedAt: plan.pendingConsume ?? null };
}

/**
 * Adapter hook: oidc-provider consumes the token this request claimed, then saves its successor. The consume is
 * written in the successor's statement (one round trip fewer); the claim already keeps every other request off the
 * token meanwhile. False: not this rotation's token, consume it now.
 */
export function deferConsume(t: TenantCtx, id: string, at: Date): boolean {
  const plan = plans.getStore();
  if (plan?.kind !== 'rotate' || plan.tenantId !== t.id || plan.id !== id) return false;
  plan.pendingConsume = at;
  return true;
}

/** Adapter hook: the successor's statement, with the deferred consume in it, has committed. */
export function deferredConsumeWritten() {
  const plan = plans.getStore();
  if (plan?.kind === 'rotate') delete plan.pendingConsume;
}

/**
 * Adapter hook: oidc-provider's lookup of the token this request just claimed is answered from the claim's own
 * returned row (one round trip fewer), once, and only while it has not expired. Undefined: look in the database.
 */
export function takeClaimedRow(t: TenantCtx, id: string, now: Date): { payload: unknown } | null | undefined {
  const plan = plans.getStore();
  if (plan?.kind !== 'rotate' || plan.tenantId !== t.id || plan.id !== id || !plan.claimed) return undefined;
  const row = plan.claimed;
  delete plan.claimed;
  return row.expiresAt === null || row.expiresAt > now ? { payload: row.payload } : null;
}

/** The token that succeeded a consumed one, as its rotation wrote it into the consumed token's row; null: none (yet). */
function successorIn(payload: unknown): string | null {
  const successor = (payload as Record<string, unknown> | null)?.[SUCCESSOR_KEY];
  return typeof successor === 'string' ? successor : null;
}

/**
 * A successor recorded by a node of an earlier version, as a row of its own (model 'RefreshSuccessor', expiring a
 * minute after the grace window): read only when the consumed token's row names none, so a rolling upgrade does not
 * turn a client's parallel refresh into a replay. Removable once no node of those versions runs.
 */
async function legacySuccessor(t: TenantCtx, id: string): Promise<string | null> {
  const row = await t.db.oidcPayload.findFirst({ where: { model: 'RefreshSuccessor', id } });
  const successor = (row?.payload as { successor?: unknown } | undefined)?.successor;
  return typeof successor === 'string' ? successor : null;
}

/**
 * The conditional update that serializes rotation; returns the claimed row (so no read precedes it), or undefined.
 * A hot statement on the driver (src/db/hot-sql.ts), so the tenant is bound here: another tenant's token with the same
 * id is never claimed (test/oauth/payload-statements.test.ts).
 */
async function claim(t: TenantCtx, clock: Clock, id: string) {
  const [row] = await hotQuery<{ grantId: string | null; payload: unknown; expiresAt: Date | null } & Partial<WithGrant>>(t.db, CLAIM, [t.id, id, clock.now()]);
  return row;
}

/** The claim returns the token's grant too (grant-prefetch.ts): oidc-provider's Grant lookup needs no round trip. */
export const CLAIM = statement(
  'refresh_claim',
  `WITH c AS (
    UPDATE "OidcPayload" SET "consumedAt" = $3::timestamp(3)
      WHERE "tenantId" = $1 AND "model" = 'RefreshToken' AND "id" = $2 AND "consumedAt" IS NULL
      RETURNING "grantId", "payload", "expiresAt")
  SELECT c."grantId", c."payload", c."expiresAt", g."payload" AS "grantPayload", g."expiresAt" AS "grantExpiresAt"
    FROM c ${GRANT_JOIN}`,
);

/**
 * Decides how a refresh request is served. May replace `body.refresh_token` with the successor (grace window).
 * Returns the plan to run oidc-provider under.
 */
export async function planRefresh(
  t: TenantCtx,
  clock: Clock,
  body: Record<string, unknown>,
  // Injectable so unit tests (and mutation runs) step through the bounded wait without spending real time.
  sleep: (ms: number) => Promise<unknown> = delay,
): Promise<RotationPlan> {
  const id = body.refresh_token;
  if (typeof id !== 'string' || id.length === 0 || id.length > 200) return { kind: 'none' };
  const started = clock.now().getTime();
  for (let waited = 0; ; waited += WAIT_STEP_MS) {
    // Claim first: the common case (an unused token) is one round trip.
    const won = await claim(t, clock, id);
    if (won?.grantId && won.grantPayload !== undefined) {
      keepGrant(t, won.grantId, won.grantPayload === null ? null : { payload: won.grantPayload, expiresAt: won.grantExpiresAt ?? null });
    }
    if (won) return { kind: 'rotate', tenantId: t.id, id, grantId: won.grantId, claimed: { payload: won.payload, expiresAt: won.expiresAt } };
    const row = await t.db.oidcPayload.findFirst({ where: { model: 'RefreshToken', id } });
    if (!row) return { kind: 'none' };
    // Released (a failed rotation) between the claim and this read: claim again.
    if (!row.consumedAt) continue;
    // The successor is in the same row, written with the consume (docs/decisions/0052): no second read.
    const successor = successorIn(row.payload) ?? (await legacySuccessor(t, id));
    const withinGrace = started - row.consumedAt.getTime() <= REFRESH_GRACE_MS;
    if (withinGrace && successor) {
      body.refresh_token = successor;
      return { kind: 'grace', grantId: row.grantId };
    }
    if (!withinGrace || waited >= WAIT_MAX_MS) {
      await markUsed(t, id, row.payload, row.consumedAt);
      return { kind: 'replay', grantId: row.grantId };
    }
    // The winner is still rotating on this or another node: its successor appears within milliseconds.
    await sleep(WAIT_STEP_MS);
  }
}

/** Makes sure oidc-provider sees a claimed token as used, so presenting it revokes the grant. */
async function markUsed(t: TenantCtx, id: string, payload: unknown, consumedAt: Date) {
  const p = payload as Record<string, unknown>;
  if (p.consumed) return;
  await t.db.oidcPayload.updateMany({
    where: { model: 'RefreshToken', id },
    data: { payload: { ...p, consumed: Math.floor(consumedAt.getTime() / 1000) } as Prisma.InputJsonValue },
  });
}

/** After a failed rotation (e.g. the user was just deprovisioned), the claim is released unless the token was used. */
export async function releaseClaim(t: TenantCtx, plan: RotationPlan) {
  if (plan.kind !== 'rotate') return;
  const row = await t.db.oidcPayload.findFirst({ where: { model: 'RefreshToken', id: plan.id } });
  if (row && !(row.payload as Record<string, unknown>).consumed) {
    await t.db.oidcPayload.updateMany({ where: { model: 'RefreshToken', id: plan.id }, data: { consumedAt: null } });
  }
}
