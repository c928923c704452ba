import { newId } from '../../../src/lib/ids.js';
import type { Services } from '../../../src/services.js';
import type { TenantCtx } from '../../../src/tenants/tenant-context.js';
import { cli } from '../../mcp/support.js';
import type { TestApp } from '../../support/test-app.js';
import type { IdJagIdp } from './id-jag-idp.js';
import { basicAuth } from './oauth-client.js';

export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';

export interface CrossAppTenant {
  t: TenantCtx;
  connId: string;
  client: { client_id: string; client_secret: string };
  issuer: string;
  mcp: string;
}

/** A tenant with an OIDC connection to `idp` (ID-JAG issuer unless `idJag: false`) and a confidential client with `grants`. */
export async function crossAppTenant(app: TestApp, idp: IdJagIdp, o: { idJag?: boolean; grants?: string[]; name?: string } = {}): Promise<CrossAppTenant> {
  const t = await app.createTenant();
  const conn = await cli(app, 'idp add-oidc', { tenant: t.slug, issuer: idp.issuer, 'client-id': idp.clientId, 'client-secret': 'idp-secret-0123456789', name: o.name ?? 'Corp' });
  if (o.idJag !== false) await cli(app, 'idp update', { tenant: t.slug, id: String(conn.id), 'id-jag': 'on' });
  const client = (await cli(app, 'client add', { tenant: t.slug, name: 'Agent', grant: o.grants ?? ['jwt-bearer'] })) as { client_id: string; client_secret: string };
  return { t, connId: String(conn.id), client, issuer: `${app.url}/t/${t.slug}`, mcp: `${app.url}/t/${t.slug}/mcp` };
}

/** A local user linked to `sub` at the connection, as an earlier SSO login (or SCIM + first login) leaves it. */
export async function linkedUser(c: CrossAppTenant, sub: string, o: { active?: boolean; email?: string } = {}) {
  const email = o.email ?? `${sub}@example.com`;
  const user = await c.t.db.user.create({
    data: { id: newId('usr'), tenantId: c.t.id, userName: email, userNameKey: email, email, displayName: sub, source: 'manual', active: o.active ?? true },
  });
  await c.t.db.userIdentity.create({ data: { id: newId('uid'), tenantId: c.t.id, userId: user.id, connectionId: c.connId, subject: sub } });
  return user;
}

export { basicAuth };

/** POST to the tenant's token endpoint (of `base`, default the app) with client_secret_basic. */
export async function tokenCall(app: TestApp, c: CrossAppTenant, form: Record<string, string | string[]>, base = app.url) {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(form)) for (const x of [v].flat()) body.append(k, x);
  // The app clock stands still in tests: a step per request keeps audit rows in request order.
  app.clock.advance(5);
  const res = await fetch(`${base}/t/${c.t.slug}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(c.client) },
    body,
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

/** The last audit event of `action` in the tenant (after flushing background writes). */
export async function lastAudit(app: TestApp, t: TenantCtx, action: string, otherNodes: Services[] = []) {
  for (const s of [app.services, ...otherNodes]) await s.audit.flush();
  const row = await t.db.auditEvent.findFirst({ where: { action }, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] });
  return row ? { outcome: row.outcome, detail: row.detail as Record<string, unknown> } : null;
}
