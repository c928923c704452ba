import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/open-database.js';
import { schemaPath } from '../../src/db/migrations-list.js';
import { newId } from '../../src/lib/ids.js';
import { createTenant } from '../../src/tenants/manage-tenants.js';
import { findTenantBySlug } from '../../src/tenants/find-tenant.js';
import { tenantOwnedModels } from '../../src/tenants/scoped-db.js';
import { MAX_SCOPED_CLIENTS, scopedClientCount, tenantContext, type TenantCtx } from '../../src/tenants/tenant-context.js';
import { openTestDatabase, testDbKinds } from '../support/databases.js';

describe('tenant-owned models', () => {
  it('lists exactly the schema models that carry tenantId', () => {
    const schema = readFileSync(schemaPath, 'utf8');
    const owned = [...schema.matchAll(/^model (\w+) \{([\s\S]*?)^\}/gm)]
      .filter(([, , body]) => /^\s+tenantId\s+String\b/m.test(body!) && !/^\s+tenantId\s+String\?/m.test(body!))
      .map(([, name]) => name);
    // AuditEvent and ReplayGuard have an optional tenantId (system events, global replay scopes).
    expect(new Set(owned)).toEqual(new Set([...tenantOwnedModels].filter((m) => m !== 'AuditEvent')));
  });
});

describe.each(testDbKinds)('tenant scoping (%s)', (kind) => {
  let database: Database;
  let a: TenantCtx;
  let b: TenantCtx;
  beforeAll(async () => {
    database = await openTestDatabase(kind);
    await createTenant(database.prisma, { slug: 'tenant-a', name: 'A' });
    await createTenant(database.prisma, { slug: 'tenant-b', name: 'B' });
    a = (await findTenantBySlug(database.prisma, 'tenant-a'))!;
    b = (await findTenantBySlug(database.prisma, 'tenant-b'))!;
  });
  afterAll(() => database?.close());

  const addUser = (t: TenantCtx, userName: string) =>
    t.db.user.create({ data: { id: newId('usr'), tenantId: t.id, userName, userNameKey: userName.toLowerCase() } });

  it('keeps a bounded number of scoped clients, least recently used dropped first, and a rebuilt one still scopes', async () => {
    await createTenant(database.prisma, { slug: 'tenant-c', name: 'C' });
    await createTenant(database.prisma, { slug: 'tenant-d', name: 'D' });
    const [c, d] = [(await findTenantBySlug(database.prisma, 'tenant-c'))!, (await findTenantBySlug(database.prisma, 'tenant-d'))!];
    const row = (i: number) => ({ id: `ten_lru${i}`, slug: `lru${i}`, name: 'L', settings: {} });
    const first = tenantContext(database.prisma, row(0));
    for (let i = 1; i < MAX_SCOPED_CLIENTS + 50; i++) {
      tenantContext(database.prisma, row(i));
      // Tenant 0 is used again and again: it stays; its neighbours of the first round do not.
      expect(tenantContext(database.prisma, row(0)).db).toBe(first.db);
    }
    expect(scopedClientCount(database.prisma)).toBe(MAX_SCOPED_CLIENTS);
    expect(tenantContext(database.prisma, row(1)).db).not.toBe(tenantContext(database.prisma, row(MAX_SCOPED_CLIENTS + 49)).db);
    // Tenants c and d, resolved before the churn, were evicted since: contexts built again scope exactly as before.
    const again = (t: TenantCtx) => tenantContext(database.prisma, { id: t.id, slug: t.slug, name: t.name, settings: {} });
    await addUser(d, 'evicted@d.example');
    expect(await again(c).db.user.findMany({ where: { userName: 'evicted@d.example' } })).toEqual([]);
    expect(await again(d).db.user.count({ where: { userName: 'evicted@d.example' } })).toBe(1);
  });

  it("never returns another tenant's rows, even by id", async () => {
    const u = await addUser(a, 'alice@a.example');
    expect(await b.db.user.findUnique({ where: { id: u.id } })).toBeNull();
    expect(await b.db.user.findFirst({ where: { userName: 'alice@a.example' } })).toBeNull();
    expect(await b.db.user.count()).toBe(0);
    expect((await a.db.user.findUnique({ where: { id: u.id } }))?.id).toBe(u.id);
  });

  it("cannot update or delete another tenant's rows", async () => {
    const u = await addUser(a, 'bob@a.example');
    expect((await b.db.user.updateMany({ where: { id: u.id }, data: { active: false } })).count).toBe(0);
    await expect(b.db.user.update({ where: { id: u.id }, data: { active: false } })).rejects.toThrow();
    expect((await b.db.user.deleteMany({ where: { id: u.id } })).count).toBe(0);
    expect((await a.db.user.findUnique({ where: { id: u.id } }))?.active).toBe(true);
  });

  it('stamps creates with its own tenant and refuses a row naming another tenant', async () => {
    const u = await b.db.group.create({ data: { id: newId('grp'), tenantId: b.id, displayName: 'G', displayNameKey: 'g' } });
    expect(u.tenantId).toBe(b.id);
    await expect(
      b.db.group.create({ data: { id: newId('grp'), tenantId: a.id, displayName: 'H', displayNameKey: 'h' } }),
    ).rejects.toThrow(/another tenant/);
  });

  it('refuses an update or upsert that would move a row to another tenant', async () => {
    const u = await addUser(a, 'mover@a.example');
    await expect(a.db.user.updateMany({ where: { id: u.id }, data: { tenantId: b.id } })).rejects.toThrow(/another tenant/);
    await expect(a.db.user.update({ where: { id: u.id }, data: { tenantId: b.id } })).rejects.toThrow(/another tenant/);
    await expect(
      a.db.user.upsert({ where: { id: u.id }, create: { id: u.id, userName: 'x', userNameKey: 'x' } as never, update: { tenantId: b.id } }),
    ).rejects.toThrow(/another tenant/);
    expect((await a.db.user.findUnique({ where: { id: u.id } }))?.tenantId).toBe(a.id);
    expect(await b.db.user.count({ where: { id: u.id } })).toBe(0);
    // Naming its own tenant is no move.
    expect((await a.db.user.updateMany({ where: { id: u.id }, data: { tenantId: a.id, active: false } })).count).toBe(1);
  });

  it('keeps per-tenant uniqueness independent between tenants', async () => {
    await addUser(a, 'same@example.com');
    await expect(addUser(b, 'same@example.com')).resolves.toBeTruthy();
    await expect(addUser(a, 'SAME@example.com'.toLowerCase())).rejects.toThrow();
  });
});
