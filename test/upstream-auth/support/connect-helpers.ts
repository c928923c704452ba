import { expect } from 'vitest';
import { sessionCookieName } from '../../../src/sessions/session-cookie.js';
import type { TenantCtx } from '../../../src/tenants/tenant-context.js';
import type { TestApp } from '../../support/test-app.js';
import { Browser } from '../../sso/support/browser.js';
import type { UpstreamWithAs } from './upstream-with-as.js';

/** A browser signed in to the tenant as this user (an SSO session, as the login would leave it). */
export async function signedIn(app: TestApp, t: TenantCtx, userId: string): Promise<Browser> {
  const { token } = await app.services.sessions.create(t, { userId });
  const b = new Browser();
  b.cookies(app.url).set(sessionCookieName(app.url, t), token);
  return b;
}

const callbackOf = (app: TestApp, t: TenantCtx) => `${app.url}/t/${t.slug}/upstream-oauth/callback`;

/**
 * Opens the connect page, submits its form and follows the upstream's authorization server until it redirects back
 * to our callback; returns that callback URL without visiting it.
 */
export async function startConnecting(app: TestApp, t: TenantCtx, b: Browser, upstreamName: string, as: UpstreamWithAs, account: string, query = ''): Promise<string> {
  const pageUrl = `${app.url}/t/${t.slug}/connect/${upstreamName}${query}`;
  const page = await b.request(pageUrl);
  const body = await page.text();
  expect(page.status, body.slice(0, 300)).toBe(200);
  const csrf = /name="csrf" value="([^"]+)"/.exec(body)![1]!;
  const action = /<form method="post" action="([^"]+)"/.exec(body)![1]!.replace(/&amp;/g, '&');
  const post = await b.postForm(new URL(action, pageUrl).href, { csrf });
  expect(post.status).toBe(303);
  const authorize = new URL(post.headers.get('location')!);
  expect(authorize.origin).toBe(as.issuer);
  as.nextAccount = account;
  const { res, url } = await b.follow(authorize.href, {}, (u) => u.startsWith(callbackOf(app, t)));
  if (!url.startsWith(callbackOf(app, t))) throw new Error(`the flow stopped at ${url} (${res.status}): ${(await res.text()).slice(0, 500)}`);
  return url;
}

/** The whole connect flow for one user; returns the callback's response. */
export async function connectAccount(app: TestApp, t: TenantCtx, b: Browser, upstreamName: string, as: UpstreamWithAs, account: string): Promise<Response> {
  const callback = await startConnecting(app, t, b, upstreamName, as, account);
  return b.request(callback);
}
