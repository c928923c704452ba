import { Router, type Request, type Response } from 'express';
import { ZodError } from 'zod';
import { formBody } from '../../http/body.js';
import { tenantOf } from '../../http/resolve-tenant.js';
import { AppError } from '../../lib/errors.js';
import type { Services } from '../../services.js';
import { loginUrl } from '../../sso/login-url.js';
import { safeReturnTo } from '../../sso/return-to.js';
import { enabledConnections } from '../../sso/connections/manage-connections.js';
import { connectionLoginUrl } from '../../sso/http/login-page.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { html } from '../../views/html.js';
import { consoleLayout, consoleMessage, sendConsole, type ConsolePage } from '../../views/console-layout.js';
import { auditRefusal, checkAdmin, stateChangeAllowed, type SignedInAdmin } from './admin-session.js';
import { doneMessages, formInputs } from './console-forms.js';
import { ActionRefused, performAction } from './perform-action.js';
import { renderSection, sectionOfPath, type Notice } from './console-sections.js';
import { testSignInRoutes } from './test-sign-in.js';

/** Only console pages of this tenant are places to come back to after a form or a sign-in. */
export function consoleReturnTo(s: Services, t: TenantCtx, value: unknown): string {
  const base = `/t/${t.slug}/admin`;
  const safe = safeReturnTo(value, base, s.config.publicUrl);
  return safe === base || safe.startsWith(`${base}/`) || safe.startsWith(`${base}?`) ? safe : base;
}

/**
 * `/t/{slug}/admin…`: the tenant admin console. Every request passes the admin gate (checkAdmin): signed out or idle →
 * the tenant's SSO login, which brings the admin back here; not an admin → 403. Pages are GETs; every form posts to
 * `admin/actions/{name}`, which runs the shared admin action (CSRF, re-auth, audit: perform-action.ts).
 */
export function consoleRoutes(s: Services): Router {
  const r = Router({ mergeParams: true });

  const refuse = (res: Response, t: TenantCtx, status: number, title: string, text: string) =>
    sendConsole(res, status, (nonce) => consoleMessage({ tenantName: t.name, title, body: html`<p>${text}</p><p><a href="/t/${t.slug}/login">Go to sign-in</a></p>` }, nonce));

  r.use('/admin', async (req, res, next) => {
    const t = tenantOf(res);
    const check = await checkAdmin(s, t, req);
    if (check.ok) {
      res.locals.admin = check.admin;
      return next();
    }
    if (check.reason === 'forbidden') return refuse(res, t, 403, 'Administrators only', `Your account is not an administrator of ${t.name}. Ask an administrator to add you to the admin group.`);
    const back = req.method === 'GET' ? consoleReturnTo(s, t, req.originalUrl) : `/t/${t.slug}/admin`;
    res.redirect(303, loginUrl(s, t, back));
  });

  const admin = (res: Response) => res.locals.admin as SignedInAdmin;

  async function show(req: Request, res: Response, path: string, status = 200, notice?: Notice, extra?: Record<string, unknown>) {
    const t = tenantOf(res);
    const a = admin(res);
    const section = sectionOfPath(path);
    if (section === undefined) return refuse(res, t, 404, 'Page not found', 'This console page does not exist.');
    const url = new URL(path, 'http://x');
    const content = await renderSection(s, t, a, section, url.searchParams, extra);
    const page: ConsolePage = { tenant: { slug: t.slug, name: t.name }, admin: { name: a.name }, csrf: a.csrf, section, title: content.title, lead: content.lead, notice: notice ?? noticeOf(req), body: content.body };
    sendConsole(res, status, (nonce) => consoleLayout(page, nonce));
  }

  const noticeOf = (req: Request): Notice | undefined => {
    const done = typeof req.query.done === 'string' && Object.hasOwn(doneMessages, req.query.done) ? doneMessages[req.query.done] : undefined;
    return done ? { kind: 'ok', text: done } : undefined;
  };

  for (const path of ['', '/sso', '/provisioning', '/tools', '/access', '/audit', '/settings']) {
    r.get(`/admin${path}`, (req, res) => show(req, res, `${path || '/'}${req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : ''}`));
  }

  // Re-authentication: a fresh SSO round trip through the admin's own connection (a new session; startSession
  // records its authTime), then back to the page. The login router's "already signed in" shortcut is bypassed.
  r.get('/admin/reauth', async (req, res) => {
    const t = tenantOf(res);
    const back = consoleReturnTo(s, t, req.query.return_to);
    const conns = await enabledConnections(t);
    const conn = conns.find((c) => c.id === admin(res).session.connectionId) ?? conns[0];
    if (!conn) return refuse(res, t, 503, 'Sign-in unavailable', 'No identity provider is enabled for this organisation.');
    res.redirect(303, `${connectionLoginUrl(t, conn, back)}&prompt=login`);
  });

  r.use('/admin/sso', testSignInRoutes(s));

  r.post('/admin/actions/:name', formBody('2mb'), async (req, res) => {
    const t = tenantOf(res);
    const a = admin(res);
    const name = String(req.params.name);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const back = consoleReturnTo(s, t, body.return);
    const backPath = back.slice(`/t/${t.slug}/admin`.length) || '/';
    // A refusal is shown on the console section the form came from: forms on a sub-page (a connection's test
    // results) have no section of their own, so theirs is the first path segment (`/sso/test-result?…` → `/sso`).
    const refusalPath = sectionOfPath(backPath) === undefined ? `/${backPath.split(/[/?]/)[1] ?? ''}` : backPath;
    try {
      if (!stateChangeAllowed(s, t, req)) {
        await auditRefusal(s, t, req, res, 'admin.request.refused', `csrf: ${name.slice(0, 40)}`, a.session.userId);
        throw new ActionRefused(403, 'csrf', 'This form has expired or did not come from the console. Reload the page and try again.');
      }
      const input = Object.hasOwn(formInputs, name) ? formInputs[name]!(body) : {};
      const result = await performAction(s, t, req, res, a, name, input, back);
      if (name === 'scim-token-create') {
        // Shown once, in this response only: never in a URL, a redirect or a later page.
        const created = result as unknown as { id: string; token: string };
        return void (await show(req, res, '/provisioning', 200, { kind: 'ok', text: 'SCIM token created.' }, { created: { id: created.id, token: created.token } }));
      }
      res.redirect(303, `${back}${back.includes('?') ? '&' : '?'}done=${encodeURIComponent(name)}`);
    } catch (err) {
      if (err instanceof ActionRefused && err.code === 'csrf') return refuse(res, t, 403, 'Request refused', err.message);
      if (err instanceof ActionRefused && err.code === 'reauth_required') {
        return void (await show(req, res, refusalPath, 401, { kind: 'warn', text: err.message, link: { href: err.reauthUrl!, text: 'Sign in again' } }));
      }
      if (err instanceof AppError && err.expose) return void (await show(req, res, refusalPath, err.status, { kind: 'error', text: err.message }));
      if (err instanceof ZodError) return void (await show(req, res, refusalPath, 400, { kind: 'error', text: err.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ') }));
      throw err;
    }
  });
  return r;
}
