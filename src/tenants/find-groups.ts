import { conflict, notFound } from '../lib/errors.js';
import type { TenantCtx } from './tenant-context.js';

export interface GroupRef {
  id: string;
  displayName: string;
  source: string;
}

const describe = (g: GroupRef) => `${g.id} ("${g.displayName}", ${g.source})`;

/**
 * Resolves what an admin typed to exactly one group each: a group id, or a display name (case-insensitive) that
 * names exactly one group. Display names are not unique (SCIM groups may share a name, and a group pushed by SCIM
 * may share it with one asserted at SSO login), so an ambiguous name is refused with the candidates' ids.
 */
export async function findGroups(t: Pick<TenantCtx, 'db'>, refs: string[]): Promise<GroupRef[]> {
  const wanted = [...new Set(refs.map((r) => r.trim()).filter(Boolean))];
  const select = { id: true, displayName: true, source: true } as const;
  const byId = await t.db.group.findMany({ where: { id: { in: wanted } }, select });
  const names = wanted.filter((r) => !byId.some((g) => g.id === r));
  const byName = names.length
    ? await t.db.group.findMany({ where: { displayNameKey: { in: names.map((n) => n.toLowerCase()) } }, select, orderBy: { id: 'asc' } })
    : [];
  const out: GroupRef[] = [...byId];
  for (const name of names) {
    const candidates = byName.filter((g) => g.displayName.toLowerCase() === name.toLowerCase());
    if (candidates.length === 0) throw notFound(`No group with id or name "${name}"`);
    if (candidates.length > 1) {
      throw conflict(`Group name "${name}" is ambiguous; pass one of these group ids: ${candidates.map(describe).join(', ')}`);
    }
    out.push(candidates[0]!);
  }
  return out;
}
