import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawConnection } from '../../src/db/open-database.js';
import { newId } from '../../src/lib/ids.js';
import { AccountCache } from '../../src/oauth/account-cache.js';
import { EventBus, CACHE_TRUST_MS, type BusEvent } from '../../src/revocation/event-bus.js';
import { createTenant } from '../../src/tenants/manage-tenants.js';
import { tenantContext, type TenantCtx } from '../../src/tenants/tenant-context.js';
import { openTestDatabase, testDbKinds } from '../support/databases.js';

/**
 * The token endpoint's account lookup, kept per node (issue 17 §5, docs/decisions/0041). A hit sends no statement:
 * shown by changing the row behind the cache's back (no event) and still reading the old answer; each bus event then
 * makes the next lookup read the database again.
 */
describe.each(testDbKinds)('account cache of the token endpoint (%s)', (kind) => {
  let database: Awaited<ReturnType<typeof openTestDatabase>>;
  beforeAll(async () => {
    database = await openTestDatabase(kind);
  });
  afterAll(() => database?.close());

  /** A bus as on PGlite (one process: every entry trusted), or as a node whose LISTEN is down (`listening: false`). */
  function bus(listening = true) {
    let ms = 0;
    const raw = { inProcess: listening } as RawConnection;
    const b = new EventBus(raw, pino({ level: 'silent' }), { now: () => ms });
    return { b, advance: (d: number) => (ms += d), deliver: (e: BusEvent | { type: 'bus.resumed' }) => b.deliverLocally(e as BusEvent) };
  }
  async function tenant(): Promise<TenantCtx> {
    const row = await createTenant(database.prisma, { slug: `a${randomBytes(4).toString('hex')}`, name: 'A' });
    return tenantContext(database.prisma, { ...row, settings: {} });
  }
  async function user(t: TenantCtx, active = true) {
    const email = `${randomBytes(4).toString('hex')}@example.com`;
    return t.db.user.create({ data: { id: newId('usr'), tenantId: t.id, userName: email, userNameKey: email, email, displayName: 'Ann', source: 'manual', active } });
  }
  const rename = (t: TenantCtx, id: string, displayName: string) => t.db.user.updateMany({ where: { id }, data: { displayName } });

  it('serves an active user from memory until user.changed, user.revoked, tenant.changed or bus.resumed', async () => {
    const t = await tenant();
    const { b, deliver } = bus();
    const cache = new AccountCache(b);
    const ann = await user(t);
    expect(await cache.find(t, ann.id)).toMatchObject({ id: ann.id, displayName: 'Ann' });
    let n = 0;
    for (const event of [
      { type: 'user.changed', tenantId: t.id, userId: ann.id },
      { type: 'user.revoked', tenantId: t.id, userId: ann.id },
      { type: 'tenant.changed', tenantId: t.id },
      { type: 'bus.resumed' },
    ] as const) {
      await rename(t, ann.id, `Ann ${++n}`);
      expect((await cache.find(t, ann.id))?.displayName).toBe(n === 1 ? 'Ann' : `Ann ${n - 1}`); // no read: the old answer
      deliver(event);
      expect((await cache.find(t, ann.id))?.displayName).toBe(`Ann ${n}`);
    }
  });

  it('events of another user or tenant drop nothing; a deactivation is seen once user.revoked arrives', async () => {
    const [t, other] = [await tenant(), await tenant()];
    const { b, deliver } = bus();
    const cache = new AccountCache(b);
    const ann = await user(t);
    await cache.find(t, ann.id);
    await t.db.user.updateMany({ where: { id: ann.id }, data: { active: false } });
    deliver({ type: 'user.changed', tenantId: t.id, userId: 'usr_other' });
    deliver({ type: 'user.revoked', tenantId: other.id, userId: ann.id });
    deliver({ type: 'tenant.changed', tenantId: other.id });
    expect(await cache.find(t, ann.id)).toBeDefined();
    deliver({ type: 'user.revoked', tenantId: t.id, userId: ann.id });
    expect(await cache.find(t, ann.id)).toBeUndefined();
  });

  it('keeps no inactive or unknown user, and never answers for another tenant', async () => {
    const [a, b2] = [await tenant(), await tenant()];
    const { b } = bus();
    const cache = new AccountCache(b);
    const off = await user(a, false);
    expect(await cache.find(a, off.id)).toBeUndefined();
    await a.db.user.updateMany({ where: { id: off.id }, data: { active: true } });
    // Reactivated without any event: seen at once, because the inactive answer was not kept.
    expect(await cache.find(a, off.id)).toMatchObject({ id: off.id });
    expect(await cache.find(b2, off.id)).toBeUndefined();
    expect(await cache.find(a, 'usr_unknown')).toBeUndefined();
    expect(cache.size).toBe(1);
  });

  it('a read that overlapped an invalidation answers but is not kept', async () => {
    const t = await tenant();
    const { b, deliver } = bus();
    const cache = new AccountCache(b);
    const ann = await user(t);
    const pending = cache.find(t, ann.id);
    deliver({ type: 'user.changed', tenantId: t.id, userId: ann.id });
    expect(await pending).toMatchObject({ id: ann.id });
    expect(cache.size).toBe(0);
  });

  it('while the bus cannot prove it is listening, an entry is served only within the trust bound', async () => {
    const t = await tenant();
    const { b, advance } = bus(false);
    const cache = new AccountCache(b);
    const ann = await user(t);
    await cache.find(t, ann.id);
    await rename(t, ann.id, 'Ann 2');
    advance(CACHE_TRUST_MS - 1);
    expect((await cache.find(t, ann.id))?.displayName).toBe('Ann');
    advance(1);
    expect((await cache.find(t, ann.id))?.displayName).toBe('Ann 2');
  });
});
