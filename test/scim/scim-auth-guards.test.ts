import type { Request, Response } from 'express';
import { describe, expect, it } from 'vitest';
import { hashToken } from '../../src/lib/secrets.js';
import type { AccessTokenInfo, AccessTokenVerifier } from '../../src/oauth/access-token.js';
import { presentedToken, principalOf, scimAuth, scimVerifiers, type ScimCredentialVerifier } from '../../src/scim/scim-auth.js';
import { ScimError } from '../../src/scim/scim-error.js';
import type { Services } from '../../src/services.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';

/**
 * The SCIM credential check layer by layer (issue 18). The token stores and the access-token verifier are stand-ins
 * that vouch for whatever the test says, so each guard of scim-auth.ts is the only thing between a caller and the
 * SCIM API; the real stores' own refusals (revoked, other tenant) are proven over HTTP in auth-discovery.test.ts.
 */
const a = { id: 'ten-a', slug: 'a' } as TenantCtx;
const publicUrl = 'https://sso.example.com';
const scimUrl = `${publicUrl}/t/a/scim/v2`;

function info(over: Partial<AccessTokenInfo> = {}): AccessTokenInfo {
  return { tenantId: a.id, userId: null, clientId: 'entra-client', scopes: ['scim'], audience: scimUrl, grantId: null, tokenId: 'jti-1', issuedAt: new Date(0), expiresAt: new Date(8.64e15), ...over };
}

function services(opts: { scimToken?: { id: string } | null; access?: AccessTokenInfo | null | 'absent' }) {
  const access = opts.access === 'absent' ? null : (opts.access ?? null);
  const calls = { scim: [] as [string, string, string][], access: [] as [string, string, string][] };
  const s = {
    config: { publicUrl },
    scimTokens: { verify: async (t: TenantCtx, token: string, hash: string) => (calls.scim.push([t.id, token, hash]), opts.scimToken ?? null) },
    ...(opts.access !== 'absent' && {
      accessTokens: { verify: async (t: TenantCtx, token: string, aud: string) => (calls.access.push([t.id, token, aud]), access) } satisfies AccessTokenVerifier,
    }),
  } as unknown as Services;
  return { s, calls };
}

describe('presentedToken: the credential shapes SCIM clients send', () => {
  it('takes the token of a Bearer header, any case, surrounding whitespace trimmed', () => {
    expect(presentedToken('Bearer abc')).toBe('abc');
    expect(presentedToken('bearer\tabc')).toBe('abc');
    expect(presentedToken('  BEARER   abc  ')).toBe('abc');
  });

  it('takes a bare token (Okta "HTTP Header" mode) of one word up to 4096 characters', () => {
    expect(presentedToken('abc.def')).toBe('abc.def');
    expect(presentedToken(' abc ')).toBe('abc');
    expect(presentedToken('x'.repeat(4096))).toBe('x'.repeat(4096));
  });

  it('refuses a missing header, other schemes, several words, and a bare token over 4096 characters', () => {
    for (const h of [undefined, '', '   ', 'Basic dXNlcjpwYXNz', 'Bearer a b', 'a b', 'token x', 'xBearer tok', 'Basic Bearer tok', 'x'.repeat(4097), `Bearer${'x'.repeat(10)} y`]) {
      expect(presentedToken(h), String(h).slice(0, 30)).toBeNull();
    }
  });

  it('a Bearer token is not bound by the bare-token length (the verifiers bound it)', () => {
    expect(presentedToken(`Bearer ${'x'.repeat(5000)}`)).toBe('x'.repeat(5000));
  });
});

