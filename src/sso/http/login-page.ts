import { html, type SafeHtml } from '../../views/html.js';
import { layout } from '../../views/layout.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import type { Connection } from '../connections/manage-connections.js';

export const connectionLoginUrl = (t: TenantCtx, c: Connection, returnTo: string) =>
  `/t/${t.slug}/${c.kind}/login?connection=${encodeURIComponent(c.id)}&return_to=${encodeURIComponent(returnTo)}`;

/** The IdP chooser (several connections): plain links, an optional e-mail domain discovery form, no script. */
export function chooserPage(t: TenantCtx, conns: Connection[], returnTo: string, notice?: string): SafeHtml {
  const discovery = conns.some((c) => c.config.allowedDomains.length > 0);
  const body = html`${notice ? html`<div role="alert"><p>${notice}</p></div>` : ''}
<nav aria-label="Sign-in methods"><ul class="choices">
${conns.map((c) => html`<li><a class="button" href="${connectionLoginUrl(t, c, returnTo)}">Continue with ${c.name}</a></li>\n`)}
</ul></nav>
${discovery
  ? html`<form method="get" action="/t/${t.slug}/login">
<input type="hidden" name="return_to" value="${returnTo}">
<p><label for="email">Or enter your work e-mail</label><br>
<input id="email" name="email" type="email" autocomplete="email" required></p>
<p><button type="submit">Continue</button></p>
</form>`
  : ''}`;
  return layout({ tenantName: t.name, title: 'Choose how to sign in', body });
}

export function messagePage(t: TenantCtx, title: string, message: string): SafeHtml {
  return layout({ tenantName: t.name, title, body: html`<p>${message}</p>` });
}

export function signedInPage(t: TenantCtx, who: string, csrf: string): SafeHtml {
  const body = html`<p>You are signed in as <strong>${who}</strong>.</p>
<form method="post" action="/t/${t.slug}/logout">
<input type="hidden" name="csrf" value="${csrf}">
<button type="submit">Sign out</button>
</form>`;
  return layout({ tenantName: t.name, title: 'Signed in', body });
}
