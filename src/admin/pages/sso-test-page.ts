import type { Mapping } from '../../sso/connections/connection-config.js';
import { html, type SafeHtml } from '../../views/html.js';
import { mappedFields, type ConnectionTest, type MappedField } from '../queries/sso-test.js';
import { actionUrl, badge, formFields, table, when } from './components.js';

const fieldLabels: Record<MappedField, string> = { email: 'E-mail', givenName: 'Given name', familyName: 'Family name', displayName: 'Display name', groups: 'Groups' };

const shown = (v: unknown): string => (v === null || v === undefined ? '—' : Array.isArray(v) ? v.map(String).join(', ') || '—' : typeof v === 'object' ? JSON.stringify(v) : String(v));

const outcomeText = {
  existing: 'Would sign in the linked user',
  linked: 'Would link to the existing user',
  created: 'Would create the user (JIT)',
} as const;

function outcome(v: ConnectionTest): SafeHtml {
  const o = v.result!.outcome;
  if (o.kind === 'refused') {
    return html`<p>${badge('Would be refused', 'bad')} <strong>${o.code}</strong>: ${o.message}</p><p class="muted">${o.detail}${v.result!.traceId ? html` · trace <code>${v.result!.traceId}</code>` : ''}</p>`;
  }
  return html`<p>${badge(outcomeText[o.kind], 'ok')}</p>
<table><caption class="sr-only">Local user</caption><tbody>
<tr><th scope="row">User</th><td>${o.user.displayName ?? o.user.userName} ${o.kind === 'created' ? html`<span class="muted">(not created: test only)</span>` : html`<code>${o.user.id}</code>`}</td></tr>
<tr><th scope="row">User name</th><td>${o.user.userName}</td></tr>
<tr><th scope="row">E-mail</th><td>${o.user.email ?? '—'}</td></tr>
<tr><th scope="row">Source</th><td>${o.user.source}</td></tr>
<tr><th scope="row">Groups after sign-in</th><td>${o.groups.join(', ') || 'none'}</td></tr></tbody></table>`;
}

function received(v: ConnectionTest): SafeHtml {
  const r = v.result!.received;
  const facts: [string, string | undefined][] = [
    ['Issuer', r.issuer],
    [r.protocol === 'saml' ? 'NameID' : 'Subject (sub)', r.subject],
    ['NameID format', r.nameIdFormat],
    ['Authenticated at', r.authnInstant ? when(r.authnInstant) : undefined],
    ['Authentication context', r.authnContext],
    [r.protocol === 'saml' ? 'Session index' : 'Session (sid)', r.sessionIndex],
    ['Assertion ID', r.assertionId],
    ['Signed', r.signature ? `${r.signature.signed === 'assertion' ? 'the assertion' : 'the response'}${r.signature.certificateSha256 ? `, verified with the certificate SHA-256 ${r.signature.certificateSha256}` : ''}` : undefined],
  ];
  const attrs = Object.entries(r.attributes).map(([k, val]) => [html`<code>${k}</code>`, shown(val)]);
  return html`<table><caption class="sr-only">Sign-in facts</caption><tbody>${facts.filter(([, x]) => x).map(([k, x]) => html`<tr><th scope="row">${k}</th><td><code>${x!}</code></td></tr>`)}</tbody></table>
<h3>${r.protocol === 'saml' ? 'SAML attributes' : 'Claims'} as received</h3>
${table(r.protocol === 'saml' ? 'SAML attributes' : 'Claims', ['Name', 'Value'], attrs, 'The IdP sent none.')}`;
}

