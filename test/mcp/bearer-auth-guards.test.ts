import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { AccessTokenInfo, AccessTokenVerifier } from '../../src/oauth/access-token.js';
import { bearerChallenge, checkBearer } from '../../src/mcp/bearer-auth.js';
import { MCP_SCOPE } from '../../src/mcp/mcp-resource.js';
import { ManualClock } from '../../src/lib/clock.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';

/**
 * The MCP resource server's own re-check of what it relies on (issue 18), proven layer by layer: the verifier here
 * is a *lying* one that returns whatever the test says, so each re-check of checkBearer is the only thing standing
 * between the token and access. The real verifier's guards are proven in test/oauth/verify-access-token-guards.test.ts.
 */
const clock = new ManualClock('2026-03-01T12:00:00Z');
const t = { id: 'tenant-a', slug: 'a' } as TenantCtx;
const resource = 'https://sso.example.com/t/a/mcp';
const prm = 'https://sso.example.com/.well-known/oauth-protected-resource/t/a/mcp';
const opts = { resource, resourceMetadataUrl: prm, clock };

const good = (): AccessTokenInfo => ({
  tenantId: t.id,
  userId: 'user-1',
  clientId: 'client-1',
  tokenId: 'jti-1',
  scopes: [MCP_SCOPE],
  audience: resource,
  grantId: 'grant-1',
  issuedAt: new Date(clock.now().getTime() - 60_000),
  expiresAt: new Date(clock.now().getTime() + 60_000),
});

function lyingVerifier(info: AccessTokenInfo | null): AccessTokenVerifier & { calls: [string, string, string][] } {
  const calls: [string, string, string][] = [];
  return { calls, verify: async (tc, token, aud) => (calls.push([tc.id, token, aud]), info) };
}
const req = (authorization?: string, url = '/t/a/mcp') => ({ url, headers: authorization === undefined ? {} : { authorization } }) as IncomingMessage;
const invalid = 'Bearer resource_metadata="' + prm + '", scope="mcp:tools", error="invalid_token", error_description=';

