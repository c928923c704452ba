import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import { newId } from '../../src/lib/ids.js';
import {
  currentRotationPlan,
  planRefresh,
  REFRESH_GRACE_MS,
  releaseClaim,
  runWithRotationPlan,
  shouldRotate,
  type RotationPlan,
} from '../../src/oauth/refresh-rotation.js';
import { recordSuccessor, successorIn } from './support/record-successor.js';
import { SUCCESSOR_KEY } from '../../src/oauth/payload-statements.js';
import { createTenant } from '../../src/tenants/manage-tenants.js';
import { tenantContext, type TenantCtx } from '../../src/tenants/tenant-context.js';
import { openTestDatabase, testDbKinds } from '../support/databases.js';



/**
 * Refresh-token rotation's guards on their own (issue 18), called directly over a real database: the claim raced by
 * concurrent requests (on PostgreSQL these are separate connections of the pool; on PGlite interleaved queries),
 * markUsed, the grace window's edge, and the tenant/grant binding of a recorded successor.
 */
describe.each(testDbKinds)('refresh rotation guards (%s)', (kind) => {
  let database: Awaited<ReturnType<typeof openTestDatabase>>;
  beforeAll(async () => {
    database = await openTestDatabase(kind);
  });
  afterAll(() => database?.close());

  async function tenant(): Promise<TenantCtx> {
    const row = await createTenant(database.prisma, { slug: `r${randomBytes(4).toString('hex')}`, name: 'R' });
    return tenantContext(database.prisma, { ...row, settings: {} });
  }
  async function refreshToken(t: TenantCtx, payload: Record<string, unknown> = {}, grantId: string | null = newId('grt')) {
    const id = randomBytes(24).toString('base64url');
    await t.db.oidcPayload.create({ data: { tenantId: t.id, model: 'RefreshToken', id, grantId, payload: { kind: 'RefreshToken', ...payload } } });
    return { id, grantId };
  }
  const row = (t: TenantCtx, model: string, id: string) => t.db.oidcPayload.findFirst({ where: { model, id } });
  // The successor as the rotation records it: in the consumed token's own row (decision 0052).
  const successorOf = async (t: TenantCtx, id: string) => successorIn((await row(t, 'RefreshToken', id))?.payload);

  it('of concurrent requests presenting one token exactly one wins the claim; the others are answered with its successor', async () => {
    const t = await tenant();
    const clock = new ManualClock();
    const { id, grantId } = await refreshToken(t);
    const bodies = Array.from({ length: 6 }, () => ({ refresh_token: id }) as Record<string, unknown>);
    const pending = bodies.map((b) => planRefresh(t, clock, b));
    // The winner is known as soon as its claim returns; it then records its successor, as the adapter does.
    const winner = await Promise.race(pending.map((p, i) => p.then((plan) => (plan.kind === 'rotate' ? i : new Promise<number>(() => {})))));
    await runWithRotationPlan(await pending[winner]!, () => recordSuccessor(t, clock, 'successor-1', grantId ?? undefined));
    const plans = await Promise.all(pending);
    expect(plans.filter((p) => p.kind === 'rotate')).toEqual([{ kind: 'rotate', tenantId: t.id, id, grantId, claimed: { payload: { kind: 'RefreshToken' }, expiresAt: null } }]);
    expect(plans.filter((p) => p.kind === 'grace')).toHaveLength(5);
    for (const [i, b] of bodies.entries()) expect(b.refresh_token).toBe(i === winner ? id : 'successor-1');
    expect((await row(t, 'RefreshToken', id))?.consumedAt).toEqual(clock.now());
  });

  it('a claim is conditional: a token already claimed (consumedAt set) is never claimed again', async () => {
    const t = await tenant();
    const clock = new ManualClock();
    const { id } = await refreshToken(t);
    expect((await planRefresh(t, clock, { refresh_token: id })).kind).toBe('rotate');
    clock.advance(REFRESH_GRACE_MS + 1);
    expect((await planRefresh(t, clock, { refresh_token: id })).kind).toBe('replay');
    // The first claim's instant stands.
    expect((await row(t, 'RefreshToken', id))?.consumedAt).toEqual(new Date(clock.now().getTime() - REFRESH_GRACE_MS - 1));
  });

  it('a replay after the grace window marks the token used for oidc-provider (markUsed), with the claim instant', async () => {
    const t = await tenant();
    const clock = new ManualClock('2026-02-01T10:00:00.750Z');
    const { id, grantId } = await refreshToken(t, { jti: id0() });
    await runWithRotationPlan(await planRefresh(t, clock, { refresh_token: id }), () => recordSuccessor(t, clock, 'succ', grantId!));
    clock.advance(REFRESH_GRACE_MS + 1);
    const body = { refresh_token: id };
    expect(await planRefresh(t, clock, body)).toEqual({ kind: 'replay', grantId });
    expect(body.refresh_token).toBe(id);
    const payload = (await row(t, 'RefreshToken', id))?.payload as Record<string, unknown>;
    expect(payload).toMatchObject({ kind: 'RefreshToken', consumed: Math.floor(Date.parse('2026-02-01T10:00:00.750Z') / 1000) });
  });

  it('markUsed keeps a consumed mark oidc-provider set itself', async () => {
    const t = await tenant();
    const clock = new ManualClock();
    const { id } = await refreshToken(t, { consumed: 12345 });
    await t.db.oidcPayload.updateMany({ where: { model: 'RefreshToken', id }, data: { consumedAt: clock.now() } });
    clock.advance(REFRESH_GRACE_MS + 1);
    expect((await planRefresh(t, clock, { refresh_token: id })).kind).toBe('replay');
    expect(((await row(t, 'RefreshToken', id))?.payload as { consumed: number }).consumed).toBe(12345);
  });

  it('the grace window includes its last millisecond', async () => {
    const t = await tenant();
    const clock = new ManualClock();
    const { id, grantId } = await refreshToken(t);
    await runWithRotationPlan(await planRefresh(t, clock, { refresh_token: id }), () => recordSuccessor(t, clock, 'succ', grantId!));
    clock.advance(REFRESH_GRACE_MS);
    const body = { refresh_token: id };
    expect(await planRefresh(t, clock, body)).toEqual({ kind: 'grace', grantId });
    expect(body.refresh_token).toBe('succ');
  });

  it('a loser that finds no successor yet waits for it and is then answered with it', async () => {
    const t = await tenant();
    const clock = new ManualClock();
    const { id, grantId } = await refreshToken(t);
    const plan = await planRefresh(t, clock, { refresh_token: id });
    // The winner records its successor only once the loser has looked for it and found nothing.
    let looked = 0;
    const spied = {
      ...t,
      db: new Proxy(t.db, {
        get(target, prop) {
          if (prop !== 'oidcPayload') return Reflect.get(target, prop);
          return new Proxy(target.oidcPayload, {
            get(op, name) {
              if (name !== 'findFirst') return Reflect.get(op, name);
              return async (args: { where: { model: string } }) => {
                const result = (await op.findFirst(args as never)) as { payload: unknown } | null;
                if (args.where.model === 'RefreshToken' && looked++ === 0) {
                  expect(successorIn(result?.payload)).toBeUndefined();
                  await runWithRotationPlan(plan, () => recordSuccessor(t, clock, 'late-successor', grantId!));
                }
                return result;
              };
            },
          });
        },
      }),
    } as TenantCtx;
    const body = { refresh_token: id };
    expect(await planRefresh(spied, clock, body)).toEqual({ kind: 'grace', grantId });
    expect(body.refresh_token).toBe('late-successor');
    expect(looked).toBe(2);
  });

  it('a successor record that is not a token id is ignored; the loser gives up after its bounded wait and the replay is marked', async () => {
    const t = await tenant();
    const clock = new ManualClock();
    const { id, grantId } = await refreshToken(t);
    await planRefresh(t, clock, { refresh_token: id });
    await t.db.oidcPayload.create({ data: { tenantId: t.id, model: 'RefreshSuccessor', id, grantId, payload: { successor: 42 } } });
    const p = (await row(t, 'RefreshToken', id))!.payload as Record<string, unknown>;
    await t.db.oidcPayload.updateMany({ where: { model: 'RefreshToken', id }, data: { payload: { ...p, [SUCCESSOR_KEY]: 42 } } });
    const body = { refresh_token: id };
    expect(await planRefresh(t, clock, body)).toEqual({ kind: 'replay', grantId });
    expect(body.refresh_token).toBe(id);
    expect((await row(t, 'RefreshToken', id))?.payload).toMatchObject({ consumed: Math.floor(clock.now().getTime() / 1000) });
  }, 60_000);

  it('refuses to plan for anything but a plausible token id, an unknown one, or another tenant’s', async () => {
    const [a, b] = [await tenant(), await tenant()];
    const clock = new ManualClock();
    for (const refresh_token of [undefined, 42, '', 'x'.repeat(201), ['a']]) {
      expect(await planRefresh(a, clock, { refresh_token })).toEqual({ kind: 'none' });
    }
    expect(await planRefresh(a, clock, { refresh_token: 'unknown' })).toEqual({ kind: 'none' });
    const theirs = await refreshToken(b);
    expect(await planRefresh(a, clock, { refresh_token: theirs.id })).toEqual({ kind: 'none' });
    expect((await row(b, 'RefreshToken', theirs.id))?.consumedAt).toBeNull();
    // 200 characters is still a token id.
    const long = 'y'.repeat(200);
    await b.db.oidcPayload.create({ data: { tenantId: b.id, model: 'RefreshToken', id: long, grantId: null, payload: {} } });
    expect((await planRefresh(b, clock, { refresh_token: long })).kind).toBe('rotate');
    // An access token with that id is not a refresh token.
    await b.db.oidcPayload.create({ data: { tenantId: b.id, model: 'AccessToken', id: 'at-1', payload: {} } });
    expect(await planRefresh(b, clock, { refresh_token: 'at-1' })).toEqual({ kind: 'none' });
  });

  describe('recordSuccessor: only the winner’s own rotation, in its tenant and grant', () => {
    async function rotated() {
      const [t, other] = [await tenant(), await tenant()];
      const clock = new ManualClock();
      const { id, grantId } = await refreshToken(t);
      const plan = await planRefresh(t, clock, { refresh_token: id });
      expect(plan.kind).toBe('rotate');
      return { t, other, clock, id, grantId: grantId!, plan };
    }

    it('records the successor in the consumed token’s row; a second rotation replaces it', async () => {
      const { t, clock, id, grantId, plan } = await rotated();
      await runWithRotationPlan(plan, () => recordSuccessor(t, clock, 'succ-1', grantId));
      expect(await successorOf(t, id)).toEqual({ successor: 'succ-1' });
      clock.advance(1000);
      await runWithRotationPlan(plan, () => recordSuccessor(t, clock, 'succ-2', grantId));
      expect(await successorOf(t, id)).toEqual({ successor: 'succ-2' });
      expect(await row(t, 'RefreshSuccessor', id)).toBeNull();
    });

    it('a successor recorded by an earlier version (a row of its own, same tenant) still answers a loser', async () => {
      const [t, other] = [await tenant(), await tenant()];
      const clock = new ManualClock();
      const { id, grantId } = await refreshToken(t);
      await planRefresh(t, clock, { refresh_token: id });
      await t.db.oidcPayload.create({ data: { tenantId: t.id, model: 'RefreshSuccessor', id, grantId, payload: { successor: 'old-node' } } });
      const body = { refresh_token: id };
      expect(await planRefresh(t, clock, body)).toEqual({ kind: 'grace', grantId });
      expect(body.refresh_token).toBe('old-node');
      // Another tenant's record for the same id is never read: that loser waits out its bound and replays.
      const mine = await refreshToken(other);
      await planRefresh(other, clock, { refresh_token: mine.id });
      await t.db.oidcPayload.create({ data: { tenantId: t.id, model: 'RefreshSuccessor', id: mine.id, grantId, payload: { successor: 'theirs' } } });
      const theirs = { refresh_token: mine.id };
      expect(await planRefresh(other, clock, theirs, async () => {})).toEqual({ kind: 'replay', grantId: mine.grantId });
      expect(theirs.refresh_token).toBe(mine.id);
    });

    it('records nothing outside a rotation, or under a grace or replay plan', async () => {
      const { t, clock, id, grantId } = await rotated();
      await recordSuccessor(t, clock, 'succ', grantId);
      for (const plan of [{ kind: 'grace', grantId }, { kind: 'replay', grantId }, { kind: 'none' }] as RotationPlan[]) {
        await runWithRotationPlan(plan, () => recordSuccessor(t, clock, 'succ', grantId));
      }
      expect(await successorOf(t, id)).toBeUndefined();
    });

    it('records nothing for a token saved in another tenant during this rotation', async () => {
      const { t, other, clock, id, grantId, plan } = await rotated();
      await runWithRotationPlan(plan, () => recordSuccessor(other, clock, 'succ', grantId));
      expect(await successorOf(other, id)).toBeUndefined();
      expect(await successorOf(t, id)).toBeUndefined();
    });

    it('records nothing for a token of another grant, or the consumed token saved again', async () => {
      const { t, clock, id, grantId, plan } = await rotated();
      await runWithRotationPlan(plan, () => recordSuccessor(t, clock, 'succ', 'grt_other'));
      await runWithRotationPlan(plan, () => recordSuccessor(t, clock, 'succ', undefined));
      await runWithRotationPlan(plan, () => recordSuccessor(t, clock, id, grantId));
      expect(await successorOf(t, id)).toBeUndefined();
    });

    it('a grant-less token (none in practice) binds to a grant-less successor', async () => {
      const t = await tenant();
      const clock = new ManualClock();
      const { id } = await refreshToken(t, {}, null);
      const plan = await planRefresh(t, clock, { refresh_token: id });
      await runWithRotationPlan(plan, () => recordSuccessor(t, clock, 'succ', 'grt_x'));
      expect(await successorOf(t, id)).toBeUndefined();
      await runWithRotationPlan(plan, () => recordSuccessor(t, clock, 'succ', undefined));
      expect(await successorOf(t, id)).toEqual({ successor: 'succ' });
    });
  });

  describe('releaseClaim', () => {
    it('releases the claim of a failed rotation so the token can be used again', async () => {
      const t = await tenant();
      const clock = new ManualClock();
      const { id } = await refreshToken(t);
      const plan = await planRefresh(t, clock, { refresh_token: id });
      await releaseClaim(t, plan);
      expect((await row(t, 'RefreshToken', id))?.consumedAt).toBeNull();
      expect((await planRefresh(t, clock, { refresh_token: id })).kind).toBe('rotate');
    });

    it('keeps the claim of a token oidc-provider marked used, and touches nothing for other plans', async () => {
      const t = await tenant();
      const clock = new ManualClock();
      const { id } = await refreshToken(t);
      const plan = await planRefresh(t, clock, { refresh_token: id });
      const p = (await row(t, 'RefreshToken', id))!.payload as Record<string, unknown>;
      await t.db.oidcPayload.updateMany({ where: { model: 'RefreshToken', id }, data: { payload: { ...p, consumed: 1 } } });
      await releaseClaim(t, plan);
      expect((await row(t, 'RefreshToken', id))?.consumedAt).toEqual(clock.now());

      const other = await refreshToken(t);
      await planRefresh(t, clock, { refresh_token: other.id });
      for (const kind of ['grace', 'replay'] as const) await releaseClaim(t, { kind, grantId: other.grantId });
      await releaseClaim(t, { kind: 'none' });
      expect((await row(t, 'RefreshToken', other.id))?.consumedAt).toEqual(clock.now());
    });

    it('a rotate plan whose token vanished (grant revoked meanwhile) is a no-op', async () => {
      const t = await tenant();
      await expect(releaseClaim(t, { kind: 'rotate', tenantId: t.id, id: 'gone', grantId: null })).resolves.toBeUndefined();
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

const id0 = () => randomBytes(8).toString('hex');
