import { describe, expect, it } from 'vitest';
import { registerDriver } from '../../src/db/hot-sql.js';
import type { Db } from '../../src/db/open-database.js';
import { ManualClock } from '../../src/lib/clock.js';
import {
  currentRotationPlan,
  deferConsume,
  deferredConsumeWritten,
  planRefresh,
  REFRESH_GRACE_MS,
  releaseClaim,
  runWithRotationPlan,
  shouldRotate,
  successorRecord,
  takeClaimedRow,
  type RotationPlan,
} from '../../src/oauth/refresh-rotation.js';
import { recordSuccessor, successorIn } from './support/record-successor.js';
import { SUCCESSOR_KEY } from '../../src/oauth/payload-statements.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';



/**
 * Refresh rotation's logic, each guard on its own, over an in-memory stand-in of the tenant-scoped `oidcPayload`
 * table (issue 18: these are the tests the mutation run executes; a database per mutant took hours). The stand-in
 * keeps the contract the rotation relies on: every query filtered by the tenant, writes of another tenant's row
 * refused, Prisma's refusal of a non-string id, and `updateMany` as ONE conditional update (`consumedAt: null`
 * matches only an unclaimed row, and the count says how many rows changed); the claim, a hot statement, is emulated
 * behind a registered driver. The claim raced for real on PostgreSQL stays in refresh-rotation-guards.test.ts. The
 * bounded wait gets an injected `sleep`, so no real time passes.
 */
interface Row {
  tenantId: string;
  model: string;
  id: string;
  grantId: string | null;
  payload: Record<string, unknown>;
  consumedAt: Date | null;
  expiresAt: Date | null;
}

class PayloadStore {
  rows: Row[] = [];
  tenant(id: string): TenantCtx {
    const matches = (r: Row, where: Record<string, unknown>) =>
      r.tenantId === id && Object.entries(where).every(([k, v]) => (r as unknown as Record<string, unknown>)[k] === v);
    const checkId = (where: Record<string, unknown>) => {
      if ('id' in where && typeof where.id !== 'string') throw new Error('Invalid value for argument `id`: Expected String');
    };
    const oidcPayload = {
      findFirst: async ({ where }: { where: Record<string, unknown> }) => {
        await Promise.resolve();
        checkId(where);
        const r = this.rows.find((row) => matches(row, where));
        return r ? structuredClone(r) : null;
      },
      updateMany: async ({ where, data }: { where: Record<string, unknown>; data: Partial<Row> }) => {
        await Promise.resolve();
        checkId(where);
        // One statement: the condition is checked and the row changed without anything in between.
        const hit = this.rows.filter((row) => matches(row, where));
        for (const r of hit) Object.assign(r, structuredClone(data));
        return { count: hit.length };
      },
      upsert: async ({ where, create, update }: { where: { tenantId_model_id: { tenantId: string; model: string; id: string } }; create: Row; update: Partial<Row> }) => {
        await Promise.resolve();
        const key = where.tenantId_model_id;
        if (key.tenantId !== id || create.tenantId !== id) throw new Error('Refusing to write a row of another tenant');
        const r = this.rows.find((row) => row.tenantId === id && row.model === key.model && row.id === key.id);
        if (r) Object.assign(r, structuredClone(update));
        else this.rows.push({ consumedAt: null, expiresAt: null, ...(structuredClone(create) as Partial<Row>) } as Row);
        return null;
      },
    };
    const db = { oidcPayload } as unknown as TenantCtx['db'];
    // The claim is a hot statement on the driver (src/db/hot-sql.ts): emulated by name, as ONE conditional update
    // bound to the tenant its first parameter names (this stand-in refuses any other tenant).
    registerDriver(db as unknown as Db, async (st, values) => {
      await Promise.resolve();
      if (st.name !== 'sb_refresh_claim') throw new Error(`statement ${st.name} is not emulated`);
      const [tenantId, tokenId, at] = values as [string, unknown, string];
      if (tenantId !== id) throw new Error('Refusing a statement bound to another tenant');
      checkId({ id: tokenId });
      const hit = this.rows.filter((row) => matches(row, { model: 'RefreshToken', id: tokenId, consumedAt: null }));
      // The driver sends instants as UTC wall time (hot-sql.ts, toParam).
      for (const r of hit) r.consumedAt = new Date(`${at}Z`);
      return hit.map((r) => structuredClone({ grantId: r.grantId, payload: r.payload, expiresAt: r.expiresAt }));
    });
    return { id, slug: id, name: id, settings: {} as TenantCtx['settings'], db };
  }
  token(tenantId: string, id: string, grantId: string | null = 'grt_1', payload: Record<string, unknown> = {}, consumedAt: Date | null = null) {
    this.rows.push({ tenantId, model: 'RefreshToken', id, grantId, payload: { kind: 'RefreshToken', ...payload }, consumedAt, expiresAt: null });
  }
  get(tenantId: string, model: string, id: string) {
    return this.rows.find((r) => r.tenantId === tenantId && r.model === model && r.id === id);
  }
}

