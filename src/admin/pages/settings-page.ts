import { html, type SafeHtml } from '../../views/html.js';
import type { TenantSettings } from '../../tenants/settings.js';
import { actionUrl, badge, formFields, select, when } from './components.js';

interface LastReconcile {
  status: string;
  source: string;
  trigger: string;
  finishedAt: Date | null;
  summary: unknown;
  error?: string;
}

const runBadge: Record<string, ['' | 'ok' | 'warn' | 'bad', string]> = { applied: ['ok', 'Applied'], held: ['warn', 'Held by the guard'], failed: ['bad', 'Failed'], abandoned: ['bad', 'Did not finish'], running: ['', 'Running'] };

/** The last reconciliation with the directory (decision 0022) and a button to run one; "confirm" passes the guard. */
function reconcileBlock(slug: string, csrf: string, last: LastReconcile | undefined): SafeHtml {
  const sum = (last?.summary ?? {}) as { drift?: Record<string, number>; planned?: Record<string, number>; errors?: number };
  const [kind, label] = runBadge[last?.status ?? ''] ?? ['', last?.status ?? ''];
  return html`<h3>Reconciliation with the directory</h3>
${last
  ? html`<p>${badge(label, kind)} ${last.source}, ${when(last.finishedAt)} (${last.trigger}).${last.error ? html` ${last.error}` : ''}</p>
${sum.planned ? html`<p class="hint">Planned: ${sum.planned.deactivate ?? 0} deactivations, ${sum.planned.removeMembership ?? 0} membership removals. Drift: ${sum.drift?.missingUsers ?? 0} users missing here, ${sum.drift?.inactiveHere ?? 0} inactive here, ${sum.drift?.missingMemberships ?? 0} memberships missing. Errors: ${sum.errors ?? 0}.</p>` : ''}`
  : html`<p class="muted">No reconciliation has run yet.</p>`}
<form method="post" action="${actionUrl(slug, 'reconcile-run')}">${formFields(csrf, `/t/${slug}/admin/settings`)}
${last?.status === 'held' ? html`<div><input type="checkbox" id="rc-confirm" name="confirm"><label class="check" for="rc-confirm">Apply even though the guard held it (deactivates the users listed in the audit log)</label></div>` : ''}
<p><button type="submit" class="secondary">Reconcile now</button></p></form>`;
}

const onOff = (v: boolean | undefined): string => (v ? 'on' : 'off');
const yesNo: [string, string][] = [['on', 'On'], ['off', 'Off']];

export function settingsPage(v: { slug: string; csrf: string; settings: TenantSettings; connectors: { kind: string; hasCredentials: boolean; tools: number; approvedTools: number }[]; lastReconcile: LastReconcile | null }): SafeHtml {
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
<section class="card" id="connectors" aria-labelledby="conn-h"><h2 id="conn-h">Connectors</h2>
${v.connectors.length ? html`<ul>${v.connectors.map((c) => html`<li><strong>${c.kind}</strong> · credentials ${c.hasCredentials ? 'stored' : 'missing'} · ${c.approvedTools}/${c.tools} tools approved</li>`)}</ul>` : html`<p class="muted">No connector.</p>`}
${v.connectors.length && s.provisioning === 'scim' ? reconcileBlock(v.slug, v.csrf, v.lastReconcile ?? undefined) : ''}
<p class="hint">Connector credentials (service accounts, client secrets) are set by your operator with <code>connector add-…</code>.</p></section>`;
}
