import { generateKeyPair, SignJWT, type CryptoKey, type JWTVerifyGetKey } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from '../../src/sso/connections/manage-connections.js';
import { RefusedToken } from '../../src/oauth/cross-app/jwt-checks.js';
import { verifyIdJag, type IdJagExpectations } from '../../src/oauth/cross-app/verify-id-jag.js';

/**
 * Each ID-JAG check on its own (issue 18): a token that passes every other check and fails exactly one, with the
 * refusal reason pinned so a test cannot pass because an earlier check refused instead. Pure: keys in memory, the
 * tenant's trusted-IdP lookup is a function.
 */
const ISS = 'https://idp.example.com';
const ISSUER = 'https://sso.example.com/t/acme';
const RESOURCE = 'https://sso.example.com/t/acme/mcp';
const now = new Date('2026-06-01T12:00:00Z');
const t = Math.floor(now.getTime() / 1000);
const conn = { id: 'c1', name: 'idp', kind: 'oidc', issuer: ISS, secretId: null, updatedAt: now, config: {} } as unknown as Connection;

let key: CryptoKey;
let otherKey: CryptoKey;
let keys: JWTVerifyGetKey;

beforeAll(async () => {
  const kp = await generateKeyPair('ES256');
  key = kp.privateKey;
  otherKey = (await generateKeyPair('ES256')).privateKey;
  keys = async () => kp.publicKey;
});

const base = () => ({ iss: ISS, sub: 'u-1', jti: 'j-1', client_id: 'client-1', aud: ISSUER, iat: t - 10, exp: t + 290, resource: RESOURCE, scope: 'mcp:tools' });

async function sign(claims: Record<string, unknown>, header: Record<string, unknown> = {}, k: CryptoKey = key): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'oauth-id-jag+jwt', ...header }).sign(k);
}

const expectations = (over: Partial<IdJagExpectations> = {}): IdJagExpectations => ({
  issuer: ISSUER,
  resource: RESOURCE,
  clientId: 'client-1',
  now,
  trustedIdp: async (iss) => (iss === ISS ? { conn, keys } : null),
  ...over,
});

async function refusal(assertion: string, over: Partial<IdJagExpectations> = {}): Promise<string> {
  try {
    await verifyIdJag(assertion, expectations(over));
  } catch (err) {
    expect(err).toBeInstanceOf(RefusedToken);
    return (err as RefusedToken).reason;
  }
  throw new Error('accepted');
}

describe('verifyIdJag: each guard on its own', () => {
  it('accepts a well-formed ID-JAG and returns its claims, connection and scopes', async () => {
    const v = await verifyIdJag(await sign(base()), expectations());
    expect(v.conn).toBe(conn);
    expect(v.claims.sub).toBe('u-1');
    expect(v.scopes).toEqual(['mcp:tools']);
    const multi = await verifyIdJag(await sign({ ...base(), scope: ' a  b ' }), expectations());
    expect(multi.scopes).toEqual(['a', 'b']);
    const none = await verifyIdJag(await sign({ ...base(), scope: undefined, resource: undefined }), expectations());
    expect(none.scopes).toBeNull();
    const arr = await verifyIdJag(await sign({ ...base(), resource: [RESOURCE], aud: [ISSUER] }), expectations());
    expect(arr.claims.jti).toBe('j-1');
  });

  it('typ: a JWT of another type (an ID token) is refused', async () => {
    expect(await refusal(await sign(base(), { typ: 'JWT' }))).toMatch(/^typ JWT is not oauth-id-jag\+jwt/);
  });

  it('alg: only the allow-list (the header is checked before the keys are fetched)', async () => {
    // A signature that would verify with the IdP's key cannot be produced for HS256; the header alone decides.
    const [, p, s] = (await sign(base())).split('.');
    const h = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'oauth-id-jag+jwt' })).toString('base64url');
    let fetched = false;
    const reason = await refusal(`${h}.${p}.${s}`, { trustedIdp: async () => ((fetched = true), { conn, keys }) });
    expect(reason).toMatch(/^alg HS256 is not allowed/);
    expect(fetched).toBe(false);
  });

  it('issuer: not an ID-JAG issuer trusted by this tenant', async () => {
    expect(await refusal(await sign({ ...base(), iss: 'https://evil.example.com' }, {}, otherKey))).toMatch(/not an ID-JAG issuer trusted/);
  });

  it('signature: signed by another key', async () => {
    expect(await refusal(await sign(base(), {}, otherKey))).toMatch(/^signature not verified/);
  });

  it('iss: the verified payload names another issuer than the connection whose keys verified it', async () => {
    // The lookup trusts the presented iss, but the connection it returns has another issuer (a shared JWKS).
    const other = { ...conn, issuer: 'https://other.example.com' } as Connection;
    expect(await refusal(await sign(base()), { trustedIdp: async () => ({ conn: other, keys }) })).toBe('iss changed between header and payload');
  });

  for (const claim of ['sub', 'jti', 'client_id']) {
    it(`${claim} missing or empty`, async () => {
      expect(await refusal(await sign({ ...base(), [claim]: undefined }))).toBe(`${claim} missing`);
      expect(await refusal(await sign({ ...base(), [claim]: '' }))).toBe(`${claim} missing`);
    });
  }

  it('aud: another tenant', async () => {
    expect(await refusal(await sign({ ...base(), aud: 'https://sso.example.com/t/other' }))).toMatch(/^aud /);
  });

  it('times: expired beyond the skew; lifetime above an hour', async () => {
    expect(await refusal(await sign({ ...base(), iat: t - 400, exp: t - 61 }))).toBe('expired');
    expect(await refusal(await sign({ ...base(), iat: t - 10, exp: t - 10 + 3601 }))).toMatch(/^lifetime 3601 s exceeds 3600 s/);
    await expect(verifyIdJag(await sign({ ...base(), iat: t - 10, exp: t - 10 + 3600 }), expectations())).resolves.toBeTruthy();
    await expect(verifyIdJag(await sign({ ...base(), iat: t - 100, exp: t - 59 }), expectations())).resolves.toBeTruthy();
  });

  it('client_id: minted for another client of ours', async () => {
    expect(await refusal(await sign({ ...base(), client_id: 'client-2' }))).toBe('client_id client-2 is not the authenticated client');
  });

  it('resource: another resource, as a string or a one-element array; two resources refused', async () => {
    expect(await refusal(await sign({ ...base(), resource: 'https://sso.example.com/t/other/mcp' }))).toMatch(/^resource /);
    expect(await refusal(await sign({ ...base(), resource: ['https://sso.example.com/t/other/mcp'] }))).toMatch(/^resource /);
    expect(await refusal(await sign({ ...base(), resource: [RESOURCE, RESOURCE] }))).toMatch(/^resource /);
  });

  it('cnf and authorization_details: refused, each on its own', async () => {
    expect(await refusal(await sign({ ...base(), cnf: { jkt: 'x' } }))).toBe('cnf-bound ID-JAGs are not supported');
    expect(await refusal(await sign({ ...base(), authorization_details: [] }))).toBe('authorization_details are not supported');
  });

  it('scope: not a string', async () => {
    expect(await refusal(await sign({ ...base(), scope: ['mcp:tools'] }))).toBe('scope is not a string');
  });
});
