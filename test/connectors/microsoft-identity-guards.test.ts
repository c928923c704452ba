import { AuthError, InteractionRequiredAuthError } from '@azure/msal-node';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { ConnectorRow } from '../../src/connectors/connector-store.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';

/**
 * Whom a Microsoft tool acts as (issue 18): the calling user's own stored Entra sign-in, in their home tenant, for our
 * app registration only, and cached tokens never shared across users, tenants, connector versions or sign-ins. The
 * vault rows, the stored token and msal are stand-ins (msal answers with tokens naming what it was given), so each
 * test isolates one guard; the real msal against the fake Entra is proven in test/connectors/microsoft-*.test.ts.
 */
interface Stored {
  secretId: string;
  tid: string;
  clientId: string;
  refreshToken: string;
}
const h = vi.hoisted(() => ({ stored: new Map<string, Stored>(), msal: [] as string[], deleted: [] as unknown[], rotated: null as string | null, rotations: [] as string[], noExpiry: false, rowOnly: false, assertionNoExpiry: false, loads: 0, goneAfter: Infinity, clientError: null as unknown, refreshError: null as unknown, opts: [] as unknown[], rows: new Map<string, { id: string; updatedAt: number }[]>() }));
vi.mock('../../src/connectors/microsoft/entra-token-store.js', () => ({
  ENTRA_TOKEN_OWNER: 'entra-refresh-token',
  loadEntraToken: async (_s: unknown, t: { id: string }, userId: string) => (h.rowOnly || ++h.loads > h.goneAfter ? null : (h.stored.get(`${t.id}/${userId}`) ?? null)),
  rotateEntraToken: async (_s: unknown, _t: unknown, stored: { secretId: string }, rt: string) => void h.rotations.push(`${stored.secretId}→${rt}`),
  deleteEntraTokens: async (_t: unknown, w: unknown) => void h.deleted.push(w),
}));
vi.mock('../../src/connectors/microsoft/msal-client.js', () => ({
  refreshTokenInCache: () => h.rotated,
  msalClient: async (_config: unknown, _cred: unknown, tid: string) => {
    if (h.clientError) throw h.clientError;
    return {
    acquireTokenByRefreshToken: async ({ refreshToken, scopes, ...opts }: { refreshToken: string; scopes: string[] }) => {
      h.msal.push(`refresh ${refreshToken} @${tid}`);
      h.opts.push(opts);
      expect(scopes).toEqual(['api://app-1/access_as_user']);
      if (h.refreshError) throw h.refreshError;
      if (refreshToken === 'rt-empty') return { accessToken: '' };
      if (refreshToken === 'rt-null') return null;
      return { accessToken: `assertion(${refreshToken})`, expiresOn: h.noExpiry || h.assertionNoExpiry ? undefined : new Date(now + 3600_000) };
    },
    acquireTokenOnBehalfOf: async ({ oboAssertion, scopes, ...opts }: { oboAssertion: string; scopes: string[] }) => {
      h.msal.push(`obo ${oboAssertion} @${tid}`);
      h.opts.push(opts);
      if (scopes.some((x) => x.endsWith('/Null'))) return null;
      const { MicrosoftToolFailure: F } = await import('../../src/connectors/microsoft/microsoft-failure.js');
      if (scopes.some((x) => x.endsWith('/Fail.SignIn'))) throw new F('reauth_required', 'sign in again', { kind: 'sign_in', url: 'x' });
      if (scopes.some((x) => x.endsWith('/Fail.Retry'))) throw new F('microsoft_unavailable', 'retry', { kind: 'retry' });
      if (scopes.some((x) => x.endsWith('/Empty'))) return { accessToken: '' };
      return { accessToken: `graph(${oboAssertion} ${scopes.join(' ')} @${tid})`, expiresOn: h.noExpiry ? undefined : new Date(now + 3600_000) };
    },
    };
  },
}));
const { MicrosoftTokenCache } = await import('../../src/connectors/microsoft/microsoft-tokens.js');
const { MicrosoftToolFailure } = await import('../../src/connectors/microsoft/microsoft-failure.js');

