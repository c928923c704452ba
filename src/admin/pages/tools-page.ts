import { html, type SafeHtml } from '../../views/html.js';
import { idpGroupRef, type PickableGroup } from '../queries/group-picker.js';
import type { toolCatalog } from '../queries/tool-catalog.js';
import { actionUrl, badge, buttonForm, formFields, table, when } from './components.js';

type Catalog = Awaited<ReturnType<typeof toolCatalog>>;
type Tool = Catalog['tools'][number];

const annotationHints: [string, string][] = [['readOnlyHint', 'read-only'], ['destructiveHint', 'destructive'], ['idempotentHint', 'idempotent'], ['openWorldHint', 'open world']];

/** The group picker: "everyone" or chosen groups, a filter box (with the script), and plain checkboxes (without). */
function groupPicker(id: string, groups: PickableGroup[], current: Tool): SafeHtml {
  // A held tool's access reads "nobody" while held: its grants still say what it had.
  const byGroups = current.groups.length > 0 || current.idpGroups.length > 0;
  const chosen = new Set([...current.groups.map((g) => g.id), ...current.idpGroups.map((g) => idpGroupRef(g.source, g.id))]);
  return html`<fieldset><legend>Who may call it</legend>
<div><input type="radio" id="${id}-everyone" name="scope" value="everyone"${!byGroups ? html` checked` : ''}><label class="check" for="${id}-everyone">Everyone in the organisation</label></div>
<div><input type="radio" id="${id}-groups" name="scope" value="groups"${byGroups ? html` checked` : ''}><label class="check" for="${id}-groups">Only members of these groups</label></div>
${groups.length
  ? html`<label for="${id}-filter">Filter groups</label><input id="${id}-filter" type="search" data-filter="${id}-list" autocomplete="off">
<div class="picker"><ul id="${id}-list">${groups.map((g, i) => html`<li data-filter-item><input type="checkbox" id="${id}-g${i}" name="group" value="${g.ref}"${chosen.has(g.ref) ? html` checked` : ''}><label class="check" for="${id}-g${i}">${g.name} <span class="muted">· ${g.source}${g.members !== null ? ` · ${g.members} members` : ''}</span></label></li>`)}</ul></div>`
  : html`<p class="hint">No groups yet: they arrive by SCIM, at sign-in, or by directory sync.</p>`}
</fieldset>`;
}

function toolCard(slug: string, csrf: string, t: Tool, groups: PickableGroup[], i: number): SafeHtml {
  const returnTo = `/t/${slug}/admin/tools`;
  const hints = annotationHints.filter(([k]) => t.annotations[k] === true).map(([, l]) => badge(l, l === 'destructive' ? 'warn' : ''));
  const groupNames = [...t.groups.map((g) => g.name), ...t.idpGroups.map((g) => `${g.name} (${g.source})`)];
  const access = t.held ? badge('Change awaiting review', 'warn') : t.access === 'everyone' ? badge('Everyone', 'ok') : t.access === 'groups' ? badge(`Groups: ${groupNames.join(', ')}`, 'ok') : badge('Not approved');
  return html`<section class="card" aria-labelledby="tool-${i}"><h3 id="tool-${i}"><code>${t.name}</code></h3>
<p>${badge(t.source)} ${access} ${hints}</p>
<p>${t.description ?? html`<span class="muted">No description.</span>`}</p>
<details><summary>Input schema and annotations</summary><pre>${JSON.stringify({ inputSchema: t.inputSchema, annotations: t.annotations }, null, 2)}</pre></details>
${t.held
  ? html`<p class="hint">Its upstream changed it after approval: <a href="#held">review the change</a> before changing its access.</p>`
  : html`<details${t.access === 'nobody' ? html` open` : ''}><summary>${t.approved ? 'Change access' : 'Approve'}</summary>
<form method="post" action="${actionUrl(slug, 'tool-approve')}">${formFields(csrf, returnTo)}<input type="hidden" name="tool" value="${t.name}">
${groupPicker(`p${i}`, groups, t)}
<p><button type="submit" aria-label="Approve ${t.name}">Approve</button></p></form></details>`}
${t.approved ? buttonForm({ slug, action: 'tool-revoke', csrf, returnTo, fields: { tool: t.name }, label: 'Revoke for everyone', ariaLabel: `Revoke for everyone: ${t.name}`, danger: true, confirm: `Revoke ${t.name}? Nobody can call it from the next request on.` }) : ''}
<p class="hint">Last changed ${when(t.updatedAt)} · <a href="/t/${slug}/admin/access?tool=${encodeURIComponent(t.name)}">Who can call it</a></p>
</section>`;
}

