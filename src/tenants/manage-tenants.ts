import type { Db } from '../db/open-database.js';
import { conflict, notFound } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { z } from 'zod';
import { SlugSchema } from './slug.js';

export const CreateTenantSchema = z.object({
  slug: SlugSchema,
  name: z.string().trim().min(1, 'name is required').max(200),
});

const publicFields = { id: true, slug: true, name: true, status: true, createdAt: true } as const;

export async function createTenant(db: Db, input: z.input<typeof CreateTenantSchema>) {
  const { slug, name } = CreateTenantSchema.parse(input);
  try {
    return await db.tenant.create({ data: { id: newId('ten'), slug, name }, select: { id: true, slug: true, name: true } });
  } catch (err) {
    if ((err as { code?: string }).code === 'P2002') throw conflict(`A tenant with slug "${slug}" already exists`);
    throw err;
  }
}

export async function listTenants(db: Db) {
  return db.tenant.findMany({ select: publicFields, orderBy: { createdAt: 'asc' } });
}

export async function setTenantStatus(db: Db, slug: string, status: 'active' | 'disabled') {
  const { count } = await db.tenant.updateMany({ where: { slug }, data: { status } });
  if (count === 0) throw notFound(`No tenant with slug "${slug}"`);
  return db.tenant.findUniqueOrThrow({ where: { slug }, select: publicFields });
}
