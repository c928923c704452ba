import type { Services } from '../services.js';
import { badRequest, conflict, notFound } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { CONNECTOR_KINDS } from '../connectors/connector-tool.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { fetchUpstreamTools } from './upstream-client.js';
import { healthReason } from './upstream-health.js';
import { ensureBuiltinTools } from './ensure-builtin-tools.js';
import { readUpstreamHeaders } from './upstream-headers.js';
import { listedToolNames, syncUpstreamTools, type SyncReport } from './sync-upstream-tools.js';
import { upstreamPrefix } from './upstream-names.js';
import {
  addPerUserUpstream,
  checkAuthOptions,
  refreshPerUserUpstream,
  removePerUserState,
  type AuthMode,
  type PerUserAuthOptions,
} from '../upstream-auth/add-per-user-upstream.js';

// Letters, digits, dash; no "__" so `{upstream}__{tool}` splits unambiguously.
const UPSTREAM_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$/;

function checkUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw badRequest('--url must be an absolute http(s) URL');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw badRequest('--url must use https (or http)');
  if (u.username || u.password) throw badRequest('--url must not carry credentials: use --header');
  return u.toString();
}

/**
 * The prefix of the names clients see: the upstream's name by default, another name, or "" for none. Two upstreams
 * never share a prefix, and a prefix never names a connector (their tools are `{kind}__…`), so prefixed names
 * cannot collide; unprefixed ones are checked tool by tool (addUpstream).
 */
async function checkPrefix(t: TenantCtx, name: string, prefix: string | undefined): Promise<string | null> {
  if (prefix === undefined) return null;
  if (prefix !== '' && !UPSTREAM_NAME.test(prefix)) throw badRequest('--prefix: empty, or 1–32 letters, digits or dashes (no leading/trailing dash)');
  if (prefix && (CONNECTOR_KINDS as readonly string[]).includes(prefix.toLowerCase())) throw badRequest(`--prefix "${prefix}" is reserved for the ${prefix.toLowerCase()} connector`);
  const others = await t.db.upstream.findMany({ select: { name: true, prefix: true } });
  if (prefix && others.some((o) => upstreamPrefix(o).toLowerCase() === prefix.toLowerCase())) {
    throw conflict(`Another upstream already uses the prefix "${prefix}" (prefixes are compared case-insensitively)`);
  }
  return prefix === name ? null : prefix;
}

/**
 * Registers an upstream MCP server: connects with the given headers, lists its tools, and stores them as
 * `{prefix}__{tool}` (prefix: the upstream's name unless `--prefix` says otherwise; empty = the upstream's own
 * names), none approved. Refused when a name would collide with a tool the tenant has. Nothing is written when the
 * upstream cannot be reached.
 */
export async function addUpstream(
  s: Services,
  t: TenantCtx,
  input: { name: string; url: string; headers: Record<string, string>; prefix?: string; auth?: AuthMode; authOptions?: PerUserAuthOptions },
): Promise<{ id: string; name: string; prefix: string; tools: string[] }> {
  if (!UPSTREAM_NAME.test(input.name)) throw badRequest('--name: 1–32 letters, digits or dashes (no leading/trailing dash)');
  // Connector tools are named `{kind}__…` (src/connectors): an upstream of that name would shadow them.
  if ((CONNECTOR_KINDS as readonly string[]).includes(input.name.toLowerCase())) throw badRequest(`--name "${input.name}" is reserved for the ${input.name.toLowerCase()} connector`);
  const url = checkUrl(input.url);
  if (await t.db.upstream.findFirst({ where: { name: input.name } })) throw conflict(`An upstream named "${input.name}" exists`);
  checkAuthOptions(input.auth ?? 'static', input.authOptions ?? {});
  const prefix = await checkPrefix(t, input.name, input.prefix);
  if (prefix === null && (await t.db.upstream.findFirst({ where: { prefix: input.name } }))) throw conflict(`Another upstream already uses the prefix "${input.name}": choose --prefix`);
  // Per-user OAuth upstreams (src/upstream-auth) list no tools without a user's token.
  if (input.auth === 'oauth-per-user' || input.auth === 'id-jag') {
    const added = await addPerUserUpstream(s, t, { name: input.name, url, headers: input.headers }, input.authOptions ?? {}, input.auth);
    if (prefix !== null) await t.db.upstream.updateMany({ where: { id: added.id }, data: { prefix } });
    return { ...added, prefix: upstreamPrefix({ name: input.name, prefix }) };
  }
  const listed = await fetchUpstreamTools(url, input.headers, s.egress);
  await ensureBuiltinTools(t);
  const names = listedToolNames({ name: input.name, prefix }, listed);
  const clashes = (await t.db.tool.findMany({ where: { name: { in: names } }, select: { name: true } })).map((c) => c.name);
  // Connector tools (`{kind}__…`) may not exist yet: their names are reserved all the same.
  clashes.push(...names.filter((n) => CONNECTOR_KINDS.some((kind) => n.toLowerCase().startsWith(`${kind}__`))));
  if (clashes.length > 0) {
    throw conflict(`Tool names would collide with existing tools: ${clashes.slice(0, 10).join(', ')}. Choose another --prefix.`);
  }
  const id = newId('ups');
  await t.db.upstream.create({ data: { id, tenantId: t.id, name: input.name, url, prefix, lastRefreshedAt: s.clock.now() } });
  if (Object.keys(input.headers).length > 0) {
    const secretId = await s.vault.put(t, { kind: 'upstream-headers', id }, JSON.stringify(input.headers));
    await t.db.upstream.updateMany({ where: { id }, data: { headersSecretId: secretId } });
  }
  const report = await syncUpstreamTools(t, { id, name: input.name, prefix }, listed);
  await s.bus.publish({ type: 'tools.changed', tenantId: t.id });
  return { id, name: input.name, prefix: upstreamPrefix({ name: input.name, prefix }), tools: report.tools };
}

