import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { Prisma } from '../generated/prisma/client.js';
import type { Clock } from '../lib/clock.js';
import type { TenantCtx } from '../tenants/tenant-context.js';

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
const SUCCESSOR_MODEL = 'RefreshSuccessor';
const WAIT_STEP_MS = 25;
const WAIT_MAX_MS = 3_000;

export type RotationPlan =
  | { kind: 'rotate'; tenantId: string; id: string; grantId: string | null }
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

/** Adapter hook: the winner of a claim records which token succeeded the one it consumed. */
export async function recordSuccessor(t: TenantCtx, clock: Clock, successorId: string, grantId: string | undefined) {
  const plan = plans.getStore();
  if (plan?.kind !== 'rotate' || plan.tenantId !== t.id || plan.id === successorId || plan.grantId !== (grantId ?? null)) return;
  const expiresAt = new Date(clock.now().getTime() + REFRESH_GRACE_MS + 60_000);
  await t.db.oidcPayload.upsert({
    where: { tenantId_model_id: { tenantId: t.id, model: SUCCESSOR_MODEL, id: plan.id } },
    create: { tenantId: t.id, model: SUCCESSOR_MODEL, id: plan.id, grantId: plan.grantId, payload: { successor: successorId }, expiresAt },
    update: { payload: { successor: successorId }, expiresAt },
  });
}

async function findSuccessor(t: TenantCtx, id: string): Promise<string | null> {
  const row = await t.db.oidcPayload.findFirst({ where: { model: SUCCESSOR_MODEL, id } });
  const successor = (row?.payload as { successor?: unknown } | undefined)?.successor;
  return typeof successor === 'string' ? successor : null;
}

async function claim(t: TenantCtx, clock: Clock, id: string) {
  const { count } = await t.db.oidcPayload.updateMany({
    where: { model: 'RefreshToken', id, consumedAt: null },
    data: { consumedAt: clock.now() },
  });
  return count === 1;
}

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
    const row = await t.db.oidcPayload.findFirst({ where: { model: 'RefreshToken', id } });
    if (!row) return { kind: 'none' };
    if (!row.consumedAt) {
      if (await claim(t, clock, id)) return { kind: 'rotate', tenantId: t.id, id, grantId: row.grantId };
      continue;
    }
    const successor = await findSuccessor(t, id);
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
