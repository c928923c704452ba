import { newId } from '../../lib/ids.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';

/**
 * Makes the user's memberships of IdP-sourced groups (source 'idp') equal the groups the IdP just asserted. Groups
 * managed by SCIM or by hand are never touched, even when they carry the same name: the IdP's word only counts for
 * groups it created, and those are keyed by `idpKey` (one per name), separate from SCIM groups. Returns whether a
 * membership changed (then the caller tells the MCP gateway, whose open streams announce a new tool list).
 */
export async function syncIdpGroups(t: TenantCtx, userId: string, names: string[], createMissing: boolean): Promise<boolean> {
  const keys = [...new Set(names.map((n) => n.toLowerCase()))];
  const wanted = await t.db.group.findMany({ where: { idpKey: { in: keys } } });
  if (createMissing) {
    const known = new Set(wanted.map((g) => g.idpKey));
    for (const name of names) {
      const key = name.toLowerCase();
      if (known.has(key)) continue;
      known.add(key);
      try {
        wanted.push(await t.db.group.create({ data: { id: newId('grp'), tenantId: t.id, displayName: name, displayNameKey: key, idpKey: key, source: 'idp' } }));
      } catch (err) {
        // Another login created it at the same moment: use theirs.
        if ((err as { code?: string }).code !== 'P2002') throw err;
        const g = await t.db.group.findFirst({ where: { idpKey: key } });
        if (g) wanted.push(g);
      }
    }
  }
  const wantedIds = new Set(wanted.map((g) => g.id));
  const current = await t.db.groupMembership.findMany({ where: { userId, group: { source: 'idp' } }, select: { groupId: true } });
  const currentIds = new Set(current.map((m) => m.groupId));
  const stale = [...currentIds].filter((id) => !wantedIds.has(id));
  if (stale.length) await t.db.groupMembership.deleteMany({ where: { userId, groupId: { in: stale } } });
  const missing = [...wantedIds].filter((id) => !currentIds.has(id));
  if (missing.length) {
    await t.db.groupMembership.createMany({ data: missing.map((groupId) => ({ tenantId: t.id, groupId, userId })), skipDuplicates: true });
  }
  return stale.length > 0 || missing.length > 0;
}
