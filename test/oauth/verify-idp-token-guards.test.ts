import { generateKeyPair, SignJWT, type CryptoKey, type JWTVerifyGetKey } from 'jose';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Connection } from '../../src/sso/connections/manage-connections.js';
import type { Services } from '../../src/services.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { RefusedToken } from '../../src/oauth/cross-app/jwt-checks.js';
import { TOKEN_TYPE } from '../../src/oauth/cross-app/grant-types.js';

/**
 * Each check of an RFC 8693 subject/actor token on its own (issue 18): the tenant's connection lookup and its JWKS are
 * stand-ins (what they return is set per test), so a token that fails exactly one check is refused by that check alone,
 * with the refusal reason pinned. The lookup and the key fetch are proven in id-jag/token-exchange HTTP tests.
 */
const lookup = vi.hoisted(() => ({ conn: null as Connection | null, keys: null as JWTVerifyGetKey | null, asked: [] as string[], loose: false }));
vi.mock('../../src/sso/connections/manage-connections.js', () => ({
  findConnectionByIssuer: async (_t: unknown, kind: string, iss: string) => {
    lookup.asked.push(`${kind} ${iss}`);
    return lookup.conn && (lookup.loose || lookup.conn.issuer === iss) ? lookup.conn : null;
  },
}));
vi.mock('../../src/oauth/cross-app/idp-keys.js', () => ({ idpKeys: async () => lookup.keys }));
const { verifyIdpToken } = await import('../../src/oauth/cross-app/verify-idp-token.js');

const ISS = 'https://login.example.com';
const now = new Date('2026-06-01T12:00:00Z');
const t = Math.floor(now.getTime() / 1000);
const s = {} as Services;
const tenant = {} as TenantCtx;
const connFor = (issuer = ISS, over: { requiredClaims?: Record<string, string>; allowedDomains?: string[] } = {}) =>
  ({
    id: 'c1',
    name: 'idp',
    kind: 'oidc',
    issuer,
    secretId: null,
    updatedAt: now,
    config: { oidc: { clientId: 'our-client', requiredClaims: over.requiredClaims ?? {} }, allowedDomains: over.allowedDomains ?? [] },
  }) as unknown as Connection;

let key: CryptoKey;
let otherKey: CryptoKey;
let keys: JWTVerifyGetKey;
beforeAll(async () => {
  const kp = await generateKeyPair('ES256');
  key = kp.privateKey;
  keys = async () => kp.publicKey;
  otherKey = (await generateKeyPair('ES256')).privateKey;
});
beforeEach(() => {
  lookup.conn = connFor();
  lookup.keys = keys;
  lookup.asked = [];
  lookup.loose = false;
});

const base = () => ({ iss: ISS, sub: 'u-1', aud: 'our-client', iat: t - 10, exp: t + 290 });
const sign = (claims: Record<string, unknown>, header: Record<string, unknown> = {}, k: CryptoKey = key) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'ES256', ...header }).sign(k);
const verify = (token: string, type: string = TOKEN_TYPE.idToken) => verifyIdpToken(s, tenant, token, type, now);

async function refusal(token: string, type: string = TOKEN_TYPE.idToken): Promise<string> {
  try {
    await verify(token, type);
  } catch (err) {
    expect(err).toBeInstanceOf(RefusedToken);
    return (err as RefusedToken).reason;
  }
  throw new Error('accepted');
}