/** A line diff (src/tools/tool-change.ts diffLines) with added and removed lines marked by more than colour. */
const diffView = (tool: string, field: string, lines: string[]): SafeHtml =>
  // Focusable: a long schema scrolls, and keyboard users must be able to scroll it (WCAG 2.1.1).
  html`<pre class="diff" tabindex="0" aria-label="${field} of ${tool}: approved (minus) and now listed (plus)">${lines.map((l, i) => html`<span class="${i < 2 ? 'hdr' : l.startsWith('+ ') ? 'add' : l.startsWith('- ') ? 'del' : ''}">${l}</span>`)}</pre>`;

/**
 * Tools whose upstream changed their description, input schema or annotations after approval (tool-poisoning
 * guard): held out of tools/list and tools/call until an admin accepts the change or keeps the tool revoked.
 */
function heldChanges(slug: string, csrf: string, held: Tool[]): SafeHtml {
  if (held.length === 0) return html``;
  const returnTo = `/t/${slug}/admin/tools`;
  return html`<section class="card" id="held" aria-labelledby="held-h"><h2 id="held-h">Changes awaiting review</h2>
<p>These upstream tools changed after you approved them. Until you decide, nobody can call them. Read what changed: a tool's description and schema are what the AI assistant follows.</p>
${held.map((t, i) => html`<section aria-labelledby="held-${i}"><h3 id="held-${i}"><code>${t.name}</code> ${badge(t.source)}</h3>
<p>Changed: ${t.changes.map((c) => c.field).join(', ')}. Access after accepting: ${t.groups.length || t.idpGroups.length ? [...t.groups.map((g) => g.name), ...t.idpGroups.map((g) => g.name)].join(', ') : 'everyone'}.</p>
${t.changes.map((c) => diffView(t.name, c.field, c.diff))}
<p>${buttonForm({ slug, action: 'tool-change-accept', csrf, returnTo, fields: { tool: t.name }, label: 'Accept change', ariaLabel: `Accept change: ${t.name}` })}
${buttonForm({ slug, action: 'tool-change-reject', csrf, returnTo, fields: { tool: t.name }, label: 'Keep revoked', ariaLabel: `Keep revoked: ${t.name}`, danger: true, confirm: `Revoke ${t.name}? It stays revoked until you approve it again.` })}</p>
</section>`)}
</section>`;
}

const sourceNames: Record<string, string> = { okta: 'Okta', google: 'Google Workspace' };

export function toolsPage(v: { slug: string; csrf: string; catalog: Catalog; picker: { groups: PickableGroup[]; unavailable: { source: string; reason: string }[]; notes: string[] } }): SafeHtml {
  const returnTo = `/t/${v.slug}/admin/tools`;
  const upstreams = table('Upstream MCP servers', ['Name', 'URL', 'Tools', 'Last refreshed', ''], v.catalog.upstreams.map((u) => [
    u.name, html`<code>${u.url}</code>`, String(u.tools), when(u.lastRefreshedAt),
    buttonForm({ slug: v.slug, action: 'upstream-refresh', csrf: v.csrf, returnTo, fields: { name: u.name }, label: 'Refresh', ariaLabel: `Refresh ${u.name}` }),
  ]), 'No upstream MCP server yet.');
  return html`${heldChanges(v.slug, v.csrf, v.catalog.tools.filter((t) => t.held))}<section class="card" aria-labelledby="ups-h"><h2 id="ups-h">Upstream MCP servers</h2>${upstreams}
<details><summary>Add an upstream server</summary>
<form method="post" action="${actionUrl(v.slug, 'upstream-add')}">${formFields(v.csrf, returnTo)}
<div class="row"><div><label for="ups-name">Name</label><input id="ups-name" name="name" type="text" required maxlength="32" pattern="[A-Za-z0-9][A-Za-z0-9-]*" aria-describedby="ups-name-hint"><p class="hint" id="ups-name-hint">Letters, digits, dashes. Tools appear as <code>name__tool</code>.</p></div>
<div><label for="ups-url">MCP endpoint URL</label><input id="ups-url" name="url" type="url" required placeholder="https://mcp.example.com/mcp"></div></div>
<label for="ups-headers">Headers (optional, one "Name: value" per line; kept encrypted, never shown again)</label><textarea id="ups-headers" name="headers" rows="3"></textarea>
<p class="hint">New tools arrive unapproved. Adding a server asks you to have signed in within the last 10 minutes.</p>
<p><button type="submit">Add server</button></p></form></details></section>
<h2>Catalog</h2>
<p class="lead">Approve a tool for everyone or for chosen groups; membership is checked on every call. Groups from your identity provider's directory can be chosen before anyone from them has signed in.</p>
${v.picker.unavailable.map((u) => html`<div class="notice warn" role="status"><p>Groups from ${sourceNames[u.source] ?? u.source} are not shown: ${u.reason}</p></div>`)}
${v.picker.notes.map((n) => html`<p class="hint">${n}</p>`)}
${v.catalog.tools.map((t, i) => toolCard(v.slug, v.csrf, t, v.picker.groups, i))}`;
}
