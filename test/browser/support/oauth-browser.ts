import type { Browser, Page } from 'playwright-core';
import type { TenantCtx } from '../../../src/tenants/tenant-context.js';
import { sessionCookieName } from '../../../src/sessions/session-cookie.js';
import { createUser, mcpUrl, pkce } from '../../oauth/support/oauth-client.js';
import type { TestApp } from '../../support/test-app.js';

/** An authorization request for the tenant's MCP resource with PKCE S256; returns its URL and the code verifier. */
export function authorizeUrl(app: TestApp, t: TenantCtx, clientId: string, redirectUri: string, state: string) {
  const { verifier, challenge } = pkce();
  const params = { client_id: clientId, response_type: 'code', redirect_uri: redirectUri, code_challenge: challenge, code_challenge_method: 'S256', state, resource: mcpUrl(app, t) };
  return { url: `${app.url}/t/${t.slug}/oauth/authorize?${new URLSearchParams(params)}`, verifier };
}

/** A page in a fresh context holding an SSO session for a new user (as the sign-in leaves it). */
export async function signedInPage(app: TestApp, browser: Browser, t: TenantCtx): Promise<Page> {
  const user = await createUser(t, `u${Date.now()}@corp.example`);
  const { token } = await app.services.sessions.create(t, { userId: user.id });
  const context = await browser.newContext();
  await context.addCookies([{ name: sessionCookieName(app.url, t), value: token, url: app.url }]);
  return context.newPage();
}
