import { Router } from 'express';
import { tenantOf } from '../../http/resolve-tenant.js';
import type { Services } from '../../services.js';
import { findConnection } from '../../sso/connections/manage-connections.js';
import { connectionLoginUrl } from '../../sso/http/login-page.js';
import { currentSession } from '../../sessions/session-cookie.js';
import { consoleLayout, sendConsole } from '../../views/console-layout.js';
import { html } from '../../views/html.js';
import { testResultPage } from '../pages/sso-page.js';
import type { SignedInAdmin } from './admin-session.js';

const WINDOW_MS = 60 * 60_000;

/**
 * "Test sign-in" (SSO wizard): `test?connection=ID` runs a real login through that connection (a fresh IdP round
 * trip), which comes back to `test-result`: the user it mapped to, the IdP subject and groups, and the redacted SSO
 * traces of recent failures through the connection (the error page of a failed attempt names its trace id).
 */
export function testSignInRoutes(s: Services): Router {
  const r = Router({ mergeParams: true });
  r.get('/test', async (req, res) => {
    const t = tenantOf(res);
    const conn = typeof req.query.connection === 'string' ? await findConnection(t, req.query.connection) : null;
    if (!conn) return void res.redirect(303, `/t/${t.slug}/admin/sso`);
    res.redirect(303, `${connectionLoginUrl(t, conn, `/t/${t.slug}/admin/sso/test-result?connection=${encodeURIComponent(conn.id)}`)}&prompt=login`);
  });

  r.get('/test-result', async (req, res) => {
    const t = tenantOf(res);
    const admin = res.locals.admin as SignedInAdmin;
    const conn = typeof req.query.connection === 'string' ? await findConnection(t, req.query.connection) : null;
    if (!conn) return void res.redirect(303, `/t/${t.slug}/admin/sso`);
    const since = new Date(s.clock.now().getTime() - WINDOW_MS);
    const session = await currentSession(s, t, req);
    const fromThis = session && session.connectionId === conn.id ? session : null;
    const identity = fromThis ? await t.db.userIdentity.findFirst({ where: { connectionId: conn.id, userId: fromThis.userId }, select: { subject: true, lastLoginAt: true } }) : null;
    const memberships = fromThis ? await t.db.groupMembership.findMany({ where: { userId: fromThis.userId }, select: { group: { select: { displayName: true } } } }) : [];
    const traces = await t.db.ssoTrace.findMany({ where: { connectionId: conn.id, createdAt: { gte: since } }, orderBy: { createdAt: 'desc' }, take: 10, select: { id: true, stage: true, reason: true, createdAt: true, summary: true } });
    const body = testResultPage({
      slug: t.slug,
      connection: { id: conn.id, name: conn.name },
      user: fromThis ? { id: fromThis.user.id, userName: fromThis.user.userName, displayName: fromThis.user.displayName, email: fromThis.user.email, active: fromThis.user.active } : null,
      identity,
      groups: memberships.map((m) => m.group.displayName).sort(),
      traces,
    });
    sendConsole(res, 200, (nonce) => consoleLayout({ tenant: { slug: t.slug, name: t.name }, admin: { name: admin.name }, csrf: admin.csrf, section: 'sso', title: 'Test sign-in result', body: html`${body}` }, nonce));
  });
  return r;
}
