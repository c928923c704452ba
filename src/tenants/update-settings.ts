import type { Db } from '../db/open-database.js';
import type { Prisma } from '../generated/prisma/client.js';
import { notFound } from '../lib/errors.js';
import { TenantSettingsSchema, type TenantSettings } from './settings.js';

/** Merges a settings patch into the tenant's settings, validated as a whole. Callers publish `tenant.changed`. */
export async function updateTenantSettings(db: Db, slug: string, patch: Partial<TenantSettings>) {
  const row = await db.tenant.findUnique({ where: { slug } });
  if (!row) throw notFound(`No tenant with slug "${slug}"`);
  const settings = TenantSettingsSchema.parse({ ...(row.settings as object), ...patch });
  await db.tenant.update({ where: { id: row.id }, data: { settings: settings as Prisma.InputJsonValue } });
  return { id: row.id, slug: row.slug, settings };
}
