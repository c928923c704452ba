import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createLocalJWKSet, importJWK, jwtVerify, SignJWT, type JWK } from 'jose';
import Provider, { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';

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
  /** `idJag` IdPs: the client id ID-JAGs name (the requesting app's id at the resource AS, as Okta's XAA config says). */
  idJagClientId: string;
  /** `idJag` IdPs: subjects the admin policy refuses ID-JAGs for (`access_denied`). */
  refuseIdJag: Set<string>;
  /** Successful token requests, by grant type (token exchange, refresh_token, authorization_code). */
  grants: string[];
  close(): Promise<void>;
}

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ID_JAG_TYPE = 'urn:ietf:params:oauth:token-type:id-jag';
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';

/** A real corporate OIDC IdP: node-oidc-provider on an ephemeral port, consent pre-granted, login scripted. */
/**
 * `idJag`: the IdP also mints ID-JAGs as Okta XAA does (decision 0027's tests): logins get refresh tokens (offline
 * access), and an RFC 8693 token exchange of an ID token it issued to the client (`requested_token_type` id-jag)
 * answers a signed ID-JAG (`typ: oauth-id-jag+jwt`, `aud` = the requested audience, `client_id` = `idJagClientId`)
 * unless the subject is in `refuseIdJag`. `idTokenTtl` shortens ID tokens (seconds).
 */
export async function startOidcIdp(opts: { tokenAuth?: 'client_secret_basic' | 'client_secret_post'; idJag?: boolean; idTokenTtl?: number } = {}): Promise<TestOidcIdp> {
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
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: redirectUris,
        token_endpoint_auth_method: opts.tokenAuth ?? 'client_secret_basic',
        ...(opts.idJag && { grant_types: ['authorization_code', 'refresh_token', TOKEN_EXCHANGE] }),
      },
    ],
    ...(opts.idJag && {
      scopes: ['openid', 'offline_access', 'email', 'profile'],
      issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
      ...(opts.idTokenTtl && { ttl: { IdToken: opts.idTokenTtl } }),
    }),
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
      grant.addOIDCScope(opts.idJag ? 'openid email profile offline_access' : 'openid email profile');
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
    idJagClientId: '',
    refuseIdJag: new Set(),
    grants: [],
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
  // Likewise our tenants' sign-out pages as post_logout_redirect_uri (RP-Initiated Logout §3: registered at the IdP).
  const proto2 = provider.Client.prototype as unknown as { postLogoutRedirectUriAllowed(v: string): boolean };
  const exactLogout = proto2.postLogoutRedirectUriAllowed;
  proto2.postLogoutRedirectUriAllowed = function (this: unknown, v: string) {
    try {
      if (allowedOrigins.has(new URL(v).origin) && /^\/t\/[^/]+\/logout$/.test(new URL(v).pathname)) return true;
    } catch {
      return false;
    }
    return exactLogout.call(this, v);
  };
  provider.on('grant.success', (ctx) => idp.grants.push(String((ctx.oidc.params as { grant_type?: string }).grant_type)));
  if (opts.idJag) registerIdJagExchange(provider, idp, signingJwk);
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

/** The IdP's XAA side: token exchange of its own ID token (for this client) into an ID-JAG (IDJAG §4.3). */
function registerIdJagExchange(provider: Provider, idp: TestOidcIdp, signingJwk: Record<string, unknown>): void {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = signingJwk;
  const keys = createLocalJWKSet({ keys: [publicJwk as JWK] });
  provider.registerGrantType(
    TOKEN_EXCHANGE,
    async (ctx: KoaContextWithOIDC) => {
      const p = ctx.oidc.params as Record<string, string | undefined>;
      if (p.requested_token_type !== ID_JAG_TYPE || p.subject_token_type !== ID_TOKEN_TYPE || !p.audience) throw new errors.InvalidRequest('unsupported token exchange');
      let sub: string;
      try {
        const { payload } = await jwtVerify(String(p.subject_token), keys, { issuer: idp.issuer, audience: ctx.oidc.client!.clientId });
        sub = String(payload.sub);
      } catch {
        throw new errors.InvalidGrant('subject_token is not a valid ID token of this IdP for this client');
      }
      if (idp.refuseIdJag.has(sub)) throw new errors.AccessDenied('the policy does not assign this app to the user');
      const now = Math.floor(Date.now() / 1000);
      const idJag = await new SignJWT({ sub, aud: p.audience, client_id: idp.idJagClientId, jti: randomBytes(12).toString('hex'), ...(p.resource && { resource: p.resource }), ...(p.scope && { scope: p.scope }) })
        .setProtectedHeader({ alg: 'RS256', kid: String(signingJwk.kid), typ: 'oauth-id-jag+jwt' })
        .setIssuer(idp.issuer)
        .setIssuedAt(now)
        .setExpirationTime(now + 300)
        .sign(await importJWK(signingJwk as JWK, 'RS256'));
      ctx.body = { access_token: idJag, issued_token_type: ID_JAG_TYPE, token_type: 'N_A', expires_in: 300 };
    },
    ['subject_token', 'subject_token_type', 'requested_token_type', 'audience', 'resource', 'scope'],
  );
}
