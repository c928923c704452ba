import { randomBytes } from 'node:crypto';
import type { AdapterPayload } from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import { ADMIN_REGISTERED } from '../../src/oauth/client-policy.js';
import { CONSUME, CONSUME_ONCE, consumePayload, DELETE, deletePayload, deletePayloadsOfGrant, FIND_LIVE, FIND_LIVE_WITH_GRANT, findLivePayload, SUCCESSOR_KEY, upsertPayload } from '../../src/oauth/payload-statements.js';
import { runWithGrantPrefetch } from '../../src/oauth/grant-prefetch.js';
import { CLIENT_CACHE_MS, prismaAdapterFactory } from '../../src/oauth/prisma-adapter.js';
import { CLAIM, planRefresh, runWithRotationPlan } from '../../src/oauth/refresh-rotation.js';
import { createTenant } from '../../src/tenants/manage-tenants.js';
import { tenantContext, type TenantCtx } from '../../src/tenants/tenant-context.js';
import { openTestDatabase, testDbKinds } from '../support/databases.js';

/**
 * The adapter's raw statements (issue 17 §5, docs/decisions/0035) bypass the tenant-scoped client: every one must bind
 * the tenant itself. Two tenants hold rows with the SAME model and id here, so a statement that forgot the tenant
 * would read or change the other tenant's row. Also: single use of codes under concurrency, expiry, the successor
 * record and the granted client's expiry written with the upsert, and the client cache's invalidation.
 */