let now = Date.parse('2026-06-01T12:00:00Z');
let listener: (e: Record<string, unknown>) => void;
const s = {
  clock: { now: () => new Date(now) },
  bus: { subscribe: (fn: typeof listener) => void (listener = fn) },
  vault: { getString: async () => JSON.stringify({ kind: 'secret', secret: 'app-secret-value-1234' }) },
  egress: { fetch: (url: string | URL, init?: RequestInit) => fetch(url, init) },
};
const tenant = (id: string) =>
  ({
    id,
    db: {
      vaultSecret: {
        findFirst: async ({ where, orderBy }: { where: { ownerKind: string; userId: string }; orderBy?: { updatedAt?: string } }) => {
          // Several rows (sign-ins) per user, oldest first as a table scan would return them; orderBy as in SQL.
          const rows = h.rows.get(`${id}/${where.userId}`);
          if (rows && where.ownerKind === 'entra-refresh-token') {
            const sorted = orderBy?.updatedAt === 'desc' ? [...rows].sort((a, b) => b.updatedAt - a.updatedAt) : rows;
            return { id: sorted[0]!.id };
          }
          const st = h.stored.get(`${id}/${where.userId}`);
          return st && where.ownerKind === 'entra-refresh-token' ? { id: st.secretId } : null;
        },
      },
    },
  }) as unknown as TenantCtx;
const connector = (over: Partial<ConnectorRow> = {}) =>
  ({
    id: 'con-ms',
    secretId: 'sec-app',
    updatedAt: new Date('2026-05-01T00:00:00Z'),
    config: { clientId: 'app-1', cloud: 'global', authorityHost: 'https://login.test', graphEndpoint: 'https://graph.test', credential: 'secret', apiScope: 'api://app-1/access_as_user' },
    ...over,
  }) as unknown as ConnectorRow;
const links = { signIn: 'https://sso.test/t/acme/login', adminConsent: (tid: string) => `https://login.test/${tid}/adminconsent` };
const A = tenant('ten-a');
const B = tenant('ten-b');

beforeEach(() => {
  now = Date.parse('2026-06-01T12:00:00Z');
  h.stored = new Map([
    ['ten-a/alice', { secretId: 'v-alice', tid: 'entra-home-1', clientId: 'app-1', refreshToken: 'rt-alice' }],
    ['ten-a/bob', { secretId: 'v-bob', tid: 'entra-home-2', clientId: 'app-1', refreshToken: 'rt-bob' }],
    ['ten-b/alice', { secretId: 'v-alice-b', tid: 'entra-home-9', clientId: 'app-1', refreshToken: 'rt-alice-b' }],
  ]);
  h.msal = [];
  h.deleted = [];
  h.rotated = null;
  h.rotations = [];
  h.noExpiry = false;
  h.rowOnly = false;
  h.assertionNoExpiry = false;
  h.loads = 0;
  h.goneAfter = Infinity;
  h.clientError = null;
  h.refreshError = null;
  h.opts = [];
  h.rows = new Map();
});
const failureOf = async (p: Promise<unknown>) => {
  const err = await p.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(MicrosoftToolFailure);
  return err as InstanceType<typeof MicrosoftToolFailure>;
};

