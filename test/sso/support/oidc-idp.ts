import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import Provider, { type Configuration } from 'oidc-provider';

export interface TestAccount {
  sub: string;
  email?: string;
  name?: string;
  groups?: string[];
  tid?: string;
  /** Defaults to true; false or "false" as an IdP that did not verify the address sends it. */
  email_verified?: boolean | string;
}

export interface TestOidcIdp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  accounts: Map<string, TestAccount>;
  /** The IdP's ID-token signing key (private JWK with its kid), for tests that mint logout tokens the IdP would send. */
  signingJwk: Record<string, unknown>;
  /** Who signs in at the next interaction (login_hint wins when it names a known account). */
  nextAccount: string;
  /** Accept any redirect URI on this origin (our app): tenants are created per test, after the IdP starts. */
  allowOrigin(origin: string): void;
  close(): Promise<void>;
}

/** A real corporate OIDC IdP: node-oidc-provider on an ephemeral port, consent pre-granted, login scripted. */
export async function startOidcIdp(opts: { tokenAuth?: 'client_secret_basic' | 'client_secret_post' } = {}): Promise<TestOidcIdp> {
  const accounts = new Map<string, TestAccount>();
  const redirectUris: string[] = ['http://127.0.0.1/placeholder'];
  const allowedOrigins = new Set<string>();
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'sso-bridge';
  const clientSecret = 'test-secret-0123456789abcdef0123456789';
  const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const signingJwk = { ...signingKey, kid: `k-${Date.now()}`, use: 'sig', alg: 'RS256' };
  const config: Configuration = {
    jwks: { keys: [signingJwk as never] },
    clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: redirectUris, token_endpoint_auth_method: opts.tokenAuth ?? 'client_secret_basic' }],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'groups', 'tid'] },
    findAccount: async (_ctx, id) => {
      const a = accounts.get(id);
      return a ? { accountId: id, claims: async () => ({ email_verified: true, ...a }) } : undefined;
    },
    conformIdTokenClaims: false, // put profile claims into the ID token, as Entra and Google do
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: ['test-cookie-key'] },
    loadExistingGrant: async (ctx) => {
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId! });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
  };
  const provider = new Provider(issuer, config);
  const idp: TestOidcIdp = {
    issuer,
    clientId,
    clientSecret,
    accounts,
    signingJwk,
    nextAccount: '',
    allowOrigin: (origin) => void allowedOrigins.add(origin),
    close: () => new Promise((r) => server.close(() => r())),
  };
  // Exact matching stays on for everything else; only our app's callbacks (any tenant) are added.
  const proto = provider.Client.prototype as unknown as { redirectUriAllowed(v: string): boolean };
  const exact = proto.redirectUriAllowed;
  proto.redirectUriAllowed = function (this: unknown, v: string) {
    try {
      if (allowedOrigins.has(new URL(v).origin) && /\/oidc\/callback$/.test(new URL(v).pathname)) return true;
    } catch {
      return false;
    }
    return exact.call(this, v);
  };
  const callback = provider.callback();
  server.on('request', async (req, res) => {
    if (req.url?.startsWith('/interaction/')) {
      try {
        const details = await provider.interactionDetails(req, res);
        const hint = typeof details.params.login_hint === 'string' && accounts.has(details.params.login_hint) ? details.params.login_hint : idp.nextAccount;
        await provider.interactionFinished(req, res, { login: { accountId: hint } }, { mergeWithLastSubmission: false });
      } catch (err) {
        res.statusCode = 500;
        res.end(String(err));
      }
      return;
    }
    callback(req, res);
  });
  return idp;
}
