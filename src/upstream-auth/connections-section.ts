import { escapeHtml } from '../consent/html.js';
import type { TenantCtx } from '../tenants/tenant-context.js';

/**
 * The "Connected accounts" part of the connected-apps page: every per-user upstream of the tenant, with the user's
 * connection status, a Disconnect form for connected ones and a Connect link for the others. Only names, hosts and
 * dates: never a token.
 */
export async function renderConnectionsSection(t: TenantCtx, userId: string, csrf: string): Promise<string> {
  const upstreams = await t.db.upstream.findMany({ where: { authMode: { not: 'static' } }, orderBy: { name: 'asc' }, select: { id: true, name: true, url: true } });
  if (upstreams.length === 0) return '';
  const conns = new Map((await t.db.upstreamConnection.findMany({ where: { userId } })).map((c) => [c.upstreamId, c]));
  const slug = escapeHtml(t.slug);
  const items = upstreams.map((up) => {
    const c = conns.get(up.id);
    const name = escapeHtml(up.name);
    const host = escapeHtml(URL.parse(up.url)?.host ?? up.url);
    const connect = `<a class="button" href="/t/${slug}/connect/${encodeURIComponent(up.name)}">${c ? 'Reconnect' : 'Connect'} ${name}</a>`;
    if (!c) return `<li><strong>${name}</strong> (<code>${host}</code>) — not connected ${connect}</li>`;
    const state = c.status === 'connected' ? `connected ${escapeHtml(c.connectedAt.toISOString().slice(0, 10))}` : '<span class="warning">needs to be reconnected</span>';
    return `<li><strong>${name}</strong> (<code>${host}</code>) — ${state}${c.status === 'connected' ? '' : ` ${connect}`}
<form method="post" action="/t/${slug}/apps/disconnect-upstream">
<input type="hidden" name="csrf" value="${escapeHtml(csrf)}"><input type="hidden" name="upstream" value="${name}">
<button type="submit" aria-label="Disconnect ${name}">Disconnect</button>
</form></li>`;
  });
  return `<h2>Connected accounts</h2>
<p>Services whose tools act as you with your own account there.</p>
<ul>
${items.join('\n')}
</ul>`;
}
