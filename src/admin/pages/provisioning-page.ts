import { html, type SafeHtml } from '../../views/html.js';
import type { listGroups, listUsers, provisioningStatus } from '../queries/provisioning.js';
import { actionUrl, badge, buttonForm, copyField, formFields, table, when } from './components.js';

export interface ProvisioningView {
  slug: string;
  csrf: string;
  status: Awaited<ReturnType<typeof provisioningStatus>>;
  users: Awaited<ReturnType<typeof listUsers>>;
  groups: Awaited<ReturnType<typeof listGroups>>;
  search: string;
  connections: { id: string; name: string }[];
  /** A token created by this very request: shown once, never again. */
  created?: { id: string; token: string } | undefined;
}

const sourceLabel: Record<string, string> = { scim: 'SCIM', jit: 'SSO (just-in-time)', manual: 'Manual / directory sync', idp: 'SSO (IdP groups)' };

export function provisioningPage(v: ProvisioningView): SafeHtml {
  const returnTo = `/t/${v.slug}/admin/provisioning`;
  const created = v.created
    ? html`<section class="card secret" aria-labelledby="new-token-h"><h2 id="new-token-h">New SCIM token</h2>
<p><strong>Copy it now: it is shown once.</strong> Only its hash is stored; if you lose it, create another and revoke this one.</p>
${copyField('SCIM token', v.created.token, { secret: true })}</section>`
    : '';
  const tokens = table('SCIM tokens', ['Label', 'Created', 'Last used', 'Status', ''], v.status.tokens.map((k) => [
    k.label ?? html`<span class="muted">(no label)</span>`,
    when(k.createdAt),
    when(k.lastUsedAt),
    k.revokedAt ? badge('Revoked') : badge('Active', 'ok'),
    k.revokedAt ? '' : buttonForm({ slug: v.slug, action: 'scim-token-revoke', csrf: v.csrf, returnTo, fields: { id: k.id }, label: 'Revoke', ariaLabel: `Revoke token ${k.label ?? k.id}`, danger: true, confirm: 'Revoke this SCIM token? Provisioning with it stops at once.' }),
  ]), 'No SCIM token yet.');
  const calls = table('Last SCIM calls', ['When', 'Change', 'Target', 'Outcome'], v.status.recentCalls.map((e) => [
    when(e.createdAt), html`<code>${e.action}</code>`, e.targetId ? html`<code>${e.targetId}</code>` : '', e.outcome === 'success' ? badge('success', 'ok') : badge(e.outcome, 'bad'),
  ]), 'No SCIM call yet. Once your identity provider pushes users, they appear here.');
  return html`${created}
<section class="card" aria-labelledby="scim-h"><h2 id="scim-h">Connect your identity provider</h2>
<p>Mode: <strong>${v.status.mode === 'scim' ? 'SCIM (your IdP pushes users and groups)' : 'Directory sync (read from a connector)'}</strong>. Paste these into Okta (<em>Provisioning › Integration</em>) or Entra (<em>Provisioning › Admin credentials</em>).</p>
${copyField('SCIM base URL', v.status.baseUrl)}
<details><summary>Entra: OAuth 2.0 client credentials instead of a token</summary>
<p>Ask your operator for a SCIM client (<code>client add --scim</code>), then use:</p>
${copyField('Token endpoint', v.status.clientCredentials.tokenEndpoint)}
${copyField('Scope', v.status.clientCredentials.scope)}</details>
<h3>Tokens</h3>
${tokens}
<form method="post" action="${actionUrl(v.slug, 'scim-token-create')}">
${formFields(v.csrf, returnTo)}
<div class="row"><div><label for="token-label">Label</label><input id="token-label" name="label" type="text" maxlength="200" placeholder="Okta provisioning"></div>
<div><label for="token-conn">Only for users of this connection (optional)</label><select id="token-conn" name="connectionId"><option value="">Any connection</option>${v.connections.map((c) => html`<option value="${c.id}">${c.name}</option>`)}</select></div></div>
<p class="hint">Creating a token asks you to have signed in within the last 10 minutes.</p>
<p><button type="submit">Create token</button></p>
</form></section>
<section class="card" aria-labelledby="calls-h"><h2 id="calls-h">Last calls</h2>${calls}
<p><a href="/t/${v.slug}/admin/audit?type=scim.*">All SCIM events in the audit log</a></p></section>
<section class="card" aria-labelledby="people-h"><h2 id="people-h">Users and groups</h2>
<form method="get" action="${returnTo}" role="search"><label for="people-search">Search users and groups</label>
<div class="row"><div><input id="people-search" name="search" type="search" value="${v.search}"></div><div><button type="submit" class="secondary">Search</button></div></div></form>
<h3>Users</h3>
${table('Users', ['Name', 'E-mail', 'Source', 'Status', 'Groups', ''], v.users.map((u) => [
  u.displayName ?? u.userName, u.email ?? '', sourceLabel[u.source] ?? u.source, u.active ? badge('Active', 'ok') : badge('Inactive'), String(u.groups),
  html`<a href="/t/${v.slug}/admin/access?user=${u.id}" aria-label="Access of ${u.displayName ?? u.userName}">Access</a>`,
]), 'No users match.')}
<h3>Groups</h3>
${table('Groups', ['Name', 'Source', 'Members'], v.groups.map((g) => [g.displayName, sourceLabel[g.source] ?? g.source, String(g.members)]), 'No groups match.')}
</section>`;
}