describe('scimVerifiers', () => {
  const run = async (vs: ScimCredentialVerifier[], name: string, t: TenantCtx, token: string) => vs.find((v) => v.name === name)!.verify(t, token);

  it('a SCIM bearer token is looked up in the tenant by its hash', async () => {
    const { s, calls } = services({ scimToken: { id: 'tok-1' } });
    expect(await run(scimVerifiers(s), 'scim-token', a, 'secret')).toEqual({ kind: 'scim-token', id: 'tok-1' });
    expect(calls.scim).toEqual([[a.id, 'secret', hashToken('secret')]]);
    expect(await run(scimVerifiers(services({ scimToken: null }).s), 'scim-token', a, 'secret')).toBeNull();
  });

  it('without an authorization server only SCIM tokens are accepted', () => {
    expect(scimVerifiers(services({ access: 'absent' }).s).map((v) => v.name)).toEqual(['scim-token']);
    expect(scimVerifiers(services({}).s).map((v) => v.name)).toEqual(['scim-token', 'oauth-access-token']);
  });

  it('an OAuth access token is verified for this tenant’s SCIM base URL (RFC 8707) and names its client', async () => {
    const { s, calls } = services({ access: info() });
    expect(await run(scimVerifiers(s), 'oauth-access-token', a, 'at')).toEqual({ kind: 'oauth-client', id: 'entra-client' });
    expect(calls.access).toEqual([[a.id, 'at', scimUrl]]);
  });

  it('refuses an access token the verifier refuses', async () => {
    expect(await run(scimVerifiers(services({ access: null }).s), 'oauth-access-token', a, 'at')).toBeNull();
  });

  it('tenant binding on its own: an access token of another tenant is refused even if a verifier vouches for it', async () => {
    expect(await run(scimVerifiers(services({ access: info({ tenantId: 'ten-b' }) }).s), 'oauth-access-token', a, 'at')).toBeNull();
  });

  it('refuses an access token without the scim scope', async () => {
    for (const scopes of [[], ['mcp:tools'], ['scim:read'], ['openid scim']]) {
      expect(await run(scimVerifiers(services({ access: info({ scopes }) }).s), 'oauth-access-token', a, 'at')).toBeNull();
    }
  });
});

describe('scimAuth middleware', () => {
  const call = async (verifiers: ScimCredentialVerifier[], authorization?: string) => {
    const res = { locals: { tenant: a } } as unknown as Response;
    const req = { headers: authorization === undefined ? {} : { authorization } } as Request;
    let nexted = 0;
    await scimAuth(verifiers)(req, res, () => void nexted++);
    return { res, nexted };
  };
  const fixed = (name: string, answer: string | null, seen: string[] = []): ScimCredentialVerifier => ({
    name,
    verify: async (t, token) => (seen.push(`${name}:${t.id}:${token}`), answer ? { kind: 'scim-token', id: answer } : null),
  });

  it('refuses a request without a usable credential before any verifier runs', async () => {
    const seen: string[] = [];
    await expect(call([fixed('x', 'p', seen)])).rejects.toMatchObject({ status: 401, message: 'Authentication required' });
    await expect(call([fixed('x', 'p', seen)], 'Basic abc')).rejects.toBeInstanceOf(ScimError);
    expect(seen).toEqual([]);
  });

  it('tries verifiers in order with the tenant and token; the first that recognises the token wins', async () => {
    const seen: string[] = [];
    const { res, nexted } = await call([fixed('one', null, seen), fixed('two', 'p2', seen), fixed('three', 'p3', seen)], 'Bearer tok');
    expect(seen).toEqual(['one:ten-a:tok', 'two:ten-a:tok']);
    expect(nexted).toBe(1);
    expect(principalOf(res)).toEqual({ kind: 'scim-token', id: 'p2' });
  });

  it('refuses a token no verifier recognises, and never calls next', async () => {
    let nexted = 0;
    const res = { locals: { tenant: a } } as unknown as Response;
    await expect(scimAuth([fixed('one', null), fixed('two', null)])({ headers: { authorization: 'tok' } } as Request, res, () => void nexted++)).rejects.toMatchObject({
      status: 401,
      message: 'Invalid or revoked token',
    });
    expect(nexted).toBe(0);
    expect(() => principalOf(res)).toThrow(/before scimAuth/);
  });
});
