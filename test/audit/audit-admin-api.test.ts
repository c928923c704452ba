import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditInput } from '../../src/audit/audit-log.js';
import { sessionCookieName } from '../../src/sessions/session-cookie.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { createUser } from '../oauth/support/oauth-client.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const event = (i: number, action = 'mcp.tool.call'): AuditInput => ({
  actor: { kind: 'user', id: 'usr_x' },
  action,
  target: { kind: 'tool', id: `tool_${i}` },
  outcome: 'success',
  request: { userAgent: i === 0 ? '=HYPERLINK("http://evil.example")' : 'agent, "quoted"' },
  detail: { i },
});

describe.each(testDbKinds)('audit admin API /t/{slug}/api/admin/audit (%s)', (kind) => {
  let app: TestApp;
  let t: TenantCtx;
  let other: TenantCtx;
  let adminCookie: string;
  let otherAdminCookie: string;
  let userCookie: string;
  const cookieFor = async (tenant: TenantCtx, admin: boolean) => {
    const user = await createUser(tenant);
    if (admin) await tenant.db.user.updateMany({ where: { id: user.id }, data: { isAdmin: true } });
    const { token } = await app.services.sessions.create(tenant, { userId: user.id });
    return `${sessionCookieName(app.url, tenant)}=${token}`;
  };
  const get = (tenant: TenantCtx, path: string, cookie?: string) =>
    fetch(`${app.url}/t/${tenant.slug}/api/admin/audit${path}`, { headers: cookie ? { cookie } : {} });

  beforeAll(async () => {
    app = await startTestApp(kind);
    t = await app.createTenant();
    other = await app.createTenant();
    adminCookie = await cookieFor(t, true);
    otherAdminCookie = await cookieFor(other, true);
    userCookie = await cookieFor(t, false);
    // More than one export page (1000 rows), in batches as the gateway writes them.
    for (let i = 0; i < 2300; i++) {
      if (i % 500 === 0) app.clock.advance(60_000);
      void app.services.audit.recordInBackground(t, event(i, i % 3 === 0 ? 'scim.user.create' : 'mcp.tool.call'));
    }
    await app.services.audit.record(other, event(0, 'other.tenant.event'));
    await app.services.audit.flush();
  }, 120_000);
  afterAll(() => app?.close());

  it('refuses anyone but a tenant admin of this tenant', async () => {
    expect((await get(t, '')).status).toBe(401);
    expect((await get(t, '/export')).status).toBe(401);
    expect((await get(t, '', userCookie)).status).toBe(403);
    expect((await get(t, '/export', userCookie)).status).toBe(403);
    // Another tenant's admin session is no session here.
    expect((await get(t, '', otherAdminCookie)).status).toBe(401);
    expect((await get(t, '', adminCookie.replace(/=.*/, '=forged'))).status).toBe(401);
  });

  it('pages in chain order with a cursor, without gaps or repeats, and the cursor continues later', async () => {
    const seen: number[] = [];
    let cursor = '';
    for (;;) {
      const res = await get(t, `?limit=1000${cursor ? `&cursor=${cursor}` : ''}`, adminCookie);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const body = (await res.json()) as { events: { seq: number }[]; nextCursor: string; hasMore: boolean };
      seen.push(...body.events.map((e) => e.seq));
      cursor = body.nextCursor;
      if (!body.hasMore) break;
    }
    expect(seen).toEqual([...Array(2300).keys()].map((i) => i + 1));
    await app.services.audit.record(t, event(9999));
    const later = (await (await get(t, `?cursor=${cursor}`, adminCookie)).json()) as { events: { seq: number; detail: unknown }[] };
    expect(later.events.map((e) => e.seq)).toEqual([2301]);
  });

  it('filters by type and time range', async () => {
    const scim = (await (await get(t, '?type=scim.*&limit=1000', adminCookie)).json()) as { events: { action: string }[] };
    expect(scim.events).toHaveLength(767);
    expect(new Set(scim.events.map((e) => e.action))).toEqual(new Set(['scim.user.create']));
    const future = new Date(app.clock.now().getTime() + 3_600_000).toISOString();
    expect(((await (await get(t, `?since=${future}`, adminCookie)).json()) as { events: unknown[] }).events).toEqual([]);
  });

  it('refuses malformed cursors, limits and dates', async () => {
    for (const q of ['?cursor=abc', '?cursor=-1', '?limit=0', '?limit=100000', '?since=yesterday', '?until=2026-13-45', '/export?format=xml']) {
      const res = await get(t, q, adminCookie);
      expect(res.status, q).toBe(400);
    }
  });

  it('streams the whole log as JSON Lines, across export pages, and records who exported it', async () => {
    const res = await get(t, '/export', adminCookie);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/x-ndjson/);
    const lines = (await res.text()).trimEnd().split('\n').map((l) => JSON.parse(l) as { seq: number; action: string; hash: string });
    expect(lines.length).toBeGreaterThanOrEqual(2301);
    expect(lines.map((l) => l.seq)).toEqual([...Array(lines.length).keys()].map((i) => i + 1));
    expect(lines.every((l) => /^[0-9a-f]{64}$/.test(l.hash))).toBe(true);
    expect(lines.some((l) => l.action === 'other.tenant.event')).toBe(false);
    const exported = await t.db.auditEvent.findFirst({ where: { action: 'audit.export' } });
    expect(exported).toMatchObject({ actorKind: 'user', outcome: 'success' });
  });

  it('exports CSV with quoting and without live formulas', async () => {
    const res = await get(t, '/export?format=csv&type=scim.user.create', adminCookie);
    expect(res.headers.get('content-type')).toMatch(/text\/csv/);
    const text = await res.text();
    const [header, first, second] = text.split('\n');
    expect(header).toBe('seq,id,createdAt,actorKind,actorId,action,targetKind,targetId,outcome,ip,userAgent,requestId,detail,hash');
    expect(first).toContain(`"'=HYPERLINK(""http://evil.example"")"`);
    expect(second).toContain('"agent, ""quoted"""');
    expect(first).toContain('"{""i"":0}"');
    expect(text.trimEnd().split('\n')).toHaveLength(1 + 767);
  });

  it("shows one tenant's admin only that tenant's log, and verifies its chain", async () => {
    const res = await get(other, '/export', otherAdminCookie);
    const actions = (await res.text()).trimEnd().split('\n').map((l) => (JSON.parse(l) as { action: string }).action);
    expect(actions).toEqual(['other.tenant.event', 'audit.export']);
    expect(await (await get(t, '/verify', adminCookie)).json()).toMatchObject({ ok: true });
  });
});