describe('Microsoft tools: whose Entra identity', () => {
  it('the caller’s own stored sign-in, redeemed and exchanged in their home tenant for the tool’s permissions', async () => {
    const c = new MicrosoftTokenCache(s as never);
    expect(await c.graphToken(A, connector(), 'alice', ['Mail.Read', 'Calendars.Read'], links)).toBe('graph(assertion(rt-alice) https://graph.test/Calendars.Read https://graph.test/Mail.Read @entra-home-1)');
    expect(h.msal).toEqual(['refresh rt-alice @entra-home-1', 'obo assertion(rt-alice) @entra-home-1']);
    expect(await c.graphToken(A, connector(), 'bob', ['Mail.Read'], links)).toBe('graph(assertion(rt-bob) https://graph.test/Mail.Read @entra-home-2)');
  });

  it('a user without a stored sign-in gets "sign in" (never another user’s token)', async () => {
    const c = new MicrosoftTokenCache(s as never);
    const err = await c.graphToken(A, connector(), 'carol', ['Mail.Read'], links).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MicrosoftToolFailure);
    expect([(err as InstanceType<typeof MicrosoftToolFailure>).failure, (err as InstanceType<typeof MicrosoftToolFailure>).action]).toEqual(['not_signed_in', { kind: 'sign_in', url: links.signIn }]);
    expect(h.msal).toEqual([]);
  });

  it('a sign-in stored for another app registration is not used', async () => {
    h.stored.set('ten-a/alice', { ...h.stored.get('ten-a/alice')!, clientId: 'app-other' });
    const c = new MicrosoftTokenCache(s as never);
    const err = (await c.graphToken(A, connector(), 'alice', ['Mail.Read'], links).catch((e: unknown) => e)) as InstanceType<typeof MicrosoftToolFailure>;
    expect([err.failure, err.action?.kind]).toEqual(['reauth_required', 'sign_in']);
    expect(h.msal).toEqual([]);
  });

  it('cached tokens are per tenant, user, connector version and stored sign-in; reused within their lifetime', async () => {
    const c = new MicrosoftTokenCache(s as never);
    const first = await c.graphToken(A, connector(), 'alice', ['Mail.Read'], links);
    expect(await c.graphToken(A, connector(), 'alice', ['Mail.Read'], links)).toBe(first);
    expect(h.msal).toHaveLength(2);
    expect(await c.graphToken(B, connector(), 'alice', ['Mail.Read'], links)).toContain('rt-alice-b');
    expect(await c.graphToken(A, connector(), 'bob', ['Mail.Read'], links)).toContain('rt-bob');
    h.msal = [];
    // A new sign-in (another vault row) or a changed connector starts afresh.
    h.stored.set('ten-a/alice', { secretId: 'v-alice-2', tid: 'entra-home-1', clientId: 'app-1', refreshToken: 'rt-alice-2' });
    expect(await c.graphToken(A, connector(), 'alice', ['Mail.Read'], links)).toContain('rt-alice-2');
    expect(await c.graphToken(A, connector({ updatedAt: new Date('2026-05-02T00:00:00Z') }), 'alice', ['Mail.Read'], links)).toContain('rt-alice-2');
    expect(h.msal).toEqual(['refresh rt-alice-2 @entra-home-1', 'obo assertion(rt-alice-2) @entra-home-1', 'refresh rt-alice-2 @entra-home-1', 'obo assertion(rt-alice-2) @entra-home-1']);
    // A token within two minutes of its expiry is not handed out (the edge included).
    h.msal = [];
    now += 3600_000 - 120_001;
    await c.graphToken(A, connector(), 'alice', ['Mail.Read'], links);
    expect(h.msal).toHaveLength(0);
    now += 1;
    await c.graphToken(A, connector(), 'alice', ['Mail.Read'], links);
    expect(h.msal).toHaveLength(2);
  });

  it('without an expiry from Entra a token counts five minutes', async () => {
    h.noExpiry = true;
    const c = new MicrosoftTokenCache(s as never);
    await c.graphToken(A, connector(), 'alice', ['Mail.Read'], links);
    now += 300_000 - 120_001;
    await c.graphToken(A, connector(), 'alice', ['Mail.Read'], links);
    expect(h.msal).toHaveLength(2);
    now += 1;
    await c.graphToken(A, connector(), 'alice', ['Mail.Read'], links);
    expect(h.msal).toHaveLength(4);
  });

  it('a vault row whose token is gone meanwhile is "sign in"; a connector without credentials is refused', async () => {
    h.rowOnly = true;
    expect((await failureOf(new MicrosoftTokenCache(s as never).graphToken(A, connector(), 'alice', ['Mail.Read'], links))).failure).toBe('not_signed_in');
    h.rowOnly = false;
    expect((await failureOf(new MicrosoftTokenCache(s as never).graphToken(A, connector({ secretId: null }), 'alice', ['Mail.Read'], links))).failure).toBe('credentials_invalid');
  });

  it('an empty answer from Entra is "retry", for the assertion and for the Graph token', async () => {
    h.stored.set('ten-a/alice', { ...h.stored.get('ten-a/alice')!, refreshToken: 'rt-empty' });
    const f1 = await failureOf(new MicrosoftTokenCache(s as never).graphToken(A, connector(), 'alice', ['Mail.Read'], links));
    expect([f1.failure, f1.action]).toEqual(['microsoft_unavailable', { kind: 'retry' }]);
    const f2 = await failureOf(new MicrosoftTokenCache(s as never).graphToken(A, connector(), 'bob', ['Empty'], links));
    expect([f2.failure, f2.action]).toEqual(['microsoft_unavailable', { kind: 'retry' }]);
  });

  it('a rotated refresh token is stored, an unchanged one is not', async () => {
    h.rotated = 'rt-alice';
    await new MicrosoftTokenCache(s as never).graphToken(A, connector(), 'alice', ['Mail.Read'], links);
    expect(h.rotations).toEqual([]);
    h.rotated = 'rt-alice-next';
    await new MicrosoftTokenCache(s as never).graphToken(A, connector(), 'alice', ['Mail.Read'], links);
    expect(h.rotations).toEqual(['v-alice→rt-alice-next']);
  });

  it('a "sign in again" failure forgets that user’s cached tokens; other failures keep them', async () => {
    const c = new MicrosoftTokenCache(s as never);
    await c.graphToken(A, connector(), 'alice', ['Mail.Read'], links);
    await c.graphToken(A, connector(), 'bob', ['Mail.Read'], links);
    expect(c.size).toBe(4);
    await failureOf(c.graphToken(A, connector(), 'alice', ['Fail.Retry'], links));
    expect(c.size).toBe(4);
    await failureOf(c.graphToken(A, connector(), 'alice', ['Fail.SignIn'], links));
    expect(c.size).toBe(2);
    h.msal = [];
    await c.graphToken(A, connector(), 'bob', ['Mail.Read'], links);
    expect(h.msal).toEqual([]); // bob's kept
    await failureOf(c.graphToken(A, connector(), 'carol', ['Mail.Read'], links));
    expect(c.size).toBe(2);
  });

  it('the bus drops a revoked user’s tokens in that tenant only, and a changed tenant’s', async () => {
    const c = new MicrosoftTokenCache(s as never);
    await c.graphToken(A, connector(), 'alice', ['Mail.Read'], links);
    await c.graphToken(A, connector(), 'bob', ['Mail.Read'], links);
    await c.graphToken(B, connector(), 'alice', ['Mail.Read'], links);
    expect(c.size).toBe(6);
    listener({ type: 'user.revoked', tenantId: 'ten-a', userId: 'alice' });
    expect(c.size).toBe(4);
    listener({ type: 'user.revoked', tenantId: 'ten-b', userId: 'bob' });
    expect(c.size).toBe(4);
    listener({ type: 'tenant.changed', tenantId: 'ten-a' });
    expect(c.size).toBe(2);
    h.msal = [];
    await c.graphToken(B, connector(), 'alice', ['Mail.Read'], links);
    expect(h.msal).toEqual([]); // tenant B's entries are the ones kept
    listener({ type: 'tools.changed', tenantId: 'ten-b' });
    expect(c.size).toBe(0);
    await c.graphToken(A, connector(), 'alice', ['Mail.Read'], links);
    await c.graphToken(A, connector(), 'bob', ['Mail.Read'], links);
    await c.graphToken(B, connector(), 'alice', ['Mail.Read'], links);
    c.forget('ten-a', 'alice');
    expect(c.size).toBe(4);
    h.msal = [];
    await c.graphToken(B, connector(), 'alice', ['Mail.Read'], links);
    await c.graphToken(A, connector(), 'bob', ['Mail.Read'], links);
    expect(h.msal).toEqual([]);
  });
  it('a refresh token Entra refuses for good (msal’s own errors) is deleted; a passing failure keeps it', async () => {
    h.refreshError = new InteractionRequiredAuthError('invalid_grant', 'AADSTS70008: The refresh token has expired');
    const f1 = await failureOf(new MicrosoftTokenCache(s as never).graphToken(A, connector(), 'alice', ['Mail.Read'], links));
    expect([f1.failure, f1.action]).toEqual(['reauth_required', { kind: 'sign_in', url: links.signIn }]);
    expect(h.deleted).toEqual([{ secretId: 'v-alice' }]);
    h.refreshError = new AuthError('invalid_grant', 'AADSTS50173: The provided grant has expired due to it being revoked');
    expect((await failureOf(new MicrosoftTokenCache(s as never).graphToken(A, connector(), 'bob', ['Mail.Read'], links))).failure).toBe('reauth_required');
    expect(h.deleted).toEqual([{ secretId: 'v-alice' }, { secretId: 'v-bob' }]);
    h.deleted = [];
    for (const err of [new AuthError('temporarily_unavailable', 'AADSTS90033'), new AuthError('invalid_client', 'AADSTS7000215'), new InteractionRequiredAuthError('interaction_required', 'AADSTS50076 MFA', '', '', '', '', '{"access_token":{}}')]) {
      h.refreshError = err;
      expect((await failureOf(new MicrosoftTokenCache(s as never).graphToken(A, connector(), 'alice', ['Mail.Read'], links))).failure).not.toBe('reauth_required');
    }
    expect(h.deleted).toEqual([]);
  });

  it('msal refusing to build the client is the same failure mapping (credentials refused → the admin), nothing deleted', async () => {
    h.clientError = new AuthError('invalid_client', 'AADSTS7000215: Invalid client secret provided');
    const f = await failureOf(new MicrosoftTokenCache(s as never).graphToken(A, connector(), 'alice', ['Mail.Read'], links));
    expect(f.failure).toBe('credentials_invalid');
    h.clientError = new InteractionRequiredAuthError('invalid_grant', 'expired');
    expect((await failureOf(new MicrosoftTokenCache(s as never).graphToken(A, connector(), 'alice', ['Mail.Read'], links))).failure).toBe('reauth_required');
    expect(h.deleted).toEqual([]);
  });

  it('msal is asked to redeem the refresh token itself (forceCache) and never to answer OBO from its own cache (skipCache)', async () => {
    await new MicrosoftTokenCache(s as never).graphToken(A, connector(), 'alice', ['Mail.Read'], links);
    expect(h.opts).toEqual([{ forceCache: true }, { skipCache: true }]);
  });

  it('the newest stored sign-in decides the cache key: a new sign-in (newer vault row) starts afresh', async () => {
    h.rows.set('ten-a/alice', [{ id: 'v-old', updatedAt: 1 }, { id: 'v-alice', updatedAt: 2 }]);
    const c = new MicrosoftTokenCache(s as never);
    await c.graphToken(A, connector(), 'alice', ['Mail.Read'], links);
    h.rows.get('ten-a/alice')!.push({ id: 'v-new', updatedAt: 3 });
    h.stored.set('ten-a/alice', { ...h.stored.get('ten-a/alice')!, secretId: 'v-new', refreshToken: 'rt-alice-new' });
    expect(await c.graphToken(A, connector(), 'alice', ['Mail.Read'], links)).toContain('rt-alice-new');
  });

  it('a null answer from msal is "retry", not a crash (assertion and Graph token)', async () => {
    h.stored.set('ten-a/alice', { ...h.stored.get('ten-a/alice')!, refreshToken: 'rt-null' });
    const f1 = await failureOf(new MicrosoftTokenCache(s as never).graphToken(A, connector(), 'alice', ['Mail.Read'], links));
    expect([f1.failure, f1.message]).toEqual(['microsoft_unavailable', 'Microsoft sign-in returned no token. Retry in a minute.']);
    const f2 = await failureOf(new MicrosoftTokenCache(s as never).graphToken(A, connector(), 'bob', ['Null'], links));
    expect([f2.failure, f2.message]).toEqual(['microsoft_unavailable', 'Microsoft sign-in returned no token. Retry in a minute.']);
  });

  it('the stored sign-in deleted between the assertion and the Graph exchange is "sign in", not a crash', async () => {
    h.goneAfter = 1;
    const f = await failureOf(new MicrosoftTokenCache(s as never).graphToken(A, connector(), 'alice', ['Mail.Read'], links));
    expect([f.failure, f.action]).toEqual(['not_signed_in', { kind: 'sign_in', url: links.signIn }]);
  });

  it('an assertion without an expiry from Entra counts five minutes, even when the Graph tokens last longer', async () => {
    h.assertionNoExpiry = true;
    const c = new MicrosoftTokenCache(s as never);
    await c.graphToken(A, connector(), 'alice', ['Mail.Read'], links);
    now += 300_000 - 120_001;
    h.msal = [];
    await c.graphToken(A, connector(), 'alice', ['Calendars.Read'], links);
    expect(h.msal).toEqual(['obo assertion(rt-alice) @entra-home-1']);
    now += 1;
    h.msal = [];
    await c.graphToken(A, connector(), 'alice', ['Files.Read'], links);
    expect(h.msal).toEqual(['refresh rt-alice @entra-home-1', 'obo assertion(rt-alice) @entra-home-1']);
  });

  it('the user is told what to do, with the links (error wording)', async () => {
    h.stored.set('ten-a/alice', { ...h.stored.get('ten-a/alice')!, clientId: 'app-other' });
    const f1 = await failureOf(new MicrosoftTokenCache(s as never).graphToken(A, connector(), 'alice', ['Mail.Read'], links));
    expect(f1.message).toBe(`Your Microsoft sign-in was for another app registration. Sign in again: ${links.signIn}`);
    const f2 = await failureOf(new MicrosoftTokenCache(s as never).graphToken(A, connector({ secretId: null }), 'bob', ['Mail.Read'], links));
    expect(f2.message).toBe("The organisation's Microsoft connector has no credentials. Ask your administrator to add it again.");
  });

  it('at most 10 000 cached tokens: the oldest entry is evicted first', async () => {
    const c = new MicrosoftTokenCache(s as never);
    // One assertion and 9 999 Graph tokens of different permission sets fill the cache exactly.
    for (let i = 0; i < 9_999; i++) await c.graphToken(A, connector(), 'alice', [`P${i}`], links);
    expect(c.size).toBe(10_000);
    h.msal = [];
    await c.graphToken(A, connector(), 'alice', ['P0'], links);
    expect(h.msal).toEqual([]);
    await c.graphToken(A, connector(), 'alice', ['Q'], links);
    expect(c.size).toBe(10_000);
    // The assertion, cached first, made room: the next new permission set redeems the refresh token again.
    await c.graphToken(A, connector(), 'alice', ['R'], links);
    expect(h.msal).toEqual(['obo assertion(rt-alice) @entra-home-1', 'refresh rt-alice @entra-home-1', 'obo assertion(rt-alice) @entra-home-1']);
  }, 60_000);
});
