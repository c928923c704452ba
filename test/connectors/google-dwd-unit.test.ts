import { generateKeyPairSync } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ConnectorRow } from '../../src/connectors/connector-store.js';
import { googleApiOptions, loadGoogleapis } from '../../src/connectors/google/google-call.js';
import { googleSubject } from '../../src/connectors/google/google-config.js';
import { requestGoogleToken } from '../../src/connectors/google/google-token.js';
import { GoogleTokenCache } from '../../src/connectors/google/google-tokens.js';
import { parseServiceAccountKey } from '../../src/connectors/google/service-account-key.js';
import { ManualClock } from '../../src/lib/clock.js';
import type { BusSignal } from '../../src/revocation/event-bus.js';
import type { Services } from '../../src/services.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';

/**
 * Domain-wide delegation without a network: whom a caller may be impersonated as, Google's public endpoints as the
 * production defaults (no --api-root, no token_uri), the assertion we sign, and the token cache's lifetime rules on an
 * injected clock. The end-to-end behaviour through the fake Google is in the other google-*.test.ts files.
 */
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const keyJson = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    type: 'service_account',
    project_id: 'p',
    private_key_id: 'kid-1',
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
    client_email: 'sa@p.iam.gserviceaccount.com',
    client_id: '1234567890',
    ...extra,
  });

afterEach(() => vi.restoreAllMocks());

/** The platform fetch as the test spies on it at call time (the egress policy is proven in connector-egress.test.ts). */
const platformFetch = (url: string | URL, init?: RequestInit) => fetch(url, init);

describe('googleSubject: the only Google identity a caller may act as', () => {
  const domains = ['acme.com', 'acme.de'];
  it('the caller\'s own address of a connector domain, trimmed and lower-cased', () => {
    expect(googleSubject(' Alice@ACME.com ', domains)).toBe('alice@acme.com');
    expect(googleSubject('bob.o\'neil@acme.de', domains)).toBe("bob.o'neil@acme.de");
    expect(googleSubject('a_b-c.d@acme.com', domains)).toBe('a_b-c.d@acme.com');
  });

  it('refuses other domains, look-alikes, subdomains, suffix tricks, several @, plus addresses and non-Workspace local parts', () => {
    for (const email of [
      'eve@evil.com', 'eve@evil-acme.com', 'eve@evilacme.com', 'eve@acme.com.evil.com', 'eve@sub.acme.com', 'eve@acme.com.',
      'eve@acme.co', 'eve@acme', 'eve@evil.com@acme.com', 'eve@acme.com@evil.com', '"eve@evil.com"@acme.com', 'alice+ceo@acme.com',
      'alice%evil.com@acme.com', 'ali ce@acme.com', 'alice@acme .com', '.alice@acme.com', 'alice.@acme.com', 'al..ice@acme.com',
      'аlice@acme.com' /* Cyrillic а */, 'alice@аcme.com', 'alice@acme.com\nx', 'alice\u0000@acme.com', '@acme.com', 'acme.com', '', null, undefined,
      `${'a'.repeat(65)}@acme.com`,
    ]) {
      expect(googleSubject(email, domains), String(email)).toBeNull();
    }
  });
});