describe.each(testDbKinds)('OidcPayload statements and adapter (%s)', (kind) => {
  let database: Awaited<ReturnType<typeof openTestDatabase>>;
  beforeAll(async () => {
    database = await openTestDatabase(kind);
  });
  afterAll(() => database?.close());

  async function tenant(): Promise<TenantCtx> {
    const row = await createTenant(database.prisma, { slug: `p${randomBytes(4).toString('hex')}`, name: 'P' });
    return tenantContext(database.prisma, { ...row, settings: {} });
  }
  const row = (t: TenantCtx, model: string, id: string) => t.db.oidcPayload.findFirst({ where: { model, id } });
  const write = (t: TenantCtx, model: string, id: string, payload: Record<string, unknown>, more: Partial<{ grantId: string; uid: string; userCode: string; expiresAt: Date }> = {}) =>
    upsertPayload(t, { model, id, payload: payload as AdapterPayload, grantId: more.grantId ?? null, userCode: more.userCode ?? null, uid: more.uid ?? null, accountId: null, expiresAt: more.expiresAt ?? null, now: new Date() });
  const secrets = { put: async () => 'ref', get: async () => 'secret', remove: async () => {} };

  it('reads, consumes and deletes only the own tenant’s row when another tenant has the same model and id', async () => {
    const [a, b] = [await tenant(), await tenant()];
    const now = new Date();
    await write(b, 'AuthorizationCode', 'same', { who: 'b' }, { grantId: 'g', uid: 'u', userCode: 'c' });
    expect(await findLivePayload(a, 'AuthorizationCode', 'id', 'same', now)).toBeUndefined();
    expect(await findLivePayload(a, 'AuthorizationCode', 'uid', 'u', now)).toBeUndefined();
    expect(await findLivePayload(a, 'AuthorizationCode', 'userCode', 'c', now)).toBeUndefined();
    expect(await consumePayload(a, 'AuthorizationCode', 'same', now, true)).toBe(false);
    expect(await consumePayload(a, 'AuthorizationCode', 'same', now, false)).toBe(false);
    expect(await deletePayload(a, 'AuthorizationCode', 'same')).toBe(false);
    await deletePayloadsOfGrant(a, 'AuthorizationCode', 'g');
    // A's upsert of the same key creates A's row; B's is untouched by all of the above.
    await write(a, 'AuthorizationCode', 'same', { who: 'a' });
    expect(await row(b, 'AuthorizationCode', 'same')).toMatchObject({ payload: { who: 'b' }, consumedAt: null });
    expect((await findLivePayload(a, 'AuthorizationCode', 'id', 'same', now))?.payload).toEqual({ who: 'a' });
    expect((await findLivePayload(b, 'AuthorizationCode', 'uid', 'u', now))?.payload).toEqual({ who: 'b' });
    expect((await findLivePayload(b, 'AuthorizationCode', 'userCode', 'c', now))?.payload).toEqual({ who: 'b' });
    await deletePayloadsOfGrant(b, 'AuthorizationCode', 'g');
    expect(await row(b, 'AuthorizationCode', 'same')).toBeNull();
    expect(await row(a, 'AuthorizationCode', 'same')).not.toBeNull();
  });

  it('a grant clears only its own tenant’s client expiry; a successor lands in the writer’s tenant’s consumed token', async () => {
    const [a, b] = [await tenant(), await tenant()];
    const later = new Date(Date.now() + 3_600_000);
    await write(a, 'Client', 'cli', {}, { expiresAt: later });
    await write(b, 'Client', 'cli', {}, { expiresAt: later });
    await upsertPayload(a, { model: 'Grant', id: 'grt', payload: { clientId: 'cli' } as AdapterPayload, grantId: null, userCode: null, uid: null, accountId: 'usr', expiresAt: null, now: new Date() }, { grantOfClient: 'cli' });
    expect((await row(a, 'Client', 'cli'))?.expiresAt).toBeNull();
    expect((await row(b, 'Client', 'cli'))?.expiresAt).toEqual(later);
    expect((await row(a, 'Grant', 'grt'))?.accountId).toBe('usr');
    // The rotated token rt1 (claimed, consume deferred) exists in both tenants.
    const claimedAt = new Date('2026-03-01T12:00:00.000Z');
    for (const x of [a, b]) {
      await write(x, 'RefreshToken', 'rt1', { kind: 'RefreshToken' }, { grantId: 'grt' });
      await x.db.oidcPayload.updateMany({ where: { model: 'RefreshToken', id: 'rt1' }, data: { consumedAt: claimedAt } });
    }
    const consumedAt = new Date(claimedAt.getTime() + 2000);
    await upsertPayload(a, { model: 'RefreshToken', id: 'rt2', payload: {} as AdapterPayload, grantId: 'grt', userCode: null, uid: null, accountId: null, expiresAt: later, now: new Date() },
      { successor: { id: 'rt1', successor: 'rt2', consumedAt } });
    expect(await row(a, 'RefreshToken', 'rt1')).toMatchObject({
      consumedAt: claimedAt, payload: { kind: 'RefreshToken', consumed: Math.floor(consumedAt.getTime() / 1000), [SUCCESSOR_KEY]: 'rt2' },
    });
    expect(await row(b, 'RefreshToken', 'rt1')).toMatchObject({ consumedAt: claimedAt, payload: { kind: 'RefreshToken' } });
    expect((await row(b, 'RefreshToken', 'rt1'))?.payload).toEqual({ kind: 'RefreshToken' });
    expect(await row(a, 'RefreshToken', 'rt2')).toMatchObject({ grantId: 'grt', expiresAt: later });
    // One row per rotation (the new token): the successor is no longer a row of its own (decision 0052).
    expect(await a.db.oidcPayload.count({ where: { model: 'RefreshSuccessor' } })).toBe(0);
    // The consume already written (claim settled another way): the successor is still recorded, the consume kept.
    await upsertPayload(a, { model: 'RefreshToken', id: 'rt3', payload: {} as AdapterPayload, grantId: 'grt', userCode: null, uid: null, accountId: null, expiresAt: later, now: new Date() },
      { successor: { id: 'rt1', successor: 'rt3', consumedAt: null } });
    expect(await row(a, 'RefreshToken', 'rt1')).toMatchObject({
      consumedAt: claimedAt, payload: { kind: 'RefreshToken', consumed: Math.floor(consumedAt.getTime() / 1000), [SUCCESSOR_KEY]: 'rt3' },
    });
  });

  it('the refresh claim claims only the own tenant’s token when another tenant has the same id', async () => {
    const [a, b] = [await tenant(), await tenant()];
    const clock = new ManualClock(new Date('2026-03-01T12:00:00.000Z'));
    const expiresAt = new Date('2026-03-15T12:00:00.000Z');
    for (const [x, who] of [[a, 'a'], [b, 'b']] as const) await write(x, 'RefreshToken', 'rt', { who }, { grantId: `g-${who}`, expiresAt });
    const plan = await planRefresh(a, clock, { refresh_token: 'rt' });
    // The claim returns A's row, its instant as a UTC Date; B's token is untouched and can still be claimed by B.
    expect(plan).toMatchObject({ kind: 'rotate', tenantId: a.id, grantId: 'g-a', claimed: { payload: { who: 'a' }, expiresAt } });
    expect((await row(a, 'RefreshToken', 'rt'))?.consumedAt).toEqual(clock.now());
    expect((await row(b, 'RefreshToken', 'rt'))?.consumedAt).toBeNull();
    expect(await planRefresh(b, clock, { refresh_token: 'rt' })).toMatchObject({ kind: 'rotate', tenantId: b.id, grantId: 'g-b' });
  });

  it('the grant read with a code or a refresh claim is the own tenant’s, live, of that id, and answers one lookup', async () => {
    const [a, b] = [await tenant(), await tenant()];
    const clock = new ManualClock(new Date('2026-03-01T12:00:00.000Z'));
    const adapter = (t: TenantCtx, model: string) => prismaAdapterFactory(t, { clock, secrets, onGrantRevoked: async () => {} })(model);
    const grantUntil = new Date(clock.now().getTime() + 5_000);
    await write(a, 'Grant', 'g-a', { who: 'a' }, { expiresAt: grantUntil });
    await write(a, 'AuthorizationCode', 'code', { kind: 'AuthorizationCode', grantId: 'g-a' }, { grantId: 'g-a' });
    // B has a grant with the id A's second code names; A has none.
    await write(b, 'Grant', 'g-b', { who: 'b' });
    await write(a, 'AuthorizationCode', 'code-b', { kind: 'AuthorizationCode', grantId: 'g-b' }, { grantId: 'g-b' });
    const [codes, grants] = [adapter(a, 'AuthorizationCode'), adapter(a, 'Grant')];
    await runWithGrantPrefetch(async () => {
      expect(await codes.find('code')).toEqual({ kind: 'AuthorizationCode', grantId: 'g-a' });
      // Deleted since: answered from the code's statement (no round trip), once; the next lookup reads the database.
      await deletePayload(a, 'Grant', 'g-a');
      expect(await grants.find('other')).toBeUndefined();
      expect(await grants.find('g-a')).toEqual({ who: 'a' });
      expect(await grants.find('g-a')).toBeUndefined();
    });
    await write(a, 'Grant', 'g-a', { who: 'a' }, { expiresAt: grantUntil });
    await runWithGrantPrefetch(async () => {
      await codes.find('code');
      // Expired by the application clock between the read and the lookup: no grant, as the database lookup answers.
      clock.advance(5_000);
      expect(await grants.find('g-a')).toBeUndefined();
    });
    await runWithGrantPrefetch(async () => {
      expect(await codes.find('code-b')).toMatchObject({ grantId: 'g-b' });
      await write(a, 'Grant', 'g-b', { who: 'a, later' });
      // The join found no grant of A's (B's is never read): none, although one was written since.
      expect(await grants.find('g-b')).toBeUndefined();
      expect(await adapter(b, 'Grant').find('g-b')).toEqual({ who: 'b' });
    });
    // The refresh claim: A's token names B's grant id, which A does not have.
    await write(a, 'RefreshToken', 'rt', { kind: 'RefreshToken' }, { grantId: 'g-b' });
    await deletePayload(a, 'Grant', 'g-b');
    await write(b, 'RefreshToken', 'rt', { kind: 'RefreshToken' }, { grantId: 'g-b' });
    await runWithGrantPrefetch(async () => {
      await planRefresh(a, clock, { refresh_token: 'rt' });
      await write(a, 'Grant', 'g-b', { who: 'a, later' });
      expect(await grants.find('g-b')).toBeUndefined();
    });
    await runWithGrantPrefetch(async () => {
      await planRefresh(b, clock, { refresh_token: 'rt' });
      await deletePayload(b, 'Grant', 'g-b');
      // A's lookup of the same id is not answered with B's kept grant; B's is, once.
      expect(await grants.find('g-b')).toEqual({ who: 'a, later' });
      expect(await adapter(b, 'Grant').find('g-b')).toEqual({ who: 'b' });
      expect(await adapter(b, 'Grant').find('g-b')).toBeUndefined();
    });
    // Outside a token request nothing is kept: a code is read alone and the grant from the database.
    expect(await codes.find('code')).toMatchObject({ grantId: 'g-a' });
    await deletePayload(a, 'Grant', 'g-a');
    expect(await grants.find('g-a')).toBeUndefined();
  });

  it('payloads and instants round-trip identically between the hot statements and Prisma, whatever the process time zone', async () => {
    const tz = process.env.TZ;
    process.env.TZ = 'Pacific/Auckland';
    try {
      const t = await tenant();
      const payload = {
        kind: 'Grant', n: 1234567890, f: 0.5, neg: -3, yes: true, no: false, nil: null, empty: {}, list: [1, 'two', { three: [3] }, []],
        text: 'Grüße — 日本 "quoted" \\ back\nline', nested: { openid: { scope: 'openid offline_access mcp' }, resources: { 'https://x/mcp': 'mcp' } },
      };
      const expiresAt = new Date('2026-07-01T23:30:00.125Z'); // another calendar day in Auckland
      await write(t, 'Grant', 'hot', payload, { expiresAt, grantId: 'g' });
      const viaPrisma = await row(t, 'Grant', 'hot');
      expect(viaPrisma).toMatchObject({ payload, expiresAt, grantId: 'g' });
      const viaHot = await findLivePayload(t, 'Grant', 'id', 'hot', new Date('2026-07-01T23:30:00.124Z'));
      expect(viaHot).toEqual({ payload, grantId: 'g', expiresAt, consumedAt: null });
      expect(await findLivePayload(t, 'Grant', 'id', 'hot', expiresAt)).toBeUndefined();
      // Written by Prisma, read by the hot statement: the same document and instants.
      const consumedAt = new Date('2026-06-30T12:00:00.001Z');
      await t.db.oidcPayload.create({ data: { tenantId: t.id, model: 'Grant', id: 'prisma', payload, expiresAt, consumedAt } });
      expect(await findLivePayload(t, 'Grant', 'id', 'prisma', new Date('2026-06-30T00:00:00Z'))).toEqual({ payload, grantId: null, expiresAt, consumedAt });
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });

  it('lookups by id use the primary key on a table without statistics, not another index that leads with the tenant', async () => {
    // Issue 17 §5: with ("tenantId", …) secondary indexes, a never-analyzed table (autovacuum off, or a new
    // deployment) let the planner scan every row of the tenant for each token lookup (1–7 ms per request).
    const t = await tenant();
    await database.prisma.$executeRawUnsafe(
      `INSERT INTO "OidcPayload" ("tenantId", "model", "id", "payload", "grantId", "accountId", "expiresAt")
        SELECT $1, 'RefreshToken', 'tok' || g, '{}'::jsonb, 'g' || (g % 10), 'acc' || (g % 8), now() + interval '1 day' FROM generate_series(1, 300) g`,
      t.id,
    );
    const now = new Date();
    const indexes = async (sql: string, params: unknown[]) => {
      const [row] = await database.prisma.$queryRawUnsafe<{ 'QUERY PLAN': unknown }[]>(`EXPLAIN (FORMAT JSON) ${sql}`, ...params);
      return scans(row!['QUERY PLAN']);
    };
    const scans = (plan: unknown) => {
      const found: string[] = [];
      const walk = (node: unknown): void => {
        if (!node || typeof node !== 'object') return;
        const n = node as Record<string, unknown>;
        // An index scan whose condition does not bind the id (a join filtering it afterwards) reads every row of the prefix.
        const byKey = /\bid = /.test(String(n['Index Cond'] ?? ''));
        if (n['Relation Name'] === 'OidcPayload' && String(n['Node Type']).endsWith('Scan')) found.push(`${String(n['Index Name'] ?? n['Node Type'])}${byKey ? '' : ' (not by id)'}`);
        Object.values(n).forEach((v) => (Array.isArray(v) ? v.forEach(walk) : walk(v)));
      };
      walk(typeof plan === 'string' ? JSON.parse(plan) : plan);
      return found;
    };
    // The prepared statement's generic plan too (PostgreSQL's choice after five executions of a named statement). A
    // plain join of the grant (decision 0047) scanned the primary key by tenant and model only, filtering the id
    // afterwards: every grant of the tenant per claim.
    const generic = (sql: string, params: unknown[]) =>
      database.prisma.$transaction(async (tx) => {
        await tx.$executeRawUnsafe(`SET LOCAL plan_cache_mode = force_generic_plan`);
        await tx.$executeRawUnsafe(`PREPARE generic_probe AS ${sql}`);
        try {
          const literals = params.map((p) => `'${p instanceof Date ? p.toISOString() : String(p)}'`).join(', ');
          const [plan] = await tx.$queryRawUnsafe<{ 'QUERY PLAN': unknown }[]>(`EXPLAIN (FORMAT JSON) EXECUTE generic_probe(${literals})`);
          return scans(plan!['QUERY PLAN']);
        } finally {
          await tx.$executeRawUnsafe(`DEALLOCATE generic_probe`);
        }
      });
    const byId = [t.id, 'RefreshToken', 'tok7'];
    expect(await indexes(FIND_LIVE.id.text, [...byId, now])).toEqual(['OidcPayload_pkey']);
    expect(await indexes(CLAIM.text, [t.id, 'tok7', now])).toEqual(['OidcPayload_pkey', 'OidcPayload_pkey']);
    expect(await indexes(FIND_LIVE_WITH_GRANT.text, [...byId, now])).toEqual(['OidcPayload_pkey', 'OidcPayload_pkey']);
    expect(await generic(CLAIM.text, [t.id, 'tok7', now])).toEqual(['OidcPayload_pkey', 'OidcPayload_pkey']);
    expect(await generic(FIND_LIVE_WITH_GRANT.text, [...byId, now])).toEqual(['OidcPayload_pkey', 'OidcPayload_pkey']);
    expect(await indexes(CONSUME_ONCE.text, [...byId, now, 1])).toEqual(['OidcPayload_pkey']);
    expect(await indexes(CONSUME.text, [...byId, now, 1])).toEqual(['OidcPayload_pkey']);
    expect(await indexes(DELETE.text, byId)).toEqual(['OidcPayload_pkey']);
  });

  it('of parallel consumes of one code exactly one matches; the payload and column carry the first instant', async () => {
    const t = await tenant();
    await write(t, 'AuthorizationCode', 'code', { kind: 'AuthorizationCode' });
    const at = new Date('2026-03-01T12:00:00.250Z');
    const results = await Promise.all(Array.from({ length: 6 }, () => consumePayload(t, 'AuthorizationCode', 'code', at, true)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await row(t, 'AuthorizationCode', 'code')).toMatchObject({ consumedAt: at, payload: { kind: 'AuthorizationCode', consumed: Math.floor(at.getTime() / 1000) } });
    // A refresh token (not single use: the rotation claimed it first) keeps its claim instant.
    await write(t, 'RefreshToken', 'rt', {});
    await t.db.oidcPayload.updateMany({ where: { model: 'RefreshToken', id: 'rt' }, data: { consumedAt: at } });
    expect(await consumePayload(t, 'RefreshToken', 'rt', new Date(at.getTime() + 5000), false)).toBe(true);
    expect(await row(t, 'RefreshToken', 'rt')).toMatchObject({ consumedAt: at, payload: { consumed: Math.floor(at.getTime() / 1000) + 5 } });
  });

  it('an expired row is not found; expiry is judged by the given instant', async () => {
    const t = await tenant();
    const expiresAt = new Date('2026-03-01T12:00:00.000Z');
    await write(t, 'Session', 's', {}, { expiresAt });
    expect(await findLivePayload(t, 'Session', 'id', 's', new Date(expiresAt.getTime() - 1))).toBeDefined();
    expect(await findLivePayload(t, 'Session', 'id', 's', expiresAt)).toBeUndefined();
  });

  it('the adapter refuses a consumed code, and answers the claimed refresh token from the claim (once)', async () => {
    const t = await tenant();
    const clock = new ManualClock();
    const codes = prismaAdapterFactory(t, { clock, secrets, onGrantRevoked: async () => {} })('AuthorizationCode');
    await codes.upsert('c1', { kind: 'AuthorizationCode' } as AdapterPayload, 60);
    await codes.consume('c1');
    await expect(codes.consume('c1')).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await codes.find('c1'))?.consumed).toBe(Math.floor(clock.now().getTime() / 1000));

    const tokens = prismaAdapterFactory(t, { clock, secrets, onGrantRevoked: async () => {} })('RefreshToken');
    await tokens.upsert('rt', { kind: 'RefreshToken', grantId: 'g' } as AdapterPayload, 600);
    const plan = await planRefresh(t, clock, { refresh_token: 'rt' });
    await t.db.oidcPayload.updateMany({ where: { model: 'RefreshToken', id: 'rt' }, data: { payload: { changed: true } } });
    await runWithRotationPlan(plan, async () => {
      // From the claim, not from the row changed since; a second lookup reads the database.
      expect(await tokens.find('rt')).toEqual({ kind: 'RefreshToken', grantId: 'g' });
      expect(await tokens.find('rt')).toEqual({ changed: true });
      // oidc-provider's consume of the claimed token is written with its successor, in one statement.
      clock.advance(2000);
      await tokens.consume('rt');
      expect(((await row(t, 'RefreshToken', 'rt'))?.payload as Record<string, unknown>).consumed).toBeUndefined();
      await tokens.upsert('rt-next', { kind: 'RefreshToken', grantId: 'g' } as AdapterPayload, 600);
      expect(await row(t, 'RefreshToken', 'rt')).toMatchObject({ payload: { changed: true, consumed: Math.floor(clock.now().getTime() / 1000), [SUCCESSOR_KEY]: 'rt-next' } });
      expect(await row(t, 'RefreshSuccessor', 'rt')).toBeNull();
      expect(plan).not.toHaveProperty('pendingConsume');
    });
  });

  it('caches a client that does not expire until the provider destroys it or the safety net passes; never one that expires', async () => {
    const t = await tenant();
    const clock = new ManualClock();
    const adapter = prismaAdapterFactory(t, { clock, secrets, onGrantRevoked: async () => {} });
    const clients = adapter('Client');
    await clients.upsert('kept', { client_id: 'kept', client_secret: 'shh', [ADMIN_REGISTERED]: true } as AdapterPayload, undefined);
    expect(await clients.find('kept')).toEqual({ client_id: 'kept', client_secret: 'secret', [ADMIN_REGISTERED]: true });
    // Each hit is a fresh copy: what a request does to the object it got never reaches the next request.
    const got = (await clients.find('kept')) as Record<string, unknown>;
    got.client_secret = 'changed';
    got.redirect_uris = ['https://evil.example/cb'];
    expect(await clients.find('kept')).toEqual({ client_id: 'kept', client_secret: 'secret', [ADMIN_REGISTERED]: true });
    await t.db.oidcPayload.deleteMany({ where: { model: 'Client', id: 'kept' } });
    // Removed behind the provider's back (a `client remove` also rebuilds the provider on 'tenant.changed').
    expect(await clients.find('kept')).toBeDefined();
    clock.advance(CLIENT_CACHE_MS);
    expect(await clients.find('kept')).toBeUndefined();

    await clients.upsert('gone', { client_id: 'gone', [ADMIN_REGISTERED]: true } as AdapterPayload, undefined);
    expect(await clients.find('gone')).toBeDefined();
    await adapter('Client').destroy('gone');
    expect(await clients.find('gone')).toBeUndefined();

    // A self-registered client not yet granted expires: it is read afresh every time.
    await write(t, 'Client', 'dcr', { client_id: 'dcr' }, { expiresAt: new Date(clock.now().getTime() + 3_600_000) });
    expect(await clients.find('dcr')).toBeDefined();
    await t.db.oidcPayload.deleteMany({ where: { model: 'Client', id: 'dcr' } });
    expect(await clients.find('dcr')).toBeUndefined();
  });
});
