import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/open-database.js';
import { findActiveTenant, findTenantBySlug } from '../../src/tenants/find-tenant.js';
import { createTenant } from '../../src/tenants/manage-tenants.js';
import { openTestDatabase, testDbKinds } from '../support/databases.js';

// findActiveTenant reads the row on the driver (hot-sql.ts), findTenantBySlug through Prisma: both must agree.
describe.each(testDbKinds)('resolving a tenant by slug (%s)', (kind) => {
  let database: Database;
  beforeAll(async () => {
    database = await openTestDatabase(kind);
    await createTenant(database.prisma, { slug: 'find-me', name: 'Find “Me” Inc.' });
    await createTenant(database.prisma, { slug: 'gone-away', name: 'Gone' });
    const settings = { provisioning: 'directory-sync', adminGroup: 'IT Admins ✓', reconcile: { scheduled: false, intervalMinutes: 120 }, unknownKey: { nested: [1, 'two'] } };
    await database.prisma.tenant.update({ where: { slug: 'find-me' }, data: { settings } });
    await database.prisma.tenant.update({ where: { slug: 'gone-away' }, data: { status: 'disabled' } });
  });
  afterAll(() => database?.close());

  it('reads the same tenant, name and settings as the Prisma path', async () => {
    const hot = await findActiveTenant(database.prisma, 'find-me');
    const viaPrisma = await findTenantBySlug(database.prisma, 'find-me');
    expect(hot).not.toBeNull();
    expect({ id: hot!.id, slug: hot!.slug, name: hot!.name, settings: hot!.settings }).toEqual({
      id: viaPrisma!.id,
      slug: viaPrisma!.slug,
      name: viaPrisma!.name,
      settings: viaPrisma!.settings,
    });
    expect(hot!.settings.provisioning).toBe('directory-sync');
    expect(hot!.settings.adminGroup).toBe('IT Admins ✓');
  });

  it('answers null for a disabled, unknown or malformed slug (one 404 for all)', async () => {
    expect(await findTenantBySlug(database.prisma, 'gone-away')).not.toBeNull();
    for (const slug of ['gone-away', 'no-such-tenant', "find-me' OR '1'='1", 'FIND-ME', '']) {
      expect(await findActiveTenant(database.prisma, slug)).toBeNull();
    }
  });

  it('gives a scoped client that reaches only this tenant’s rows', async () => {
    const t = (await findActiveTenant(database.prisma, 'find-me'))!;
    const other = (await findTenantBySlug(database.prisma, 'gone-away'))!;
    await other.db.user.create({ data: { id: 'usr_other_find', tenantId: other.id, userName: 'x@gone.example', userNameKey: 'x@gone.example' } });
    expect(await t.db.user.findFirst({ where: { id: 'usr_other_find' } })).toBeNull();
  });
});