async function getUpstream(t: TenantCtx, name: string) {
  const row = await t.db.upstream.findFirst({ where: { name } });
  if (!row) throw notFound(`No upstream named "${name}"`);
  return row;
}

/**
 * Re-lists an upstream's tools: new ones join unapproved, removed ones are deleted with their grants, approved ones
 * the upstream changed are held (tool-poisoning guard) with an audit event per tool saying what changed.
 */
export async function refreshUpstream(s: Services, t: TenantCtx, name: string, asUserId?: string): Promise<{ id: string } & SyncReport> {
  const row = await getUpstream(t, name);
  if (row.authMode !== 'static') return { id: row.id, ...(await refreshPerUserUpstream(s, t, row, asUserId)) };
  if (asUserId) throw badRequest('--user applies to per-user upstreams only');
  let listed;
  try {
    listed = await fetchUpstreamTools(row.url, await readUpstreamHeaders(s, t, row.headersSecretId), s.egress);
  } catch (err) {
    // Shown as "upstream down" in the admin console on every node, until a refresh or a call succeeds again.
    await s.upstreams.health?.down(t, row.id, healthReason(err));
    throw err;
  }
  await ensureBuiltinTools(t);
  const report = await syncUpstreamTools(t, row, listed);
  await t.db.upstream.updateMany({ where: { id: row.id }, data: { lastRefreshedAt: s.clock.now(), unavailableSince: null, lastError: null } });
  await s.bus.publish({ type: 'tools.changed', tenantId: t.id });
  for (const held of report.held.filter((h) => h.changedNow)) {
    await s.audit.record(t, {
      actor: { kind: 'system' },
      action: 'tool.held',
      target: { kind: 'tool', id: held.tool },
      outcome: 'denied',
      detail: { upstream: row.name, tool: held.tool, changedFields: held.changes.map((c) => c.field) },
    });
  }
  return { id: row.id, ...report };
}

/** Upstreams with their tool counts; headers are never shown (they may hold credentials). */
export async function listUpstreams(t: TenantCtx) {
  const rows = await t.db.upstream.findMany({ orderBy: { name: 'asc' }, include: { _count: { select: { tools: true, connections: true } }, oauthClient: { select: { registration: true, sharedRedirectUri: true } } } });
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    url: r.url,
    auth: r.authMode,
    // static: every user's calls reach the upstream as the one identity of the admin's headers.
    identity: r.authMode === 'static' ? ('shared' as const) : ('per-user' as const),
    ...(r.authMode !== 'static' && { connections: r._count.connections }),
    // Still on the tenant's shared callback (decision 0060): `upstream own-redirect-uri` moves it.
    ...(r.oauthClient?.sharedRedirectUri && r.oauthClient.registration !== 'cimd' && { sharedRedirectUri: true }),
    prefix: upstreamPrefix(r),
    content: !r.contentApproved ? 'nobody' : r.contentEveryone ? 'everyone' : 'groups',
    hasHeaders: r.headersSecretId !== null,
    tools: r._count.tools,
    lastRefreshedAt: r.lastRefreshedAt,
    // Only while it is down (a failed refresh, or a node's circuit breaker open): upstream-health.ts.
    ...(r.unavailableSince && { unavailableSince: r.unavailableSince, lastError: r.lastError }),
  }));
}

/** Removes an upstream, its tools and grants, and its stored headers. */
export async function removeUpstream(s: Services, t: TenantCtx, name: string): Promise<{ id: string; removed: true }> {
  const row = await getUpstream(t, name);
  if (row.authMode !== 'static') await removePerUserState(s, t, row.id);
  await t.db.upstream.deleteMany({ where: { id: row.id } });
  if (row.headersSecretId) await s.vault.remove(t, row.headersSecretId);
  await s.bus.publish({ type: 'tools.changed', tenantId: t.id });
  return { id: row.id, removed: true };
}
