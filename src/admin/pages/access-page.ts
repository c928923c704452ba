import { html, type SafeHtml } from '../../views/html.js';
import type { toolAccess, userAccess } from '../queries/access-matrix.js';
import { badge, buttonForm, table, when } from './components.js';

export interface AccessView {
  slug: string;
  csrf: string;
  users: { id: string; userName: string; displayName: string | null; email: string | null }[];
  tools: string[];
  search: string;
  user?: Awaited<ReturnType<typeof userAccess>> | undefined;
  tool?: Awaited<ReturnType<typeof toolAccess>> | undefined;
}

function userSection(v: AccessView, a: NonNullable<AccessView['user']>): SafeHtml {
  const returnTo = `/t/${v.slug}/admin/access?user=${encodeURIComponent(a.user.id)}`;
  const who = a.user.displayName ?? a.user.userName;
  return html`<section class="card" aria-labelledby="user-h"><h2 id="user-h">${who}</h2>
<p>${a.user.email ?? ''} ${a.user.active ? badge('Active', 'ok') : badge('Inactive')} ${a.user.isAdmin ? badge('Admin') : ''} · ${a.sessions} live browser session${a.sessions === 1 ? '' : 's'}</p>
<p>Groups: ${a.groups.length ? a.groups.map((g) => g.displayName).join(', ') : html`<span class="muted">none</span>`}</p>
<h3>Clients with access</h3>
${table('Clients', ['Client', 'Grants', 'Since', ''], a.clients.map((c) => [
  c.name, String(c.grants), when(c.since),
  html`${buttonForm({ slug: v.slug, action: 'user-client-revoke', csrf: v.csrf, returnTo, fields: { userId: a.user.id, clientId: c.clientId }, label: 'Revoke', ariaLabel: `Revoke ${c.name} for ${who}`, danger: true, confirm: `End ${c.name}'s access for ${who}?` })}
${buttonForm({ slug: v.slug, action: 'client-remove', csrf: v.csrf, returnTo, fields: { clientId: c.clientId }, label: 'Remove client for everyone', ariaLabel: `Remove client for everyone: ${c.name}`, danger: true, confirm: `Remove ${c.name} for every user? Every token it holds ends.` })}`,
]), 'No client holds a grant for this user.')}
<h3>Tools this user can call</h3>
${table('Tools', ['Tool', 'Through'], a.tools.map((x) => [html`<code>${x.name}</code>`, x.via.join(', ')]), 'No tool.')}
<h3>Upstream connections</h3>
${table('Stored credentials', ['Kind', 'For', 'Updated'], a.connections.map((c) => [c.ownerKind, html`<code>${c.ownerId}</code>`, when(c.updatedAt)]), 'No stored credentials.')}
${buttonForm({ slug: v.slug, action: 'user-revoke-all', csrf: v.csrf, returnTo, fields: { userId: a.user.id }, label: 'Revoke everything for this user', danger: true, confirm: `End every session, grant, token and stored credential of ${who}?` })}
<p class="hint">Ends sessions, client grants, tokens and stored upstream credentials at once on every node; the user can sign in again. Asks you to have signed in within the last 10 minutes.</p>
</section>`;
}

function toolSection(a: NonNullable<AccessView['tool']>): SafeHtml {
  const body = !a.approved
    ? html`<p>${badge('Not approved')} Nobody can call it.</p>`
    : a.everyone
      ? html`<p>${badge('Everyone', 'ok')} Every active user can call it.</p>`
      : table('Groups', ['Group', 'Source', 'Members who can call it'], a.groups.map((g) => [g.displayName, g.source, g.users.map((u) => u.displayName ?? u.userName).join(', ') || html`<span class="muted">no members</span>`]), 'No group.');
  return html`<section class="card" aria-labelledby="tool-h"><h2 id="tool-h">Who can call <code>${a.tool}</code></h2>${body}</section>`;
}

export function accessPage(v: AccessView): SafeHtml {
  const base = `/t/${v.slug}/admin/access`;
  return html`<div class="grid">
<form class="card" method="get" action="${base}" role="search"><label for="user-search">Find a user</label>
<input id="user-search" name="search" type="search" value="${v.search}"><p><button type="submit" class="secondary">Search</button></p>
<ul>${v.users.map((u) => html`<li><a href="${base}?user=${u.id}">${u.displayName ?? u.userName}</a> <span class="muted">${u.email ?? ''}</span></li>`)}</ul></form>
<form class="card" method="get" action="${base}"><label for="tool-pick">Or pick a tool</label>
<select id="tool-pick" name="tool">${v.tools.map((n) => html`<option value="${n}"${v.tool?.tool === n ? html` selected` : ''}>${n}</option>`)}</select>
<p><button type="submit" class="secondary">Show access</button></p></form>
</div>
${v.user ? userSection(v, v.user) : ''}
${v.tool ? toolSection(v.tool) : ''}`;
}
