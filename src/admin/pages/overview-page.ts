import { html, type SafeHtml } from '../../views/html.js';
import type { consoleOverview } from '../queries/overview.js';
import { badge, table, when } from './components.js';

type Overview = Awaited<ReturnType<typeof consoleOverview>>;

/** Link texts that say where the admin acts (a bare "Open" repeated is ambiguous to screen-reader users). */
const openLabel: Record<string, string> = { sso: 'Open single sign-on', provisioning: 'Open provisioning', tools: 'Open tools', settings: 'Open settings' };

export function overviewPage(slug: string, o: Overview): SafeHtml {
  const base = `/t/${slug}/admin`;
  const alerts = o.alerts.length
    ? html`<section class="card" aria-labelledby="alerts-h"><h2 id="alerts-h">Needs attention</h2><ul>${o.alerts.map(
        (a) => html`<li>${badge(a.severity === 'critical' ? 'Critical' : 'Warning', a.severity === 'critical' ? 'bad' : 'warn')} ${a.text} <a href="${base}/${a.section}${a.anchor ? `#${a.anchor}` : ''}">${openLabel[a.section]}</a></li>`,
      )}</ul></section>`
    : html`<section class="card" aria-labelledby="alerts-h"><h2 id="alerts-h">Needs attention</h2><p>${badge('All clear', 'ok')} Nothing needs your attention.</p></section>`;
  return html`${alerts}
<div class="grid">
<div class="stat"><div class="n">${o.users.active}</div><div class="l">active users</div></div>
<div class="stat"><div class="n">${o.tools.approved} / ${o.tools.total}</div><div class="l">tools approved</div></div>
<div class="stat"><div class="n">${o.clients.registered}</div><div class="l">MCP clients registered</div></div>
<div class="stat"><div class="n">${o.clients.activeGrants}</div><div class="l">active client grants</div></div>
</div>
<section class="card" aria-labelledby="sso-h"><h2 id="sso-h">Single sign-on</h2>
${table('SSO connections', ['Connection', 'Protocol', 'Status', 'Last successful sign-in', 'Failures (24 h)'], o.connections.map((c) => [
  html`<a href="${base}/sso">${c.name}</a>`, c.kind.toUpperCase(), c.enabled ? badge('On', 'ok') : badge('Off'), when(c.lastLoginAt), c.failures24h > 0 ? badge(String(c.failures24h), 'warn') : '0',
]), 'No connection yet: add your identity provider under Single sign-on.')}
</section>
<section class="card" aria-labelledby="prov-h"><h2 id="prov-h">Provisioning</h2>
<p>Source of users and groups: <strong>${o.provisioning.mode === 'scim' ? 'SCIM from your identity provider' : 'Directory sync'}</strong>.
${o.provisioning.activeTokens} active SCIM token${o.provisioning.activeTokens === 1 ? '' : 's'}. Last SCIM change: ${when(o.provisioning.lastScimCallAt)}${o.provisioning.lastScimAction ? html` (<code>${o.provisioning.lastScimAction}</code>)` : ''}.
Errors in 24 h: ${o.provisioning.scimErrors24h}.</p>
<p><a href="${base}/provisioning">Manage provisioning</a></p></section>
<section class="card" aria-labelledby="conn-h"><h2 id="conn-h">Connectors</h2>
${table('Connectors', ['Connector', 'Last directory sync'], o.connectors.map((c) => [c.kind, when(c.lastSyncAt)]), 'No connector. Connectors (Google, Microsoft, Okta) are set up by your operator with the connector add commands.')}
</section>`;
}