describe('production defaults: Google\'s public endpoints', () => {
  it('a key without token_uri asks https://oauth2.googleapis.com/token, with the RFC 7523 assertion Google expects', async () => {
    const key = parseServiceAccountKey(keyJson());
    expect(key.token_uri).toBe('https://oauth2.googleapis.com/token');
    const clock = new ManualClock('2026-12-06T03:00:00Z');
    const seen: { url: string; body: URLSearchParams }[] = [];
    vi.spyOn(globalThis, 'fetch').mockImplementation(async (url, init) => {
      seen.push({ url: String(url), body: new URLSearchParams(String(init?.body)) });
      return new Response(JSON.stringify({ access_token: 'ya29.x', expires_in: 3599, token_type: 'Bearer' }), { headers: { 'content-type': 'application/json' } });
    });
    const token = await requestGoogleToken(key, 'alice@acme.com', ['https://www.googleapis.com/auth/gmail.readonly', 'https://www.googleapis.com/auth/gmail.labels'], clock, platformFetch);
    expect(token).toEqual({ accessToken: 'ya29.x', expiresAt: new Date(clock.now().getTime() + 3599_000) });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.url).toBe('https://oauth2.googleapis.com/token');
    expect(seen[0]!.body.get('grant_type')).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');
    const assertion = seen[0]!.body.get('assertion')!;
    expect(decodeProtectedHeader(assertion)).toEqual({ alg: 'RS256', typ: 'JWT', kid: 'kid-1' });
    const { payload } = await jwtVerify(assertion, publicKey, { algorithms: ['RS256'], currentDate: clock.now() });
    expect(payload).toEqual({
      iss: 'sa@p.iam.gserviceaccount.com',
      sub: 'alice@acme.com',
      aud: 'https://oauth2.googleapis.com/token',
      scope: 'https://www.googleapis.com/auth/gmail.readonly https://www.googleapis.com/auth/gmail.labels',
      iat: clock.now().getTime() / 1000,
      exp: clock.now().getTime() / 1000 + 3600,
    });
  });

  it('without --api-root every API goes to its public googleapis.com root; with it, all go to the given root', async () => {
    const google = await loadGoogleapis();
    const token = { accessToken: 'ya29.tok', expiresAt: new Date(Date.now() + 3600_000) };
    const urls: string[] = [];
    const auths: string[] = [];
    const adapter = async (opts: { url: URL | string; headers?: Headers }) => {
      urls.push(String(opts.url).split('?')[0]!);
      auths.push(opts.headers?.get('authorization') ?? '');
      return { data: {}, status: 200, statusText: 'OK', headers: new Headers(), config: opts };
    };
    const run = async (apiRoot: string | undefined) => {
      const o = googleApiOptions(google, { apiRoot }, token, platformFetch);
      await google.gmail({ version: 'v1', ...o }).users.labels.list({ userId: 'me' }, { adapter } as never);
      await google.calendar({ version: 'v3', ...o }).events.list({ calendarId: 'primary' }, { adapter } as never);
      await google.drive({ version: 'v3', ...o }).files.list({}, { adapter } as never);
      await google.admin({ version: 'directory_v1', ...o }).users.list({ customer: 'my_customer' }, { adapter } as never);
    };
    await run(undefined);
    expect(urls.splice(0)).toEqual([
      'https://gmail.googleapis.com/gmail/v1/users/me/labels',
      'https://www.googleapis.com/calendar/v3/calendars/primary/events',
      'https://www.googleapis.com/drive/v3/files',
      'https://admin.googleapis.com/admin/directory/v1/users',
    ]);
    await run('https://www-acme.p.googleapis.com/');
    expect(urls).toEqual([
      'https://www-acme.p.googleapis.com/gmail/v1/users/me/labels',
      'https://www-acme.p.googleapis.com/calendar/v3/calendars/primary/events',
      'https://www-acme.p.googleapis.com/drive/v3/files',
      'https://www-acme.p.googleapis.com/admin/directory/v1/users',
    ]);
    expect(new Set(auths)).toEqual(new Set(['Bearer ya29.tok']));
  });
});

