import { newId } from '../../src/lib/ids.js';
import { sessionCookieName } from '../../src/sessions/session-cookie.js';
import { csrfTokenForSessionToken } from '../../src/sessions/csrf.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { createUser } from '../oauth/support/oauth-client.js';
import type { TestApp } from '../support/test-app.js';

export interface SignedIn {
  userId: string;
  token: string;
  cookie: string;
  csrf: string;
}

/** A user with a browser session as an SSO sign-in leaves it (authTime = now on the app's clock). */
export async function signIn(app: TestApp, t: TenantCtx, o: { admin?: boolean; email?: string } = {}): Promise<SignedIn> {
  const user = await createUser(t, o.email);
  if (o.admin) await t.db.user.updateMany({ where: { id: user.id }, data: { isAdmin: true } });
  const { token } = await app.services.sessions.create(t, { userId: user.id, data: { authTime: app.clock.now().toISOString() } });
  return { userId: user.id, token, cookie: `${sessionCookieName(app.url, t)}=${token}`, csrf: csrfTokenForSessionToken(token) };
}

export async function createGroup(t: TenantCtx, name: string, members: string[] = []) {
  const id = newId('grp');
  await t.db.group.create({ data: { id, tenantId: t.id, displayName: name, displayNameKey: name.toLowerCase(), source: 'manual' } });
  if (members.length) await t.db.groupMembership.createMany({ data: members.map((userId) => ({ tenantId: t.id, groupId: id, userId })) });
  return id;
}

/** The admin JSON API over HTTP. */
export function adminApi(app: TestApp, t: TenantCtx, who?: Pick<SignedIn, 'cookie' | 'csrf'>) {
  const base = `${app.url}/t/${t.slug}/api/admin`;
  return {
    get: (path: string) => fetch(`${base}${path}`, { headers: who ? { cookie: who.cookie } : {} }),
    act: (name: string, body: unknown, o: { csrf?: string | null; origin?: string } = {}) =>
      fetch(`${base}/actions/${name}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(who && { cookie: who.cookie }),
          ...(o.csrf !== null && (o.csrf ?? who?.csrf) ? { 'x-csrf-token': (o.csrf ?? who?.csrf)! } : {}),
          ...(o.origin && { origin: o.origin }),
        },
        body: JSON.stringify(body),
      }),
  };
}
