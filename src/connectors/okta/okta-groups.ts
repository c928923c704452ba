import { badRequest, notFound } from '../../lib/errors.js';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { refreshIdpGrantNames } from '../../tools/idp-group-grants.js';
import { findConnector, type ConnectorRow } from '../connector-store.js';
import { oktaClientFor } from './okta-client.js';
import { oktaConfig } from './okta-config.js';
import { toOktaError } from './okta-error.js';

export interface IdpGroup {
  /** Okta's group id (00g…): what `tool approve --idp-group` takes. */
  id: string;
  name: string;
  description: string | null;
  /** OKTA_GROUP, APP_GROUP (imported from AD/LDAP/another app), BUILT_IN (Everyone). */
  type: string | null;
  /** Assigned to our app integration: its members may sign in. */
  assignedToApp: boolean;
}

const OKTA_ID = /^[A-Za-z0-9]{1,64}$/;
const MAX_RESULTS = 200;

async function oktaConnector(t: TenantCtx): Promise<ConnectorRow> {
  const row = await findConnector(t, 'okta');
  if (!row) throw notFound('This tenant has no Okta connector (connector add-okta)');
  return row;
}

const failed = (err: unknown) => {
  const e = toOktaError(err);
  // A 4xx of Okta's is the admin's to fix (scope, role); anything else is reported the same way, never as a stack.
  return badRequest(`Okta: ${e.errorCode}: ${e.message}`);
};

/**
 * The group picker (`connector groups`, and the admin console later): the Okta org's groups whose name starts with
 * `search` (Okta's `q`, case-insensitive), or the first ones when none is given, at most `limit`, each marked when it
 * is assigned to our app. Reading names here also refreshes the names stored with IdP-group grants (a rename in
 * Okta is then matched against pushed and asserted group names again).
 */
export async function searchIdpGroups(s: Services, t: TenantCtx, opts: { search?: string | undefined; limit?: number | undefined; signal?: AbortSignal }): Promise<{ groups: IdpGroup[]; truncated: boolean }> {
  const search = opts.search?.trim() ?? '';
  if (search.length > 100 || [...search].some((ch) => ch.charCodeAt(0) < 0x20)) throw badRequest('--search: up to 100 printable characters');
  const limit = Math.min(Math.max(opts.limit ?? 50, 1), MAX_RESULTS);
  const row = await oktaConnector(t);
  const { client } = await oktaClientFor(s, t, row, opts.signal);
  const groups: IdpGroup[] = [];
  let truncated = false;
  try {
    const assigned = new Set<string>();
    for await (const a of await client.applicationApi.listApplicationGroupAssignments({ appId: oktaConfig(row).appId, limit: 200 })) {
      if (a?.id) assigned.add(a.id);
    }
    for await (const g of await client.groupApi.listGroups({ ...(search && { q: search }), limit: Math.min(limit + 1, 200) })) {
      if (!g?.id) continue;
      if (groups.length === limit) {
        truncated = true;
        break;
      }
      const profile = (g.profile ?? {}) as { name?: unknown; description?: unknown };
      groups.push({
        id: g.id,
        name: typeof profile.name === 'string' ? profile.name : g.id,
        description: typeof profile.description === 'string' && profile.description ? profile.description : null,
        type: g.type ? String(g.type) : null,
        assignedToApp: assigned.has(g.id),
      });
    }
  } catch (err) {
    throw failed(err);
  }
  await refreshIdpGrantNames(s, t, 'okta', groups);
  return { groups, truncated };
}

/** Looks up IdP groups by id in Okta (404 → not found), for grants made before anyone from them arrived. */
export async function getIdpGroups(s: Services, t: TenantCtx, ids: string[]): Promise<{ id: string; name: string }[]> {
  const wanted = [...new Set(ids.map((x) => x.trim()).filter(Boolean))];
  const bad = wanted.find((x) => !OKTA_ID.test(x));
  if (bad !== undefined) throw badRequest(`--idp-group "${bad.slice(0, 80)}" is not an Okta group id (00g…; see: connector groups)`);
  if (wanted.length === 0) return [];
  const row = await oktaConnector(t);
  const { client } = await oktaClientFor(s, t, row);
  const out: { id: string; name: string }[] = [];
  for (const id of wanted) {
    try {
      const g = await client.groupApi.getGroup({ groupId: id });
      const name = (g.profile as { name?: unknown } | undefined)?.name;
      out.push({ id, name: typeof name === 'string' && name ? name : id });
    } catch (err) {
      const e = toOktaError(err);
      if (e.status === 404) throw notFound(`No group ${id} in the Okta org (see: connector groups)`);
      throw failed(err);
    }
  }
  return out;
}
