import type { Response } from 'express';
import { html, raw, type SafeHtml } from './html.js';

export interface PageOptions {
  /** The tenant's display name: every page says which organisation the user is signing in to. */
  tenantName: string;
  title: string;
  body: SafeHtml;
}

const styles = `body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#1a1a1a}
header{border-bottom:1px solid #ccc;margin-bottom:1.5rem}.tenant{font-weight:600}
button,.button{font:inherit;padding:.5rem 1rem;margin:.25rem 0;cursor:pointer}
.button{display:inline-block;border:1px solid #555;border-radius:4px;color:#1a1a1a;background:#f3f3f3;text-decoration:none}
input[type=email]{font:inherit;padding:.4rem;width:100%;max-width:22rem;box-sizing:border-box}
:focus-visible{outline:3px solid #1a56db;outline-offset:2px}.trace{font-family:monospace}
ul.choices{list-style:none;padding:0}[role=alert]{border-left:4px solid #b91c1c;padding-left:1rem}
.warning{border:2px solid #a15c00;background:#fff4e0;padding:.5rem 1rem}code{word-break:break-all}`;

/** The one page layout for server-rendered pages (login chooser, SSO errors, consent, connected apps, device flow). */
export function layout(p: PageOptions): SafeHtml {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${p.title} · ${p.tenantName}</title>
<style>${raw(styles)}</style>
</head>
<body>
<header><p>Signing in to <span class="tenant">${p.tenantName}</span></p></header>
<main id="main">
<h1>${p.title}</h1>
${p.body}
</main>
</body>
</html>`;
}

/** Sends a rendered page; pages are never cached (they carry CSRF tokens and per-user content). */
export function sendPage(res: Response, status: number, page: SafeHtml): void {
  res.status(status).set({ 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }).send(page.value);
}
