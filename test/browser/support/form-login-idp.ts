import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type Configuration } from 'oidc-provider';

export interface FormLoginIdp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Accept redirect URIs `{origin}/t/{any}/oidc/callback` (tenants are created per test, after the IdP starts). */
  allowOrigin(origin: string): void;
  close(): Promise<void>;
}

const esc = (v: string) => v.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * A corporate OIDC IdP (node-oidc-provider) whose sign-in is a real HTML form a browser fills in: an e-mail field,
 * "Sign in" and "Cancel" (which answers the relying party with `error=access_denied`). Any e-mail signs in; its
 * local part becomes the display name. Consent at the IdP is pre-granted, as a corporate IdP does for its own apps.
 */
export async function startFormLoginIdp(): Promise<FormLoginIdp> {
  const allowed = new Set<string>();
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'sso-bridge-browser';
  const clientSecret = 'browser-test-secret-0123456789abcdef';
  const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const config: Configuration = {
    jwks: { keys: [{ ...key, kid: 'browser-idp', use: 'sig', alg: 'RS256' } as never] },
    clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: ['http://127.0.0.1/placeholder'] }],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub, email: sub, email_verified: true, name: sub.split('@')[0] }) }),
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, i) => `/interaction/${i.uid}` },
    cookies: { keys: ['browser-idp-cookie-key'] },
    ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600 },
    loadExistingGrant: async (ctx) => {
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId! });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
  };
  const provider = new Provider(issuer, config);
  const proto = provider.Client.prototype as unknown as { redirectUriAllowed(v: string): boolean };
  const exact = proto.redirectUriAllowed;
  proto.redirectUriAllowed = function (this: unknown, v: string) {
    const u = URL.parse(v);
    return (u !== null && allowed.has(u.origin) && /^\/t\/[^/]+\/oidc\/callback$/.test(u.pathname)) || exact.call(this, v);
  };
  const callback = provider.callback();
  server.on('request', (req, res) => {
    if (!req.url?.startsWith('/interaction/')) return void callback(req, res);
    const fail = (err: unknown) => void res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err));
    if (req.method === 'GET') {
      provider.interactionDetails(req, res).then((d) => {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html><html lang="en"><title>Corp IdP sign-in</title>
<h1>Corp IdP</h1><form method="post" action="/interaction/${esc(d.uid)}">
<label for="login">Work e-mail</label> <input id="login" name="login" type="email" required autofocus>
<button type="submit" name="action" value="login">Sign in</button>
<button type="submit" name="action" value="cancel" formnovalidate>Cancel</button></form></html>`);
      }, fail);
      return;
    }
    let body = '';
    req.on('data', (c: Buffer) => void (body += c.toString()));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      const result = form.get('action') === 'login' && form.get('login')
        ? { login: { accountId: form.get('login')!.toLowerCase() } }
        : { error: 'access_denied', error_description: 'The user cancelled the sign-in' };
      provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false }).catch(fail);
    });
  });
  return {
    issuer,
    clientId,
    clientSecret,
    allowOrigin: (origin) => void allowed.add(origin),
    close: () => new Promise((r) => server.close(() => r())),
  };
}
