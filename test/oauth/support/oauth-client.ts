import { createHash, randomBytes } from 'node:crypto';
import { newId } from '../../../src/lib/ids.js';
import { sessionCookieName } from '../../../src/sessions/session-cookie.js';
import type { TenantCtx } from '../../../src/tenants/tenant-context.js';
import type { TestApp } from '../../support/test-app.js';

/** A minimal browser for the authorization flow: a cookie jar and manual redirects. */
export class Browser {
  readonly jar = new Map<string, string>();

  cookieHeader(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.jar.size) headers.set('cookie', this.cookieHeader());
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(c) || pair!.slice(i + 1) === '') this.jar.delete(name);
      else this.jar.set(name, pair!.slice(i + 1));
    }
    return res;
  }
}

export async function createUser(t: TenantCtx, email = `${randomBytes(4).toString('hex')}@example.com`) {
  return t.db.user.create({
    data: { id: newId('usr'), tenantId: t.id, userName: email, userNameKey: email.toLowerCase(), email, displayName: email.split('@')[0], source: 'manual' },
  });
}

/** A signed-in browser for the user (as the SSO login would leave it). */
export async function signedInBrowser(app: TestApp, t: TenantCtx, userId: string): Promise<Browser> {
  const b = new Browser();
  const { token } = await app.services.sessions.create(t, { userId });
  b.jar.set(sessionCookieName(app.url, t), token);
  return b;
}

export function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export async function registerClient(app: TestApp, t: TenantCtx, meta: Record<string, unknown> = {}) {
  const res = await fetch(`${app.url}/t/${t.slug}/oauth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'Test MCP client', redirect_uris: ['http://127.0.0.1:4567/callback'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], ...meta }),
  });
  if (res.status !== 201) throw new Error(`registration failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as { client_id: string; redirect_uris: string[]; client_secret?: string };
}

export interface AuthorizeResult {
  /** The final redirect to the client (null if the flow stopped on a page). */
  redirect: URL | null;
  /** Responses seen on the way (for assertions on pages). */
  pages: { url: string; status: number; body: string; headers: Headers }[];
}

/**
 * Drives GET /authorize through the interaction: follows redirects on our own origin, approves (or denies) the
 * consent page by submitting its form, and stops at the first redirect that leaves our origin.
 */
export async function authorize(app: TestApp, b: Browser, params: Record<string, string>, t: TenantCtx, decision: 'approve' | 'deny' = 'approve'): Promise<AuthorizeResult> {
  let url = `${app.url}/t/${t.slug}/oauth/authorize?${new URLSearchParams(params)}`;
  let init: RequestInit = {};
  const pages: AuthorizeResult['pages'] = [];
  for (let hop = 0; hop < 20; hop++) {
    const res = await b.fetch(url, init);
    init = {};
    const location = res.headers.get('location');
    if (location && res.status >= 300 && res.status < 400) {
      const next = new URL(location, url);
      if (next.origin !== app.url) return { redirect: next, pages };
      url = next.href;
      continue;
    }
    const body = await res.text();
    pages.push({ url, status: res.status, body, headers: res.headers });
    const csrf = /name="csrf" value="([^"]+)"/.exec(body)?.[1];
    const action = /<form method="post" action="([^"]+)"/.exec(body)?.[1];
    if (res.status !== 200 || !csrf || !action) return { redirect: null, pages };
    url = new URL(action.replace(/&#38;/g, '&'), url).href;
    init = { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf, decision }).toString() };
  }
  throw new Error('too many redirects');
}

export async function tokenRequest(app: TestApp, t: TenantCtx, form: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(`${app.url}/t/${t.slug}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, string> };
}

/** client_secret_basic: RFC 6749 §2.3.1 form-urlencodes id and secret before base64. */
export const basicAuth = (client: { client_id: string; client_secret: string }) =>
  `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString('base64')}`;

export const mcpUrl = (app: TestApp, t: TenantCtx) => `${app.url}/t/${t.slug}/mcp`;

/** The whole code flow for a fresh DCR client (or `registered`, for many users): returns the client and the token response. */
export async function obtainTokens(app: TestApp, t: TenantCtx, userId: string, registered?: Awaited<ReturnType<typeof registerClient>>) {
  const client = registered ?? (await registerClient(app, t));
  const b = await signedInBrowser(app, t, userId);
  const { verifier, challenge } = pkce();
  const redirectUri = client.redirect_uris[0]!;
  const { redirect } = await authorize(app, b, {
    client_id: client.client_id, response_type: 'code', redirect_uri: redirectUri, code_challenge: challenge,
    code_challenge_method: 'S256', state: 'st', resource: mcpUrl(app, t),
  }, t);
  const code = redirect?.searchParams.get('code');
  if (!code) throw new Error(`no code: ${redirect}`);
  // A confidential client (registered with client_secret_basic) authenticates; a public one names itself.
  const auth: Record<string, string> = client.client_secret ? { authorization: basicAuth({ client_id: client.client_id, client_secret: client.client_secret }) } : {};
  const tokens = await tokenRequest(app, t, { grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: client.client_id, code_verifier: verifier }, auth);
  return { client, tokens, browser: b };
}
