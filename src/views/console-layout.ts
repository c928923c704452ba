import { randomBytes } from 'node:crypto';
import type { Response } from 'express';
import { html, raw, type SafeHtml } from './html.js';
import { consoleScript, consoleStyles } from './console-assets.js';

export const consoleSections = [
  { path: '', label: 'Overview' },
  { path: 'sso', label: 'Single sign-on' },
  { path: 'provisioning', label: 'Provisioning' },
  { path: 'tools', label: 'Tools' },
  { path: 'access', label: 'Access' },
  { path: 'audit', label: 'Audit log' },
  { path: 'settings', label: 'Settings' },
] as const;

export type ConsoleSection = (typeof consoleSections)[number]['path'];

export interface ConsolePage {
  tenant: { slug: string; name: string };
  admin: { name: string };
  csrf: string;
  section: ConsoleSection;
  title: string;
  lead?: string;
  /** A result to announce (role=status), or an error (role=alert). */
  notice?: { kind: 'ok' | 'error' | 'warn'; text: string; link?: { href: string; text: string } | undefined } | undefined;
  body: SafeHtml;
}

/** A fresh CSP nonce per response (CSP Level 3 §6.7.2.4: unguessable, never reused). */
export const newNonce = () => randomBytes(18).toString('base64');

/**
 * The console's strict policy: nothing loads except this response's own nonced style and script; forms post only to
 * us; never framed; no `<base>` rewriting. No `unsafe-inline`, so an injected `onclick=` or `<script>` cannot run.
 */
export const consoleCsp = (nonce: string) =>
  [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "img-src 'self' data:",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');

export const head = (title: string, nonce: string, csrf?: string): SafeHtml => html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
${csrf ? html`<meta name="csrf-token" content="${csrf}">` : ''}
<title>${title}</title>
<style nonce="${nonce}">${raw(consoleStyles)}</style>
</head>`;

/** The console's one layout: skip link, header (tenant, admin, sign-out), section navigation, one h1 in `main`. */
export function consoleLayout(p: ConsolePage, nonce: string): SafeHtml {
  const base = `/t/${p.tenant.slug}/admin`;
  const nav = consoleSections.map((sec) => {
    const href = sec.path ? `${base}/${sec.path}` : base;
    return html`<li><a href="${href}"${sec.path === p.section ? raw(' aria-current="page"') : ''}>${sec.label}</a></li>`;
  });
  const notice = p.notice
    ? html`<div class="notice${p.notice.kind === 'ok' ? '' : ` ${p.notice.kind}`}" role="${p.notice.kind === 'ok' ? 'status' : 'alert'}"><p>${p.notice.text}${p.notice.link ? html` <a class="button" href="${p.notice.link.href}">${p.notice.link.text}</a>` : ''}</p></div>`
    : '';
  return html`${head(`${p.title} · ${p.tenant.name} admin`, nonce, p.csrf)}
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<div class="brand">SSO Bridge <span>· ${p.tenant.name}</span></div>
<div class="who"><span>Signed in as <strong>${p.admin.name}</strong></span>
<form class="inline" method="post" action="/t/${p.tenant.slug}/logout"><input type="hidden" name="csrf" value="${p.csrf}"><button type="submit" class="secondary">Sign out</button></form>
</div>
</header>
<div class="shell">
<nav class="side" aria-label="Admin console"><ul>${nav}</ul></nav>
<main id="main" tabindex="-1">
<h1>${p.title}</h1>
${p.lead ? html`<p class="lead">${p.lead}</p>` : ''}
${notice}
<div id="live" class="sr-only" role="status" aria-live="polite"></div>
${p.body}
</main>
</div>
<script nonce="${nonce}">${raw(consoleScript)}</script>
</body>
</html>`;
}

/** A bare page (sign-in problems, refusals) in the console's look, without navigation. */
export function consoleMessage(p: { tenantName: string; title: string; body: SafeHtml }, nonce: string): SafeHtml {
  return html`${head(`${p.title} · ${p.tenantName} admin`, nonce)}
<body>
<header class="top"><div class="brand">SSO Bridge <span>· ${p.tenantName}</span></div></header>
<main id="main"><h1>${p.title}</h1>${p.body}</main>
</body>
</html>`;
}

/** Sends a console page with its own strict CSP (replacing the site-wide one) and no caching. */
export function sendConsole(res: Response, status: number, render: (nonce: string) => SafeHtml): void {
  const nonce = newNonce();
  res
    .status(status)
    .set({
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': 'no-store',
      'Content-Security-Policy': consoleCsp(nonce),
      'Referrer-Policy': 'same-origin',
    })
    .send(render(nonce).value);
}