describe('checkBearer: each re-check on its own', () => {
  it('accepts a token the verifier vouches for, passing tenant, the bare token and the resource to it', async () => {
    const v = lyingVerifier(good());
    const out = await checkBearer(req('Bearer abc.DEF-_~+/9=='), t, v, opts);
    expect(out).toEqual({ ok: true, info: { ...good(), userId: 'user-1' } });
    expect(v.calls).toEqual([[t.id, 'abc.DEF-_~+/9==', resource]]);
  });

  it('uses the token the caller already took from the same header, and refuses when that is none', async () => {
    const v = lyingVerifier(good());
    expect((await checkBearer(req('Bearer abc.def'), t, v, { ...opts, token: 'abc.def' })).ok).toBe(true);
    expect(v.calls).toEqual([[t.id, 'abc.def', resource]]);
    // A malformed header gives the caller no token: the same 401 invalid_token as when checkBearer parses it itself.
    const malformed = lyingVerifier(good());
    const out = await checkBearer(req('Bearer not a token'), t, malformed, { ...opts, token: undefined });
    expect(out).toMatchObject({ ok: false, status: 401, body: { error: 'invalid_token' } });
    expect(malformed.calls).toEqual([]);
    // Without the header it is still the bare challenge, whatever was passed.
    expect(await checkBearer(req(), t, lyingVerifier(good()), { ...opts, token: undefined })).toMatchObject({ status: 401, challenge: `Bearer resource_metadata="${prm}", scope="mcp:tools"` });
  });

  it('accepts the scheme in any case and surrounding spaces (RFC 6750 §2.1, RFC 7235 §2.1)', async () => {
    for (const h of ['bearer tok', 'BEARER   tok', 'Bearer tok  ']) {
      const v = lyingVerifier(good());
      expect((await checkBearer(req(h), t, v, opts)).ok).toBe(true);
      expect(v.calls[0]![1]).toBe('tok');
    }
  });

  it('without credentials: 401 and a bare challenge with no error attribute (RFC 6750 §3.1)', async () => {
    const out = await checkBearer(req(), t, lyingVerifier(good()), opts);
    expect(out).toEqual({
      ok: false,
      status: 401,
      challenge: `Bearer resource_metadata="${prm}", scope="mcp:tools"`,
      body: { error: 'invalid_token', error_description: 'An access token is required' },
    });
    expect((await checkBearer(req(''), t, lyingVerifier(good()), opts)).ok).toBe(false);
  });

  it('refuses a token in the query string with 400 invalid_request even with a valid header (RFC 6750 §2.3 not supported)', async () => {
    for (const url of ['/t/a/mcp?access_token=x', '/t/a/mcp?a=1&access_token=', '/t/a/mcp?access_token']) {
      const v = lyingVerifier(good());
      const out = await checkBearer(req('Bearer tok', url), t, v, opts);
      expect(out).toMatchObject({ ok: false, status: 400, body: { error: 'invalid_request' } });
      if (!out.ok) expect(out.challenge).toContain('error="invalid_request", error_description="Send the access token in the Authorization header, never in the URL"');
      expect(v.calls).toHaveLength(0);
    }
    // The words alone (a path segment, another parameter's value) are not a token in the URL.
    for (const url of ['/t/a/mcp?x=access_token', '/t/access_token/mcp', '/t/a/mcp?my_access_token=1']) {
      expect((await checkBearer(req('Bearer tok', url), t, lyingVerifier(good()), opts)).ok).toBe(true);
    }
    const noUrl = { headers: { authorization: 'Bearer tok' } } as IncomingMessage;
    expect((await checkBearer(noUrl, t, lyingVerifier(good()), opts)).ok).toBe(true);
  });

  it('refuses malformed Authorization headers before the verifier sees them', async () => {
    const bad = ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer ', 'Bearertok', 'Bearer tok en', 'Bearer tok"', 'Bearer =tok', 'Bearer tok=x', 'x Bearer tok', 'Bearer tok,', 'Bearer\ttok'];
    for (const h of bad) {
      const v = lyingVerifier(good());
      const out = await checkBearer(req(h), t, v, opts);
      expect(out, h).toEqual({
        ok: false,
        status: 401,
        challenge: `${invalid}"The access token is malformed or not accepted"`,
        body: { error: 'invalid_token', error_description: 'The access token is malformed or not accepted' },
      });
      expect(v.calls, h).toHaveLength(0);
    }
  });

  it('without a verifier (the tenant has no authorization server yet) every token is refused', async () => {
    const out = await checkBearer(req('Bearer tok'), t, undefined, opts);
    expect(out).toMatchObject({ ok: false, status: 401, body: { error: 'invalid_token' } });
  });

  const refusedAsInvalid = async (info: AccessTokenInfo | null) => {
    const out = await checkBearer(req('Bearer tok'), t, lyingVerifier(info), opts);
    expect(out).toEqual({
      ok: false,
      status: 401,
      challenge: `${invalid}"The access token is invalid, expired, revoked, or not for this resource"`,
      body: { error: 'invalid_token', error_description: 'The access token is invalid, expired, revoked, or not for this resource' },
    });
  };

  it('a token the verifier refuses is refused', () => refusedAsInvalid(null));
  it('a token of another tenant is refused even when the verifier vouches for it', () => refusedAsInvalid({ ...good(), tenantId: 'tenant-b' }));
  it('a token for another resource is refused even when the verifier vouches for it', () =>
    refusedAsInvalid({ ...good(), audience: 'https://sso.example.com/t/a/scim/v2' }));

  it('an expired token is refused even when the verifier vouches for it; expiry is exclusive (at exp it is expired)', async () => {
    await refusedAsInvalid({ ...good(), expiresAt: new Date(clock.now().getTime() - 1) });
    await refusedAsInvalid({ ...good(), expiresAt: clock.now() });
    expect((await checkBearer(req('Bearer tok'), t, lyingVerifier({ ...good(), expiresAt: new Date(clock.now().getTime() + 1) }), opts)).ok).toBe(true);
  });

  it('a client-credentials token (no user) is refused: this endpoint acts for people', async () => {
    const out = await checkBearer(req('Bearer tok'), t, lyingVerifier({ ...good(), userId: null, grantId: null }), opts);
    expect(out).toEqual({
      ok: false,
      status: 401,
      challenge: `${invalid}"This endpoint needs a token issued to a user"`,
      body: { error: 'invalid_token', error_description: 'This endpoint needs a token issued to a user' },
    });
  });

  it('a token without the baseline scope gets 403 insufficient_scope listing held and needed scopes once each', async () => {
    const out = await checkBearer(req('Bearer tok'), t, lyingVerifier({ ...good(), scopes: ['openid', 'offline_access', 'openid'] }), opts);
    const description = `The access token lacks the ${MCP_SCOPE} scope`;
    expect(out).toEqual({
      ok: false,
      status: 403,
      challenge: `Bearer resource_metadata="${prm}", scope="openid offline_access ${MCP_SCOPE}", error="insufficient_scope", error_description="${description}"`,
      body: { error: 'insufficient_scope', error_description: description },
    });
    await expect(checkBearer(req('Bearer tok'), t, lyingVerifier({ ...good(), scopes: [] }), opts)).resolves.toMatchObject({ status: 403 });
  });
});

describe('bearerChallenge', () => {
  it('strips quotes and backslashes from auth-param values (RFC 6750 §3: quoted-string)', () => {
    expect(bearerChallenge({ resourceMetadataUrl: 'https://x/"a\\b"', description: 'say "hi"\\', error: 'invalid_token', scopes: ['a"b'] })).toBe(
      'Bearer resource_metadata="https://x/ab", scope="ab", error="invalid_token", error_description="say hi"',
    );
  });
});
