import type { JWTVerifyGetKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CircuitOpenError } from '../../src/lib/circuit-breaker.js';
import { idpKeys } from '../../src/oauth/cross-app/idp-keys.js';
import { findConnectionByIssuer } from '../../src/sso/connections/manage-connections.js';
import { STALE_JWKS_MAX_MS } from '../../src/sso/oidc/guard-idp-fetch.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { Browser, me } from './support/browser.js';
import { startEvilIdp } from './support/evil-oidc-idp.js';
import { cli } from './support/sso-fixtures.js';

type EvilIdp = Awaited<ReturnType<typeof startEvilIdp>>;
/** jose's remote key set: a function that also exposes `reload` (what cache expiry or an unknown kid triggers). */
type RemoteKeys = JWTVerifyGetKey & { reload(): Promise<void> };
/** The key for `kid`, as a JWS verification asks for it (the token's parts are not looked at to pick the key). */
const keyFor = (keys: JWTVerifyGetKey, kid = 'good-key') => keys({ alg: 'RS256', kid }, { payload: '', signature: '' });

describe('circuit breakers around IdP JWKS and token fetches', () => {
  let app: TestApp;
  const idps: EvilIdp[] = [];
  beforeAll(async () => {
    app = await startTestApp('pglite');
  });
  afterAll(async () => {
    for (const idp of idps) await idp.close();
    await app?.close();
  });

  async function tenantWithIdp(): Promise<{ t: TenantCtx; idp: EvilIdp }> {
    const idp = await startEvilIdp();
    idps.push(idp);
    const t = await app.createTenant();
    await cli(app.services, 'idp add-oidc', { tenant: t.slug, issuer: idp.issuer, 'client-id': idp.state.clientId, 'client-secret': 'evil-secret' });
    return { t, idp };
  }

  /** One browser login; the status of the final page and, for a refusal, the reason recorded in the SSO trace. */
  async function login(t: TenantCtx): Promise<{ status: number; reason?: string; signedIn: boolean }> {
    const b = new Browser();
    const { res } = await b.follow(`${app.url}/t/${t.slug}/oidc/login`);
    const page = await res.text();
    const signedIn = (await me(b, app.url, t.slug)).status === 200;
    const traceId = /trc_[0-9a-z]+/.exec(page)?.[0];
    if (res.status === 200 || !traceId) return { status: res.status, signedIn };
    const trace = await cli(app.services, 'sso-trace show', { id: traceId });
    return { status: res.status, reason: String(trace.reason), signedIn };
  }

  it('SSO login: a dead JWKS endpoint opens jwks:<issuer> after 5 failures, fails fast, and a probe after 30 s recovers', async () => {
    const { t, idp } = await tenantWithIdp();
    const healthy = await tenantWithIdp();
    idp.state.jwksStatus = 503;
    for (let i = 0; i < 5; i++) expect(await login(t)).toMatchObject({ status: 400, reason: expect.stringMatching(/^token_rejected:/), signedIn: false });
    expect(idp.state.hits.jwks).toBe(5);
    expect(app.services.idpFetches.isOpen(`jwks:${idp.issuer}`)).toBe(true);
    // Open: refused without asking the IdP for keys, with a clear reason in the trace.
    const refused = await login(t);
    expect(refused).toMatchObject({ status: 502, signedIn: false, reason: expect.stringMatching(/^idp_unavailable:.*circuit open.*retrying in 30 s/) });
    expect(idp.state.hits.jwks).toBe(5);
    // Another IdP is unaffected.
    expect(await login(healthy.t)).toMatchObject({ status: 200, signedIn: true });
    // The IdP is back, but the circuit stays open until its 30 s are over; then one probe closes it.
    idp.state.jwksStatus = 200;
    expect(await login(t)).toMatchObject({ status: 502 });
    app.clock.advance(30_000);
    expect(await login(t)).toMatchObject({ status: 200, signedIn: true });
    expect(idp.state.hits.jwks).toBe(6);
    expect(app.services.idpFetches.isOpen(`jwks:${idp.issuer}`)).toBe(false);
    // Keys already fetched keep signing people in while the endpoint is down again.
    idp.state.jwksStatus = 503;
    expect(await login(t)).toMatchObject({ status: 200, signedIn: true });
  });

  it('SSO login: a dead token endpoint opens oidc:<issuer> and fails fast; a 400 (the IdP is alive) never counts', async () => {
    const { t, idp } = await tenantWithIdp();
    idp.state.tokenStatus = 400;
    for (let i = 0; i < 5; i++) expect(await login(t)).toMatchObject({ status: 400, reason: expect.stringMatching(/^token_rejected:/) });
    expect(app.services.idpFetches.isOpen(`oidc:${idp.issuer}`)).toBe(false);
    idp.state.tokenStatus = 503;
    for (let i = 0; i < 5; i++) expect(await login(t)).toMatchObject({ status: 400, reason: expect.stringMatching(/^token_rejected:/) });
    expect(await login(t)).toMatchObject({ status: 502, reason: expect.stringMatching(/^idp_unavailable:/), signedIn: false });
    expect(idp.state.hits.token).toBe(10);
    idp.state.tokenStatus = 200;
    app.clock.advance(30_000);
    expect(await login(t)).toMatchObject({ status: 200, signedIn: true });
    expect(idp.state.hits.token).toBe(11);
  });

  it('ID-JAG / token exchange / logout keys: fail fast while open, recover, and serve the last good key set meanwhile', async () => {
    const { t, idp } = await tenantWithIdp();
    const conn = (await findConnectionByIssuer(t, 'oidc', idp.issuer))!;
    const keys = (await idpKeys(app.services, t, conn)) as RemoteKeys;
    idp.state.jwksStatus = 503;
    for (let i = 0; i < 5; i++) await expect(keyFor(keys)).rejects.toThrow(/Expected 200 OK/);
    await expect(keyFor(keys)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(idp.state.hits.jwks).toBe(5);
    idp.state.jwksStatus = 200;
    app.clock.advance(30_000);
    expect(await keyFor(keys)).toBeTruthy();
    expect(idp.state.hits.jwks).toBe(6);

    // Down again: every refetch (cache expiry, unknown kid) is answered with the last good set, even while open.
    idp.state.jwksStatus = 503;
    for (let i = 0; i < 5; i++) await keys.reload();
    expect(idp.state.hits.jwks).toBe(11);
    expect(app.services.idpFetches.isOpen(`jwks:${idp.issuer}`)).toBe(true);
    await keys.reload();
    expect(idp.state.hits.jwks).toBe(11);
    expect(await keyFor(keys)).toBeTruthy();
    await expect(keyFor(keys, 'unknown-key')).rejects.toThrow(/no applicable key/i);
    // Not forever: a set older than STALE_JWKS_MAX_MS is no longer trusted in the IdP's place.
    app.clock.advance(STALE_JWKS_MAX_MS);
    await expect(keys.reload()).rejects.toThrow(/Expected 200 OK/);
    await expect(keys.reload()).rejects.toBeInstanceOf(CircuitOpenError);
  });
});