/** The mapping form: names per field, "Preview" (re-renders with these names, nothing saved) and "Save mapping". */
function mappingForm(v: ConnectionTest, slug: string, csrf: string, mapping: Mapping, preview: Record<MappedField, unknown> | null): SafeHtml {
  const back = `/t/${slug}/admin/sso/test-result?connection=${encodeURIComponent(v.connection.id)}`;
  const rows = mappedFields.map((f) => html`<tr><th scope="row"><label for="map-${f}">${fieldLabels[f]}</label></th>
<td><input id="map-${f}" name="map_${f}" type="text" value="${(mapping[f] ?? []).join(', ')}" data-map-field="${f}" aria-describedby="map-hint"></td>
<td><output id="preview-${f}" for="map-${f}" data-preview-field="${f}">${preview ? shown(preview[f]) : '—'}</output></td></tr>`);
  return html`<form method="post" action="${actionUrl(slug, 'idp-update')}" data-mapping-preview="/t/${slug}/api/admin/sso/mapping-preview" data-connection="${v.connection.id}">${formFields(csrf, back)}
<input type="hidden" name="id" value="${v.connection.id}">
<p class="hint" id="map-hint">Attribute or claim names tried first, separated by commas; the defaults for ${v.connection.kind.toUpperCase()} follow.${preview ? ' "Would become" uses the last test sign-in.' : ' Run a test sign-in to see what each field would become.'}</p>
<div class="table-wrap"><table><caption class="sr-only">Attribute mapping</caption>
<thead><tr><th scope="col">Field</th><th scope="col">Names tried first</th><th scope="col">Would become</th></tr></thead>
<tbody>${rows}</tbody></table></div>
<p><button type="submit" formaction="/t/${slug}/admin/sso/mapping-preview" class="secondary">Preview</button> <button type="submit">Save mapping</button></p></form>`;
}

/**
 * A connection's "Test sign-in" page: the last test's decoded result (claims as received, the local user it maps to or
 * would create, groups) or the SSO trace of its failure, and the attribute mapping with a preview over those claims.
 */
export function connectionTestPage(v: ConnectionTest, o: { slug: string; csrf: string; mapping?: Mapping; preview: Record<MappedField, unknown> | null }): SafeHtml {
  const c = v.connection;
  return html`<section class="card" aria-labelledby="conn-h"><h2 id="conn-h">${c.name} ${badge(c.kind.toUpperCase())} ${c.enabled ? badge('On', 'ok') : badge('Off')}</h2>
<p><code>${c.issuer}</code></p>
<p>A test sign-in runs a real sign-in at your identity provider in a new window (it asks for credentials again) and shows what came back. It is a dry run: no user is created or changed, no session starts, and you stay signed in as yourself. It works before the connection is turned on.</p>
<p><a class="button" href="/t/${o.slug}/admin/sso/test?connection=${c.id}" target="_blank" rel="opener" aria-label="Test sign-in with ${c.name} (opens a new window)">Test sign-in</a></p></section>
${v.trace
  ? html`<section class="card" aria-labelledby="trace-h"><h2 id="trace-h">${badge('Failed', 'bad')} Test sign-in failed</h2>
<table><caption class="sr-only">SSO trace</caption><tbody>
<tr><th scope="row">Trace</th><td><code>${v.trace.id}</code></td></tr><tr><th scope="row">When</th><td>${when(v.trace.createdAt)}</td></tr>
<tr><th scope="row">Stage</th><td>${v.trace.stage}</td></tr><tr><th scope="row">Reason</th><td>${v.trace.reason}</td></tr></tbody></table>
<details><summary>What the IdP sent (redacted)</summary><pre>${JSON.stringify(v.trace.summary, null, 2)}</pre></details></section>`
  : ''}
${v.result
  ? html`<section class="card" aria-labelledby="res-h"><h2 id="res-h">Last test sign-in · ${when(v.result.at)}</h2>${outcome(v)}</section>
<section class="card" aria-labelledby="recv-h"><h2 id="recv-h">Received from the identity provider</h2>${received(v)}</section>`
  : v.trace ? '' : html`<section class="card" aria-labelledby="res-h"><h2 id="res-h">No test sign-in yet</h2><p class="muted">Use "Test sign-in" above; the result appears here.</p></section>`}
<section class="card" aria-labelledby="map-h"><h2 id="map-h">Attribute mapping</h2>${mappingForm(v, o.slug, o.csrf, o.mapping ?? c.mapping, o.preview)}</section>
<section class="card" aria-labelledby="tr-h"><h2 id="tr-h">Recent failures (SSO traces)</h2>
${v.traces.length ? v.traces.map((x) => html`<details><summary>${when(x.createdAt)} · ${x.stage} · ${x.reason} · <code>${x.id}</code></summary><pre>${JSON.stringify(x.summary, null, 2)}</pre></details>`) : html`<p class="muted">No failed sign-in through this connection in the last hour.</p>`}
</section>
<p><a href="/t/${o.slug}/admin/sso">Back to single sign-on</a></p>`;
}
