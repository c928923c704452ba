import { html, type SafeHtml } from '../../views/html.js';
import type { AuditEvent } from '../../generated/prisma/client.js';
import { badge, select, when } from './components.js';

export interface AuditView {
  slug: string;
  query: Record<string, string>;
  events: AuditEvent[];
  nextBefore: string | null;
  sinks: { id: string; url: string; status: string; ackedSeq: bigint }[];
}

export function auditPage(v: AuditView): SafeHtml {
  const base = `/t/${v.slug}/admin/audit`;
  const q = v.query;
  const exportQuery = new URLSearchParams(Object.entries(q).filter(([k, val]) => val && k !== 'before'));
  const rows = v.events.map((e) => html`<tr><td>${when(e.createdAt)}</td><td><code>${e.action}</code></td><td>${e.actorKind}${e.actorId ? html` <code>${e.actorId}</code>` : ''}</td>
<td>${e.targetKind ?? ''}${e.targetId ? html` <code>${e.targetId}</code>` : ''}</td><td>${e.outcome === 'success' ? badge('success', 'ok') : badge(e.outcome, 'bad')}</td>
<td><details><summary aria-label="Details of event ${String(e.seq)}">Details</summary><pre>${JSON.stringify({ seq: Number(e.seq), id: e.id, ip: e.ip, userAgent: e.userAgent, requestId: e.requestId, detail: e.detail, hash: e.hash }, null, 2)}</pre></details></td></tr>`);
  return html`<form class="card" method="get" action="${base}" aria-labelledby="filter-h"><h2 id="filter-h">Filter</h2>
<div class="row">
<div><label for="f-since">From (UTC)</label><input id="f-since" name="since" type="text" placeholder="2026-12-01" value="${q.since ?? ''}"></div>
<div><label for="f-until">Until (UTC)</label><input id="f-until" name="until" type="text" placeholder="2026-12-31T23:59:59Z" value="${q.until ?? ''}"></div>
<div><label for="f-type">Event type</label><input id="f-type" name="type" type="text" placeholder="scim.* or tool.approve" value="${q.type ?? ''}"></div>
</div><div class="row">
<div><label for="f-actor">User or client (who acted, by id)</label><input id="f-actor" name="actor" type="text" value="${q.actor ?? ''}"></div>
<div><label for="f-target">Target (user, tool or client id)</label><input id="f-target" name="target" type="text" value="${q.target ?? ''}"></div>
<div><label for="f-outcome">Outcome</label>${select('f-outcome', 'outcome', [['', 'Any'], ['success', 'Success'], ['failure', 'Failure'], ['denied', 'Denied']], q.outcome)}</div>
</div>
<p><button type="submit">Apply</button> <a class="button secondary" href="${base}">Clear</a></p>
<p>Export this filter: <a href="/t/${v.slug}/api/admin/audit/export?${exportQuery.toString()}&amp;format=csv">CSV</a> · <a href="/t/${v.slug}/api/admin/audit/export?${exportQuery.toString()}&amp;format=jsonl">JSON Lines</a></p>
</form>
<section class="card" aria-labelledby="events-h"><h2 id="events-h">Events, newest first</h2>
${v.events.length ? html`<div class="table-wrap"><table><caption class="sr-only">Audit events</caption><thead><tr><th scope="col">When</th><th scope="col">Event</th><th scope="col">Actor</th><th scope="col">Target</th><th scope="col">Outcome</th><th scope="col">Detail</th></tr></thead><tbody>${rows}</tbody></table></div>` : html`<p class="muted">No event matches.</p>`}
${v.nextBefore ? html`<p><a href="${base}?${new URLSearchParams({ ...Object.fromEntries(Object.entries(q).filter(([, val]) => val)), before: v.nextBefore }).toString()}">Older events</a></p>` : ''}
</section>
<section class="card" aria-labelledby="sinks-h"><h2 id="sinks-h">SIEM delivery</h2>
${v.sinks.length ? html`<ul>${v.sinks.map((k) => html`<li><code>${k.url}</code> ${k.status === 'active' ? badge(k.status, 'ok') : badge(k.status, 'warn')} · delivered up to event ${String(k.ackedSeq)}</li>`)}</ul>` : html`<p class="muted">No SIEM sink is configured.</p>`}
</section>`;
}