describe('GoogleTokenCache: one token per (tenant, connector, user, scope set), until shortly before it expires', () => {
  function setup() {
    const clock = new ManualClock('2026-12-06T03:00:00Z');
    const listeners: ((e: BusSignal) => void)[] = [];
    const s = { clock, bus: { subscribe: (fn: (e: BusSignal) => void) => void listeners.push(fn) }, vault: { getString: async () => keyJson({ token_uri: 'https://token.example/token' }) }, egress: { fetch: platformFetch } } as unknown as Pick<Services, 'bus' | 'clock' | 'vault' | 'egress'>;
    const subs: string[] = [];
    let n = 0;
    vi.spyOn(globalThis, 'fetch').mockImplementation(async (_url, init) => {
      const assertion = new URLSearchParams(String(init?.body)).get('assertion')!;
      const { payload } = await jwtVerify(assertion, publicKey, { currentDate: clock.now() });
      subs.push(`${String(payload.sub)} ${String(payload.scope)}`);
      return new Response(JSON.stringify({ access_token: `tok${++n}`, expires_in: 3600 }), { headers: { 'content-type': 'application/json' } });
    });
    const cache = new GoogleTokenCache(s);
    const connector: ConnectorRow = { id: 'con1', kind: 'google', config: {}, secretId: 'sec1', lastSync: null, lastSyncAt: null, createdAt: new Date(0), updatedAt: new Date(0) };
    const tA = { id: 'tenA' } as TenantCtx;
    const tB = { id: 'tenB' } as TenantCtx;
    return { clock, cache, connector, tA, tB, subs, emit: (e: BusSignal) => listeners.forEach((l) => l(e)) };
  }
  const R = 'https://www.googleapis.com/auth/gmail.readonly';
  const L = 'https://www.googleapis.com/auth/gmail.labels';

  it('reuses a token for the same user and scope set (in any order), until two minutes before expiry', async () => {
    const { clock, cache, connector, tA, subs } = setup();
    const [a, b] = await Promise.all([cache.get(tA, connector, 'u1', 'alice@acme.com', [R, L]), cache.get(tA, connector, 'u1', 'alice@acme.com', [L, R])]);
    expect(a.accessToken).toBe('tok1');
    expect(b.accessToken).toBe('tok1'); // concurrent misses share one request
    clock.advance((3600 - 120) * 1000 - 1);
    expect((await cache.get(tA, connector, 'u1', 'alice@acme.com', [R, L])).accessToken).toBe('tok1');
    clock.advance(1);
    expect((await cache.get(tA, connector, 'u1', 'alice@acme.com', [R, L])).accessToken).toBe('tok2');
    expect(subs).toEqual([`alice@acme.com ${R} ${L}`, `alice@acme.com ${R} ${L}`]);
  });

  it('another scope set, user, tenant or connector version is another token', async () => {
    const { cache, connector, tA, tB, subs } = setup();
    await cache.get(tA, connector, 'u1', 'alice@acme.com', [R]);
    await cache.get(tA, connector, 'u1', 'alice@acme.com', [R, L]);
    await cache.get(tA, connector, 'u2', 'bob@acme.com', [R]);
    await cache.get(tB, connector, 'u1', 'alice@acme.com', [R]);
    await cache.get(tA, { ...connector, updatedAt: new Date(1) }, 'u1', 'alice@acme.com', [R]);
    expect(subs).toHaveLength(5);
    await cache.get(tA, connector, 'u1', 'alice@acme.com', [R]);
    expect(subs).toHaveLength(5);
  });

  it('drops a revoked user\'s tokens, a tenant\'s on tools.changed, and everything when the bus resumed', async () => {
    const { cache, connector, tA, tB, subs, emit } = setup();
    await cache.get(tA, connector, 'u1', 'alice@acme.com', [R]);
    await cache.get(tA, connector, 'u2', 'bob@acme.com', [R]);
    await cache.get(tB, connector, 'u1', 'alice@acme.com', [R]);
    emit({ type: 'user.revoked', tenantId: 'tenA', userId: 'u1' });
    expect(cache.size).toBe(2);
    await cache.get(tA, connector, 'u2', 'bob@acme.com', [R]);
    expect(subs).toHaveLength(3);
    emit({ type: 'tools.changed', tenantId: 'tenA' });
    expect(cache.size).toBe(1);
    emit({ type: 'bus.resumed' });
    expect(cache.size).toBe(0);
  });

  it('a refused token request is not cached', async () => {
    const { cache, connector, tA } = setup();
    vi.mocked(globalThis.fetch).mockResolvedValueOnce(new Response(JSON.stringify({ error: 'unauthorized_client', error_description: 'Client is unauthorized' }), { status: 401, headers: { 'content-type': 'application/json' } }));
    await expect(cache.get(tA, connector, 'u1', 'alice@acme.com', [R])).rejects.toMatchObject({ code: 'unauthorized_client' });
    expect(cache.size).toBe(0);
    expect((await cache.get(tA, connector, 'u1', 'alice@acme.com', [R])).accessToken).toBe('tok1');
  });
});