describe('verifyIdpToken: each guard on its own', () => {
  it('accepts an ID token of the tenant’s OIDC IdP (looked up as an OIDC issuer)', async () => {
    const v = await verify(await sign(base(), { typ: 'JWT' }));
    expect(v.conn).toBe(lookup.conn);
    expect(v.claims.sub).toBe('u-1');
    expect(lookup.asked).toEqual([`oidc ${ISS}`]);
    // An access token typed at+jwt is a subject token when the client says it is one.
    await expect(verify(await sign(base(), { typ: 'at+jwt' }), TOKEN_TYPE.accessToken)).resolves.toBeTruthy();
    await expect(verify(await sign(base(), { typ: 'application/at+jwt' }), TOKEN_TYPE.jwt)).resolves.toBeTruthy();
  });

  it('alg outside the allow-list', async () => {
    const [, p, sig] = (await sign(base())).split('.');
    const h = Buffer.from(JSON.stringify({ alg: 'HS256' })).toString('base64url');
    expect(await refusal(`${h}.${p}.${sig}`)).toBe('alg HS256 is not allowed');
  });

  it('typ: an ID-JAG, a logout token or a SET is never a subject token; at+jwt is not an ID token', async () => {
    for (const typ of ['oauth-id-jag+jwt', 'application/oauth-id-jag+jwt', 'logout+jwt', 'SECEVENT+JWT']) {
      expect(await refusal(await sign(base(), { typ }))).toMatch(/^typ .* is not a urn:ietf:params:oauth:token-type:id_token$/);
    }
    // The media-type prefix is stripped only at the start: a typ that merely contains it is not a refused type.
    await expect(verify(await sign(base(), { typ: 'logout+jwtapplication/' }))).resolves.toBeTruthy();
    expect(await refusal(await sign(base(), { typ: 'at+jwt' }))).toBe(`typ at+jwt is not a ${TOKEN_TYPE.idToken}`);
    expect(await refusal(await sign(base(), { typ: 'logout+jwt' }), TOKEN_TYPE.accessToken)).toBe(`typ logout+jwt is not a ${TOKEN_TYPE.accessToken}`);
  });

  it('issuer: not an OIDC IdP of this tenant, or a connection without OIDC settings', async () => {
    lookup.conn = connFor('https://other.example.com');
    expect(await refusal(await sign(base()))).toBe('issuer is not an OIDC IdP of this tenant');
    lookup.conn = { ...connFor(), config: { allowedDomains: [] } } as unknown as Connection;
    expect(await refusal(await sign(base()))).toBe('issuer is not an OIDC IdP of this tenant');
  });

  it('signature by another key', async () => {
    expect(await refusal(await sign(base(), {}, otherKey))).toMatch(/^signature not verified/);
  });

  it('the verified iss differs from the connection whose keys verified it (a lookup stand-in that matches loosely)', async () => {
    // Unreachable with the exact issuer lookup of manage-connections.ts: this is the verifier's own guarantee,
    // independent of how the lookup matches, so it is proven with a lookup that returns another issuer's connection.
    lookup.loose = true;
    lookup.conn = connFor('https://login.example.com/other');
    expect(await refusal(await sign(base()))).toBe('iss changed between header and payload');
  });

  it('sub missing', async () => {
    expect(await refusal(await sign({ ...base(), sub: undefined }))).toBe('sub missing');
  });

  it('aud: must name the configured client; with several audiences azp must be it', async () => {
    expect(await refusal(await sign({ ...base(), aud: 'another-client' }))).toBe('aud "another-client" does not name the configured client');
    expect(await refusal(await sign({ ...base(), aud: undefined }))).toBe('aud null does not name the configured client');
    await expect(verify(await sign({ ...base(), aud: ['our-client'] }))).resolves.toBeTruthy();
    await expect(verify(await sign({ ...base(), aud: ['x', 'our-client'], azp: 'our-client' }))).resolves.toBeTruthy();
    expect(await refusal(await sign({ ...base(), aud: ['x', 'our-client'], azp: 'x' }))).toBe('several audiences and azp is not the configured client');
    expect(await refusal(await sign({ ...base(), aud: ['x', 'our-client'] }))).toBe('several audiences and azp is not the configured client');
  });

  it('times: expired beyond a minute; a lifetime over a day', async () => {
    expect(await refusal(await sign({ ...base(), iat: t - 400, exp: t - 61 }))).toBe('expired');
    await expect(verify(await sign({ ...base(), iat: t - 400, exp: t - 59 }))).resolves.toBeTruthy();
    expect(await refusal(await sign({ ...base(), iat: t - 10, exp: t - 10 + 86_401 }))).toBe('lifetime 86401 s exceeds 86400 s');
    await expect(verify(await sign({ ...base(), iat: t - 10, exp: t - 10 + 86_400 }))).resolves.toBeTruthy();
  });

  it('required claims of the connection (e.g. Entra tid), compared case-insensitively', async () => {
    lookup.conn = connFor(ISS, { requiredClaims: { tid: 'Tenant-A' } });
    await expect(verify(await sign({ ...base(), tid: 'tenant-a' }))).resolves.toBeTruthy();
    expect(await refusal(await sign({ ...base(), tid: 'tenant-b' }))).toBe('claim tid does not match the connection');
    expect(await refusal(await sign(base()))).toBe('claim tid does not match the connection');
    // A missing claim matches no configured value, whatever that value is (no placeholder stands in for it).
    lookup.conn = connFor(ISS, { requiredClaims: { tid: 'Stryker was here!' } });
    expect(await refusal(await sign(base()))).toBe('claim tid does not match the connection');
  });

  it('Google: hd must be an allowed domain (case-insensitive); other issuers need no hd', async () => {
    const google = 'https://accounts.google.com';
    lookup.conn = connFor(google, { allowedDomains: ['acme.com'] });
    await expect(verify(await sign({ ...base(), iss: google, hd: 'ACME.com' }))).resolves.toBeTruthy();
    expect(await refusal(await sign({ ...base(), iss: google, hd: 'evil.com' }))).toBe('hd is not an allowed domain');
    expect(await refusal(await sign({ ...base(), iss: google }))).toBe('hd is not an allowed domain');
    lookup.conn = connFor(google, { allowedDomains: ['stryker was here!'] });
    expect(await refusal(await sign({ ...base(), iss: google }))).toBe('hd is not an allowed domain');
    lookup.conn = connFor(ISS, { allowedDomains: ['acme.com'] });
    await expect(verify(await sign(base()))).resolves.toBeTruthy();
  });
});
