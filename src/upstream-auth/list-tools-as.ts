import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { fetchUpstreamTools } from '../tools/upstream-client.js';
import { readUpstreamHeaders } from '../tools/upstream-headers.js';
import { syncUpstreamTools, type SyncReport } from '../tools/sync-upstream-tools.js';

/**
 * Lists a per-user upstream's tools with one user's access token (such upstreams list nothing without one) and
 * stores them unapproved, exactly as `upstream add` does for static upstreams. tools/list reads, never acts.
 */
export async function syncToolsAs(s: Services, t: TenantCtx, up: { id: string; name: string; url: string }, accessToken: string): Promise<SyncReport> {
  const row = await t.db.upstream.findFirst({ where: { id: up.id }, select: { headersSecretId: true, prefix: true } });
  const headers = { ...(await readUpstreamHeaders(s, t, row?.headersSecretId ?? null)), Authorization: `Bearer ${accessToken}` };
  const report = await syncUpstreamTools(t, { ...up, prefix: row?.prefix ?? null }, await fetchUpstreamTools(up.url, headers, s.egress));
  await t.db.upstream.updateMany({ where: { id: up.id }, data: { lastRefreshedAt: s.clock.now() } });
  await s.bus.publish({ type: 'tools.changed', tenantId: t.id });
  return report;
}
