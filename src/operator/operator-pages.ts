import { badge, table, when } from '../admin/pages/components.js';
import { head } from '../views/console-layout.js';
import { consoleScript } from '../views/console-assets.js';
import { html, raw, type SafeHtml } from '../views/html.js';
import type { TenantRow } from './operator-queries.js';

export type OperatorNotice = { kind: 'ok' | 'error' | 'warn'; text: string } | undefined;

const noticeHtml = (n: OperatorNotice) =>
  n ? html`<div class="notice${n.kind === 'ok' ? '' : ` ${n.kind}`}" role="${n.kind === 'ok' ? 'status' : 'alert'}"><p>${n.text}</p></div>` : '';

/** The operator view's layout: the console's head, styles and script (CSP nonce), no tenant navigation. */
export function operatorLayout(p: { title: string; operator?: string; csrf?: string; notice?: OperatorNotice; body: SafeHtml }, nonce: string): SafeHtml {
  return html`${head(`${p.title} · SSO Bridge operator`, nonce, p.csrf)}
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<div class="brand">SSO Bridge <span>· Operator</span></div>
${p.operator ? html`<div class="who"><span>Signed in as <strong>${p.operator}</strong></span>
<form class="inline" method="post" action="/operator/sign-out"><input type="hidden" name="csrf" value="${p.csrf ?? ''}"><button type="submit" class="secondary">Sign out</button></form></div>` : ''}
</header>
<main id="main" tabindex="-1">
<h1>${p.title}</h1>
${noticeHtml(p.notice)}
${p.body}
</main>
<script nonce="${nonce}">${raw(consoleScript)}</script>
</body>
</html>`;
}

export const signInForm = (): SafeHtml => html`<form class="card" method="post" action="/operator/sign-in" aria-labelledby="si-h"><h2 id="si-h">Operator sign-in</h2>
<div><label for="op-token">Operator token</label><input id="op-token" name="token" type="password" autocomplete="off" required aria-describedby="op-token-hint">
<p class="hint" id="op-token-hint">Created on the server with <code>sso-bridge operator token create --name NAME</code>.</p></div>
<p><button type="submit">Sign in</button></p></form>`;

const hidden = (csrf: string, fields: Record<string, string>) =>
  html`<input type="hidden" name="csrf" value="${csrf}">${Object.entries(fields).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}`;

/** A one-button POST form to an operator action. */
const actionButton = (csrf: string, action: string, slug: string, label: string, o: { danger?: boolean; confirm?: string } = {}) =>
  html`<form class="inline" method="post" action="/operator/actions/${action}"${o.confirm ? html` data-confirm="${o.confirm}"` : ''}>${hidden(csrf, { tenant: slug })}<button type="submit" class="${o.danger ? 'danger' : 'secondary'}" aria-label="${label} ${slug}">${label}</button></form>`;

const statusBadge = (t: TenantRow) =>
  t.signup === 'pending' ? badge('Awaiting approval', 'warn') : t.status === 'active' ? badge('Enabled', 'ok') : badge('Disabled', 'bad');

export interface OperatorHome {
  csrf: string;
  signupPolicy: string;
  tenants: TenantRow[];
  pending: { slug: string; name: string; source?: string | undefined; contact?: string | undefined; createdAt: Date }[];
  /** A setup link just created: shown in this response only. */
  created?: { tenant: string; url: string; expiresAt: string } | undefined;
}

export function operatorHome(v: OperatorHome): SafeHtml {
  const rows = v.tenants.map((t) => [
    html`<code>${t.slug}</code>`,
    t.name,
    statusBadge(t),
    String(t.ssoConnections),
    when(t.lastScimCallAt),
    String(t.users),
    when(t.createdAt),
    t.signup === 'pending'
      ? ''
      : html`${t.status === 'active' ? actionButton(v.csrf, 'setup-link', t.slug, 'Create setup link') : ''} ${t.status === 'active' ? actionButton(v.csrf, 'tenant-disable', t.slug, 'Disable', { danger: true, confirm: `Disable ${t.slug}? Its URLs answer 404 at once.` }) : actionButton(v.csrf, 'tenant-enable', t.slug, 'Enable')}`,
  ]);
  const created = v.created
    ? html`<section class="card" aria-labelledby="link-h"><h2 id="link-h">Setup link for ${v.created.tenant}</h2>
<p>Send it to the customer's IdP administrator. It works once and expires ${when(v.created.expiresAt)}. It is shown only now.</p>
<div class="copy-field"><code id="setup-link" class="secret">${v.created.url}</code><button type="button" class="secondary" data-copy="setup-link" hidden aria-label="Copy setup link">Copy</button></div></section>`
    : '';
  const queue =
    v.signupPolicy === 'approval' || v.pending.length
      ? html`<section class="card" aria-labelledby="q-h"><h2 id="q-h">Sign-ups awaiting approval</h2>
${table('Sign-ups awaiting approval', ['Slug', 'Name', 'Source', 'Contact', 'Requested', 'Decision'], v.pending.map((p) => [
  html`<code>${p.slug}</code>`, p.name, p.source ?? '', p.contact ?? '', when(p.createdAt),
  html`${actionButton(v.csrf, 'signup-approve', p.slug, 'Approve')} ${actionButton(v.csrf, 'signup-reject', p.slug, 'Decline', { danger: true, confirm: `Decline the sign-up of ${p.slug}?` })}`,
]), 'No sign-up is waiting.')}</section>`
      : html`<p class="hint">Sign-up policy: ${v.signupPolicy} (no approval queue).</p>`;
  return html`${created}${queue}<section class="card" aria-labelledby="t-h"><h2 id="t-h">Tenants</h2>
${table('Tenants', ['Slug', 'Name', 'Status', 'SSO connections', 'Last SCIM call', 'Users', 'Created', 'Actions'], rows, 'No tenant yet.')}</section>`;
}
