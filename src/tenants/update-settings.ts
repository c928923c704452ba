import type { Db } from '../db/open-database.js';
import type { Prisma } from '../generated/prisma/client.js';
import { AppError, notFound } from '../lib/errors.js';
import { findGroups } from './find-groups.js';
import { tenantContext } from './tenant-context.js';
import { TenantSettingsSchema, type TenantSettings } from './settings.js';

/** Merges a settings patch into the tenant's settings, validated as a whole. Callers publish `tenant.changed`. */
export async function updateTenantSettings(db: Db, slug: string, patch: Partial<TenantSettings>) {
  const row = await db.tenant.findUnique({ where: { slug } });
  if (!row) throw notFound(`No tenant with slug "${slug}"`);
  const settings = TenantSettingsSchema.parse({ ...(row.settings as object), ...patch });
  if (patch.adminGroup) await checkAdminGroup(tenantContext(db, row), patch.adminGroup);
  await db.tenant.update({ where: { id: row.id }, data: { settings: settings as Prisma.InputJsonValue } });
  return { id: row.id, slug: row.slug, settings };
}

/**
 * The admin group may be given by id or by a name that names one group. An ambiguous name is refused (listing the
 * candidates); a name that matches nothing yet is kept (the IdP may provision the group later).
 */
async function checkAdminGroup(t: Parameters<typeof findGroups>[0], ref: string): Promise<void> {
  try {
    await findGroups(t, [ref]);
  } catch (err) {
    if (!(err instanceof AppError && err.status === 404)) throw err;
  }
}
