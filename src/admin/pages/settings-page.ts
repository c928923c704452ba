import { html, type SafeHtml } from '../../views/html.js';
import type { TenantSettings } from '../../tenants/settings.js';
import { actionUrl, formFields, select } from './components.js';

const onOff = (v: boolean | undefined): string => (v ? 'on' : 'off');
const yesNo: [string, string][] = [['on', 'On'], ['off', 'Off']];

export function settingsPage(v: { slug: string; csrf: string; settings: TenantSettings; connectors: { kind: string; hasCredentials: boolean; tools: number; approvedTools: number }[] }): SafeHtml {
  const s = v.settings;
  const field = (id: string, label: string, hint: string, control: SafeHtml) => html`<div><label for="${id}">${label}</label>${control}<p class="hint" id="${id}-hint">${hint}</p></div>`;
  return html`<form class="card" method="post" action="${actionUrl(v.slug, 'settings-update')}" aria-labelledby="set-h"><h2 id="set-h">Organisation settings</h2>
${formFields(v.csrf, `/t/${v.slug}/admin/settings`)}
${field('s-admin', 'Admin group', 'Members of this group (id or exact name) administer this console. Leave empty to rely on granted admins only.', html`<input id="s-admin" name="adminGroup" type="text" value="${s.adminGroup ?? ''}" aria-describedby="s-admin-hint">`)}
${field('s-dcr', 'Dynamic client registration', 'Lets AI assistants register themselves (RFC 7591); many clients still need it.', select('s-dcr', 'dynamicClientRegistration', yesNo, onOff(s.dynamicClientRegistration)))}
${field('s-reconsent', 'Ask users again when tools are added', 'Off: newly approved tools join what users already consented to.', select('s-reconsent', 'reconsentOnNewTools', yesNo, onOff(s.reconsentOnNewTools)))}
${field('s-xaa', 'Cross-app access', 'ID-JAG and token exchange grants for enterprise-managed assistants.', select('s-xaa', 'crossAppAccess', yesNo, onOff(s.crossAppAccess)))}
${field('s-logout', 'IdP logout also revokes assistant access', 'A sign-out at your IdP ends MCP grants too, not only the browser session.', select('s-logout', 'idpLogoutRevokesGrants', yesNo, onOff(s.idpLogoutRevokesGrants)))}
${field('s-prov', 'Source of users and groups', 'SCIM push from your IdP, or directory sync through a connector — never both.', select('s-prov', 'provisioning', [['scim', 'SCIM'], ['directory-sync', 'Directory sync']], s.provisioning))}
<p class="hint">Browser sessions last at most 12 hours and end after 30 minutes without use (15 minutes in this console). IdP-initiated sign-in is set per connection under Single sign-on.</p>
<p><button type="submit">Save settings</button></p></form>
<section class="card" aria-labelledby="conn-h"><h2 id="conn-h">Connectors</h2>
${v.connectors.length ? html`<ul>${v.connectors.map((c) => html`<li><strong>${c.kind}</strong> · credentials ${c.hasCredentials ? 'stored' : 'missing'} · ${c.approvedTools}/${c.tools} tools approved</li>`)}</ul>` : html`<p class="muted">No connector.</p>`}
<p class="hint">Connector credentials (service accounts, client secrets) are set by your operator with <code>connector add-…</code>.</p></section>`;
}