/** A sleep that only counts (and bounds a mutant's endless loop instead of hanging the run). */
function counter(onSleep?: (n: number) => Promise<void> | void) {
  const calls: number[] = [];
  const sleep = async (ms: number) => {
    calls.push(ms);
    if (calls.length > 500) throw new Error('the wait is not bounded');
    await onSleep?.(calls.length);
  };
  return { calls, sleep };
}

function setup() {
  const store = new PayloadStore();
  const t = store.tenant('ten_a');
  const other = store.tenant('ten_b');
  return { store, t, other, clock: new ManualClock('2026-02-01T10:00:00.750Z') };
}

async function rotate(t: TenantCtx, clock: ManualClock, id: string, successor: string, grantId: string | undefined = 'grt_1') {
  const plan = await planRefresh(t, clock, { refresh_token: id });
  expect(plan.kind).toBe('rotate');
  await runWithRotationPlan(plan, () => recordSuccessor(t, clock, successor, grantId));
  return plan;
}

describe('refresh rotation over a conditional-update stand-in', () => {
  it('the first request claims the token with the clock’s instant and rotates it in its tenant and grant', async () => {
    const { store, t, clock } = setup();
    store.token('ten_a', 'rt1');
    store.token('ten_a', 'rt2');
    // The claim returns the row, so oidc-provider's lookup of the token needs no other read (takeClaimedRow).
    expect(await planRefresh(t, clock, { refresh_token: 'rt1' })).toEqual({
      kind: 'rotate', tenantId: 'ten_a', id: 'rt1', grantId: 'grt_1', claimed: { payload: { kind: 'RefreshToken' }, expiresAt: null },
    });
    expect(store.get('ten_a', 'RefreshToken', 'rt1')?.consumedAt).toEqual(clock.now());
    // Only that token is claimed.
    expect(store.get('ten_a', 'RefreshToken', 'rt2')?.consumedAt).toBeNull();
  });

  it('of six concurrent requests exactly one claims; the others wait for and get its successor', async () => {
    const { store, t, clock } = setup();
    store.token('ten_a', 'rt1');
    let winner: RotationPlan | undefined;
    const { sleep } = counter(async () => {
      // The winner records its successor once the losers have started waiting.
      if (winner) await runWithRotationPlan(winner, () => recordSuccessor(t, clock, 'succ', 'grt_1'));
    });
    const bodies = Array.from({ length: 6 }, () => ({ refresh_token: 'rt1' }) as Record<string, unknown>);
    const pending = bodies.map((b) => planRefresh(t, clock, b, sleep).then((p) => (p.kind === 'rotate' ? (winner = p) : p)));
    const plans = await Promise.all(pending);
    expect(plans.filter((p) => p.kind === 'rotate')).toHaveLength(1);
    expect(plans.filter((p) => p.kind === 'grace')).toEqual(Array(5).fill({ kind: 'grace', grantId: 'grt_1' }));
    expect(bodies.filter((b) => b.refresh_token === 'succ')).toHaveLength(5);
  });

  it('a token already claimed is never claimed again (claim is conditional): its claim instant is kept', async () => {
    const { store, t, clock } = setup();
    const earlier = new Date(clock.now().getTime() - REFRESH_GRACE_MS - 1);
    store.token('ten_a', 'rt1', 'grt_1', {}, earlier);
    const { calls, sleep } = counter();
    expect(await planRefresh(t, clock, { refresh_token: 'rt1' }, sleep)).toEqual({ kind: 'replay', grantId: 'grt_1' });
    expect(store.get('ten_a', 'RefreshToken', 'rt1')?.consumedAt).toEqual(earlier);
    expect(calls).toEqual([]);
  });

  it('a claim lost to a rotation released before the read is tried again, and then wins', async () => {
    const { store, clock } = setup();
    store.token('ten_a', 'rt1', 'grt_1', {}, clock.now());
    const raced = store.tenant('ten_a');
    const findFirst = raced.db.oidcPayload.findFirst.bind(raced.db.oidcPayload);
    let reads = 0;
    (raced.db.oidcPayload as unknown as { findFirst: unknown }).findFirst = async (args: never) => {
      // The winner's rotation failed between this request's claim and its read: the claim was released.
      if (reads++ === 0) store.get('ten_a', 'RefreshToken', 'rt1')!.consumedAt = null;
      return findFirst(args);
    };
    const { calls, sleep } = counter();
    clock.advance(1);
    expect((await planRefresh(raced, clock, { refresh_token: 'rt1' }, sleep)).kind).toBe('rotate');
    expect(store.get('ten_a', 'RefreshToken', 'rt1')?.consumedAt).toEqual(clock.now());
    expect([reads, calls.length]).toEqual([1, 0]);
  });

  it('a replay after the grace window is refused at once, marked used with the claim instant, even with a successor', async () => {
    const { store, t, clock } = setup();
    store.token('ten_a', 'rt1', 'grt_1', { jti: 'j' });
    store.token('ten_a', 'rt2');
    await rotate(t, clock, 'rt1', 'succ');
    const claimed = clock.now().getTime();
    clock.advance(REFRESH_GRACE_MS + 1);
    const body = { refresh_token: 'rt1' };
    const { calls, sleep } = counter();
    expect(await planRefresh(t, clock, body, sleep)).toEqual({ kind: 'replay', grantId: 'grt_1' });
    expect(body.refresh_token).toBe('rt1');
    expect(calls).toEqual([]);
    expect(store.get('ten_a', 'RefreshToken', 'rt1')?.payload).toEqual({ kind: 'RefreshToken', jti: 'j', consumed: Math.floor(claimed / 1000), [SUCCESSOR_KEY]: 'succ' });
    expect(store.get('ten_a', 'RefreshToken', 'rt2')?.payload).toEqual({ kind: 'RefreshToken' });
  });

  it('markUsed keeps a consumed mark oidc-provider set itself', async () => {
    const { store, t, clock } = setup();
    store.token('ten_a', 'rt1', 'grt_1', { consumed: 12345 }, clock.now());
    clock.advance(REFRESH_GRACE_MS + 1);
    expect((await planRefresh(t, clock, { refresh_token: 'rt1' })).kind).toBe('replay');
    expect(store.get('ten_a', 'RefreshToken', 'rt1')?.payload.consumed).toBe(12345);
  });

  it('the grace window includes its last millisecond, and answers with the successor without waiting', async () => {
    const { store, t, clock } = setup();
    store.token('ten_a', 'rt1');
    await rotate(t, clock, 'rt1', 'succ');
    clock.advance(REFRESH_GRACE_MS);
    const body = { refresh_token: 'rt1' };
    const { calls, sleep } = counter();
    expect(await planRefresh(t, clock, body, sleep)).toEqual({ kind: 'grace', grantId: 'grt_1' });
    expect(body.refresh_token).toBe('succ');
    expect(calls).toEqual([]);
  });

  it('the grace window is measured from the request’s start, not from each round of the wait', async () => {
    const { store, t, clock } = setup();
    store.token('ten_a', 'rt1');
    await planRefresh(t, clock, { refresh_token: 'rt1' });
    clock.advance(REFRESH_GRACE_MS);
    // The clock moves on while the loser waits; the successor appears on the second round.
    const { calls, sleep } = counter(async (n) => {
      clock.advance(1000);
      if (n === 2) store.get('ten_a', 'RefreshToken', 'rt1')!.payload[SUCCESSOR_KEY] = 'late';
    });
    const body = { refresh_token: 'rt1' };
    expect(await planRefresh(t, clock, body, sleep)).toEqual({ kind: 'grace', grantId: 'grt_1' });
    expect(body.refresh_token).toBe('late');
    expect(calls).toEqual([25, 25]);
  });

  it('a successor recorded by an earlier version (a row of its own) answers a loser within the window', async () => {
    const { store, t, clock } = setup();
    store.token('ten_a', 'rt1');
    await planRefresh(t, clock, { refresh_token: 'rt1' });
    store.rows.push({ tenantId: 'ten_a', model: 'RefreshSuccessor', id: 'rt1', grantId: 'grt_1', payload: { successor: 'old-node' }, consumedAt: null, expiresAt: null });
    // Another tenant's record for the same id is never read.
    store.rows.push({ tenantId: 'ten_b', model: 'RefreshSuccessor', id: 'rt2', grantId: 'grt_1', payload: { successor: 'theirs' }, consumedAt: null, expiresAt: null });
    store.token('ten_a', 'rt2');
    await planRefresh(t, clock, { refresh_token: 'rt2' });
    const body = { refresh_token: 'rt1' };
    expect(await planRefresh(t, clock, body)).toEqual({ kind: 'grace', grantId: 'grt_1' });
    expect(body.refresh_token).toBe('old-node');
    const theirs = { refresh_token: 'rt2' };
    const { calls, sleep } = counter();
    expect(await planRefresh(t, clock, theirs, sleep)).toEqual({ kind: 'replay', grantId: 'grt_1' });
    expect(theirs.refresh_token).toBe('rt2');
    expect(calls).toHaveLength(120);
  });

  it('a successor that is not a token id is ignored; the loser waits 3 s in 25 ms steps, then the replay is marked', async () => {
    const { store, t, clock } = setup();
    store.token('ten_a', 'rt1');
    await planRefresh(t, clock, { refresh_token: 'rt1' });
    store.get('ten_a', 'RefreshToken', 'rt1')!.payload[SUCCESSOR_KEY] = 42;
    store.rows.push({ tenantId: 'ten_a', model: 'RefreshSuccessor', id: 'rt1', grantId: 'grt_1', payload: { successor: 42 }, consumedAt: null, expiresAt: null });
    const body = { refresh_token: 'rt1' };
    const { calls, sleep } = counter();
    expect(await planRefresh(t, clock, body, sleep)).toEqual({ kind: 'replay', grantId: 'grt_1' });
    expect(body.refresh_token).toBe('rt1');
    expect(calls).toEqual(Array(120).fill(25));
    expect(store.get('ten_a', 'RefreshToken', 'rt1')?.payload.consumed).toBe(Math.floor(clock.now().getTime() / 1000));
  });

  it('the successor is looked up in the consumed token’s own row only', async () => {
    const { store, t, clock } = setup();
    store.token('ten_a', 'rt1');
    await rotate(t, clock, 'rt1', 'succ');
    store.token('ten_a', 'rt2');
    await planRefresh(t, clock, { refresh_token: 'rt2' });
    // rt2 is claimed but its winner has recorded nothing yet: rt1's successor must not be handed out.
    const body = { refresh_token: 'rt2' };
    const { calls, sleep } = counter();
    expect(await planRefresh(t, clock, body, sleep)).toEqual({ kind: 'replay', grantId: 'grt_1' });
    expect(body.refresh_token).toBe('rt2');
    expect(calls).toHaveLength(120);
  });

  it('plans nothing for an implausible id, an unknown one, another tenant’s, or another model’s', async () => {
    const { store, t, other, clock } = setup();
    // Hostile rows: an empty id and an over-long one stored (no real token has them).
    store.token('ten_a', '');
    store.token('ten_a', 'x'.repeat(201));
    for (const refresh_token of [undefined, 42, '', 'x'.repeat(201), ['a'], null]) {
      expect(await planRefresh(t, clock, { refresh_token })).toEqual({ kind: 'none' });
    }
    expect(await planRefresh(t, clock, { refresh_token: 'unknown' })).toEqual({ kind: 'none' });
    store.token('ten_b', 'theirs');
    expect(await planRefresh(t, clock, { refresh_token: 'theirs' })).toEqual({ kind: 'none' });
    expect(store.get('ten_b', 'RefreshToken', 'theirs')?.consumedAt).toBeNull();
    store.token('ten_b', 'y'.repeat(200));
    expect((await planRefresh(other, clock, { refresh_token: 'y'.repeat(200) })).kind).toBe('rotate');
    store.rows.push({ tenantId: 'ten_b', model: 'AccessToken', id: 'at-1', grantId: 'grt_1', payload: {}, consumedAt: null, expiresAt: null });
    expect(await planRefresh(other, clock, { refresh_token: 'at-1' })).toEqual({ kind: 'none' });
    expect(store.get('ten_b', 'AccessToken', 'at-1')?.consumedAt).toBeNull();
  });

  describe('recordSuccessor: only the winner’s own rotation, in its tenant and grant', () => {
    async function rotated(grantId: string | null = 'grt_1') {
      const s = setup();
      s.store.token('ten_a', 'rt1', grantId);
      const plan = await planRefresh(s.t, s.clock, { refresh_token: 'rt1' });
      return { ...s, plan };
    }
    // Every row naming a successor: the rotation writes only into the consumed token of its own tenant.
    const successors = (store: PayloadStore) =>
      store.rows.flatMap((r) => (successorIn(r.payload) ? [{ tenantId: r.tenantId, model: r.model, id: r.id, ...successorIn(r.payload) }] : []));

    it('records the successor in the consumed token’s row, in its tenant; a second one replaces it; no other row', async () => {
      const { store, t, clock, plan } = await rotated();
      const rowsBefore = store.rows.length;
      await runWithRotationPlan(plan, () => recordSuccessor(t, clock, 'succ-1', 'grt_1'));
      expect(successors(store)).toEqual([{ tenantId: 'ten_a', model: 'RefreshToken', id: 'rt1', successor: 'succ-1' }]);
      clock.advance(1000);
      await runWithRotationPlan(plan, () => recordSuccessor(t, clock, 'succ-2', 'grt_1'));
      expect(successors(store)).toEqual([{ tenantId: 'ten_a', model: 'RefreshToken', id: 'rt1', successor: 'succ-2' }]);
      expect(store.rows).toHaveLength(rowsBefore);
    });

    it('records nothing outside a rotation, or under a grace, replay or none plan', async () => {
      const { store, t, clock } = await rotated();
      await recordSuccessor(t, clock, 'succ', 'grt_1');
      for (const plan of [{ kind: 'grace', grantId: 'grt_1' }, { kind: 'replay', grantId: 'grt_1' }, { kind: 'none' }] as RotationPlan[]) {
        await runWithRotationPlan(plan, () => recordSuccessor(t, clock, 'succ', 'grt_1'));
      }
      expect(successors(store)).toEqual([]);
    });

    it('records nothing for a token saved in another tenant during this rotation (tenant binding alone)', async () => {
      const { store, other, clock, plan } = await rotated();
      await runWithRotationPlan(plan, () => recordSuccessor(other, clock, 'succ', 'grt_1'));
      expect(successors(store)).toEqual([]);
    });

    it('records nothing for a token of another grant, a grant-less one, or the consumed token saved again', async () => {
      const { store, t, clock, plan } = await rotated();
      await runWithRotationPlan(plan, () => recordSuccessor(t, clock, 'succ', 'grt_other'));
      await runWithRotationPlan(plan, () => recordSuccessor(t, clock, 'succ', undefined));
      await runWithRotationPlan(plan, () => recordSuccessor(t, clock, 'rt1', 'grt_1'));
      expect(successors(store)).toEqual([]);
    });

    it('a grant-less token binds to a grant-less successor only', async () => {
      const { store, t, clock, plan } = await rotated(null);
      await runWithRotationPlan(plan, () => recordSuccessor(t, clock, 'succ', 'grt_x'));
      expect(successors(store)).toEqual([]);
      await runWithRotationPlan(plan, () => recordSuccessor(t, clock, 'succ', undefined));
      expect(successors(store)).toEqual([{ tenantId: 'ten_a', model: 'RefreshToken', id: 'rt1', successor: 'succ' }]);
    });
  });

  describe('takeClaimedRow: oidc-provider’s lookup of the claimed token, answered from the claim', () => {
    const at = new Date('2026-02-01T10:00:00.000Z');
    const plan = (expiresAt: Date | null): RotationPlan => ({ kind: 'rotate', tenantId: 'ten_a', id: 'rt1', grantId: 'g', claimed: { payload: { p: 1 }, expiresAt } });
    const { t, other } = setup();

    it('answers once, for the claimed token of the claiming tenant only', async () => {
      await runWithRotationPlan(plan(null), async () => {
        expect(takeClaimedRow(other, 'rt1', at)).toBeUndefined();
        expect(takeClaimedRow(t, 'rt2', at)).toBeUndefined();
        expect(takeClaimedRow(t, 'rt1', at)).toEqual({ payload: { p: 1 } });
        expect(takeClaimedRow(t, 'rt1', at)).toBeUndefined();
      });
      expect(takeClaimedRow(t, 'rt1', at)).toBeUndefined();
      for (const p of [{ kind: 'grace', grantId: 'g' }, { kind: 'replay', grantId: 'g' }, { kind: 'none' }] as RotationPlan[]) {
        await runWithRotationPlan(p, async () => expect(takeClaimedRow(t, 'rt1', at)).toBeUndefined());
      }
    });

    it('an expired claimed token is not found (null), as the lookup in the database would not find it', async () => {
      await runWithRotationPlan(plan(at), async () => expect(takeClaimedRow(t, 'rt1', at)).toBeNull());
      await runWithRotationPlan(plan(new Date(at.getTime() + 1)), async () => expect(takeClaimedRow(t, 'rt1', at)).toEqual({ payload: { p: 1 } }));
    });
  });

  describe('deferConsume: oidc-provider’s consume of the claimed token, written with its successor', () => {
    const at = new Date('2026-02-01T10:00:00.000Z');
    const rotate = (): RotationPlan => ({ kind: 'rotate', tenantId: 'ten_a', id: 'rt1', grantId: 'grt_1' });

    it('defers only this rotation’s token of this tenant; the successor’s write then carries the consume, once written it is gone', async () => {
      const { t, other } = setup();
      const plan = rotate();
      await runWithRotationPlan(plan, async () => {
        expect(deferConsume(other, 'rt1', at)).toBe(false);
        expect(deferConsume(t, 'rt2', at)).toBe(false);
        expect(successorRecord(t, 'succ', 'grt_1')?.consumedAt).toBeNull();
        expect(deferConsume(t, 'rt1', at)).toBe(true);
        expect(successorRecord(t, 'succ', 'grt_1')).toMatchObject({ id: 'rt1', successor: 'succ', consumedAt: at });
        deferredConsumeWritten();
        expect(successorRecord(t, 'succ', 'grt_1')?.consumedAt).toBeNull();
      });
    });

    it('defers nothing outside a rotation (grace, replay, none, no plan): the consume is written at once', async () => {
      const { t } = setup();
      expect(deferConsume(t, 'rt1', at)).toBe(false);
      expect(() => deferredConsumeWritten()).not.toThrow();
      for (const p of [{ kind: 'grace', grantId: 'grt_1' }, { kind: 'replay', grantId: 'grt_1' }, { kind: 'none' }] as RotationPlan[]) {
        await runWithRotationPlan(p, async () => {
          expect(deferConsume(t, 'rt1', at)).toBe(false);
          deferredConsumeWritten(); // harmless there
          expect(currentRotationPlan()).toEqual(p);
        });
      }
    });
  });

  describe('releaseClaim', () => {
    it('releases the claim of a failed rotation (that token only) so it can be used again', async () => {
      const { store, t, clock } = setup();
      store.token('ten_a', 'rt1');
      store.token('ten_a', 'rt2', 'grt_1', {}, clock.now());
      const plan = await planRefresh(t, clock, { refresh_token: 'rt1' });
      await releaseClaim(t, plan);
      expect(store.get('ten_a', 'RefreshToken', 'rt1')?.consumedAt).toBeNull();
      expect(store.get('ten_a', 'RefreshToken', 'rt2')?.consumedAt).toEqual(clock.now());
      expect((await planRefresh(t, clock, { refresh_token: 'rt1' })).kind).toBe('rotate');
    });

    it('keeps the claim of a token oidc-provider marked used, and touches nothing for other plans', async () => {
      const { store, t, clock } = setup();
      // Another, unused token first in the table: the check reads the plan's own token.
      store.token('ten_a', 'rt0');
      store.token('ten_a', 'rt1');
      const plan = await planRefresh(t, clock, { refresh_token: 'rt1' });
      store.get('ten_a', 'RefreshToken', 'rt1')!.payload.consumed = 1;
      await releaseClaim(t, plan);
      expect(store.get('ten_a', 'RefreshToken', 'rt1')?.consumedAt).toEqual(clock.now());

      store.token('ten_a', 'rt2');
      await planRefresh(t, clock, { refresh_token: 'rt2' });
      for (const kind of ['grace', 'replay'] as const) await releaseClaim(t, { kind, grantId: 'grt_1' });
      await releaseClaim(t, { kind: 'none' });
      expect(store.get('ten_a', 'RefreshToken', 'rt2')?.consumedAt).toEqual(clock.now());
    });

    it('a rotate plan whose token vanished is a no-op; one whose id is another model’s row is not released', async () => {
      const { store, t } = setup();
      await expect(releaseClaim(t, { kind: 'rotate', tenantId: 'ten_a', id: 'gone', grantId: null })).resolves.toBeUndefined();
      const at = new Date();
      store.rows.push({ tenantId: 'ten_a', model: 'AccessToken', id: 'x', grantId: null, payload: {}, consumedAt: at, expiresAt: null });
      await releaseClaim(t, { kind: 'rotate', tenantId: 'ten_a', id: 'x', grantId: null });
      expect(store.get('ten_a', 'AccessToken', 'x')?.consumedAt).toBe(at);
    });
  });

  it('oidc-provider rotates except when answering a grace-window duplicate; the plan is visible inside the run only', async () => {
    expect(shouldRotate()).toBe(true);
    expect(currentRotationPlan()).toBeUndefined();
    await runWithRotationPlan({ kind: 'grace', grantId: null }, async () => {
      expect(shouldRotate()).toBe(false);
      expect(currentRotationPlan()).toEqual({ kind: 'grace', grantId: null });
    });
    for (const plan of [{ kind: 'replay', grantId: null }, { kind: 'none' }, { kind: 'rotate', tenantId: 'x', id: 'y', grantId: null }] as RotationPlan[]) {
      await runWithRotationPlan(plan, async () => expect(shouldRotate()).toBe(true));
    }
  });
});
