import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/lib/ids.js';
import { coldRead } from '../../src/mcp/cold-read.js';
import { MCP_SCOPE, mcpResourceUrl } from '../../src/mcp/mcp-resource.js';
import { issuerUrl } from '../../src/oauth/oauth-urls.js';
import { loadSigningKeys } from '../../src/oauth/signing-keys.js';
import { JwtAccessTokenVerifier } from '../../src/oauth/verify-access-token.js';
import { changeTenantStatus } from '../../src/tenants/change-tenant-status.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { callableToolsCache } from '../../src/tools/callable-tools-cache.js';
import { testDbKinds } from '../support/databases.js';
import { recordStatements, statementLabel, type StatementRecorder } from '../support/record-statements.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { createUser } from './support.js';

/**
 * The MCP endpoint reads a token's grant and tools ahead, from claims it has not verified yet, in the statement that
 * reads the tenant (src/mcp/cold-read.ts, decision 0049). Each hostile token here must be refused exactly as before,
 * the statement must read nothing of another tenant, and nothing read ahead for a refused token may reach a cache:
 * not the token cache, not the user's tools, not the tenant's catalogue.
 */
describe.each(testDbKinds)('the MCP cold read, against hostile tokens (%s)', (kind) => {
  let app: TestApp;
  let t: TenantCtx;
  let other: TenantCtx;
  let rec: StatementRecorder;
  beforeAll(async () => {
    app = await startTestApp(kind);
    t = await app.createTenant();
    other = await app.createTenant();
    // These cases are the path of a request that finds neither the tenant nor its catalogue cached (the first after
    // tenant.changed on a node that did not read them ahead, decision 0057): no read ahead here.
    app.services.tenants.refreshAhead = false;
    callableToolsCache(app.services).refreshAhead = false;
    rec = await recordStatements(app);
  });
  afterEach(() => rec.clear());
  afterAll(async () => {
    rec?.stop();
    await app?.close();
  });

  const verifier = () => app.services.accessTokens as JwtAccessTokenVerifier;
  const tools = () => callableToolsCache(app.services);
  const nowS = () => Math.floor(app.clock.now().getTime() / 1000);
  const sent = () => rec.sent.map(statementLabel).sort();

  async function userAndGrant(tenant: TenantCtx, data: { revokedBefore?: Date } = {}) {
    const sub = await createUser(tenant, `${randomBytes(4).toString('hex')}@example.com`);
    if (data.revokedBefore) await tenant.db.user.update({ where: { id: sub }, data: { revokedBefore: data.revokedBefore } });
    const gid = newId('grt');
    await tenant.db.oidcPayload.create({ data: { tenantId: tenant.id, model: 'Grant', id: gid, payload: {}, accountId: sub, expiresAt: null } });
    return { sub, gid };
  }

  /** A token for `aud`'s tenant's MCP resource; every claim and the signing key may be overridden. */
  async function sign(aud: TenantCtx, claims: Record<string, unknown>, key?: JWK) {
    const jwk = key ?? (await loadSigningKeys(app.services, aud)).keys[0]!;
    const iat = nowS() - 10;
    return new SignJWT({ iss: issuerUrl(app.url, aud), aud: mcpResourceUrl(app.url, aud), iat, exp: iat + 600, jti: randomBytes(8).toString('hex'), tid: aud.id, client_id: 'c1', scope: MCP_SCOPE, ...claims })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: jwk.kid })
      .sign(await importJWK(jwk, 'RS256'));
  }

  async function list(tenant: TenantCtx, token: string, slug = tenant.slug) {
    const res = await fetch(mcpResourceUrl(app.url, { ...tenant, slug }), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    await res.text();
    return res.status;
  }

  /** Warms `t` (its catalogue, keys) with a valid user, then drops it as `tenant.changed` does on every node. */
  async function afterTenantChanged() {
    expect(await list(t, await sign(t, await userAndGrant(t)))).toBe(200);
    await app.services.bus.publish({ type: 'tenant.changed', tenantId: t.id });
    rec.clear();
  }

  /** Nothing read ahead was kept: no token, no user's tools, no catalogue. */
  function expectNothingCached(token: string, toolEntries: number) {
    expect(verifier().readsLiveState(token)).toBe(true);
    expect(tools().size).toBe(toolEntries);
    expect(tools().hasCatalogue(t)).toBe(false);
  }

  it('a valid token: the one statement, and the token, the tools and the catalogue are cached only once it verified', async () => {
    const token = await sign(t, await userAndGrant(t));
    await afterTenantChanged();
    const before = tools().size;
    expect(await list(t, token)).toBe(200);
    expect(sent()).toEqual(['mcp_cold_tenant']);
    expect(verifier().readsLiveState(token)).toBe(false);
    expect(tools().size).toBe(before + 1);
    expect(tools().hasCatalogue(t)).toBe(true);
  });

  it('a forged token naming another tenant’s grant and user: refused, and the statement reads nothing of that tenant', async () => {
    const theirs = await userAndGrant(other);
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const forged = await sign(t, theirs, { ...(await exportJWK(privateKey)), kid: (await loadSigningKeys(app.services, t)).keys[0]!.kid });
    await afterTenantChanged();
    const entries = tools().size;
    expect(await list(t, forged)).toBe(401);
    expect(sent()).toEqual(['mcp_cold_tenant']);
    expectNothingCached(forged, entries);
    // What the statement read for it, bound to the tenant of the slug: no grant, no tools.
    const cold = await coldRead(app.services, t.slug, forged, verifier());
    expect(cold.t?.id).toBe(t.id);
    expect(cold.prefetched).toMatchObject({ tenantId: t.id, grantId: theirs.gid, subject: theirs.sub, live: null });
    expect(cold.tools).toBeUndefined();
  });

  it('a token signed by another tenant’s key naming this tenant’s real grant: read ahead, refused, nothing kept', async () => {
    const mine = await userAndGrant(t);
    const token = await sign(t, mine, (await loadSigningKeys(app.services, other)).keys[0]!);
    await afterTenantChanged();
    const entries = tools().size;
    expect(await list(t, token)).toBe(401);
    expect(sent()).toEqual(['mcp_cold_tenant']);
    expectNothingCached(token, entries);
    // The statement did find the grant and what the user's decision is made from (no group grants; the catalogue with
    // the built-in tools): the signature alone refused them.
    const cold = await coldRead(app.services, t.slug, token, verifier());
    expect(cold.prefetched?.live).toMatchObject({ accountId: mine.sub, active: true });
    expect(cold.tools).toMatchObject({ subject: mine.sub, granted: [] });
    expect(cold.tools?.catalogue?.map((tool) => tool.name)).toContain('whoami');
  });

  it('another tenant’s genuine token presented to this tenant: refused, nothing kept', async () => {
    const token = await sign(other, await userAndGrant(other));
    await afterTenantChanged();
    const entries = tools().size;
    expect(await list(t, token, t.slug)).toBe(401);
    expectNothingCached(token, entries);
  });

  it('a revoked user’s token whose grant and tools are read ahead: refused, nothing kept', async () => {
    const revoked = await userAndGrant(t, { revokedBefore: new Date((nowS() + 1) * 1000) });
    const token = await sign(t, revoked);
    await afterTenantChanged();
    const entries = tools().size;
    expect(await list(t, token)).toBe(401);
    expect(sent()).toEqual(['mcp_cold_tenant']);
    expectNothingCached(token, entries);
  });

  it('a token whose grant was deleted (revoked): refused, nothing kept', async () => {
    const gone = await userAndGrant(t);
    await t.db.oidcPayload.deleteMany({ where: { model: 'Grant', id: gone.gid } });
    const token = await sign(t, gone);
    await afterTenantChanged();
    const entries = tools().size;
    expect(await list(t, token)).toBe(401);
    expectNothingCached(token, entries);
  });

  it('an expired token: refused without any read ahead, nothing kept', async () => {
    const mine = await userAndGrant(t);
    const token = await sign(t, { ...mine, iat: nowS() - 700, exp: nowS() - 100 });
    await afterTenantChanged();
    const entries = tools().size;
    expect(await list(t, token)).toBe(401);
    expect(sent()).toEqual(['tenant_by_slug']);
    expectNothingCached(token, entries);
  });

  it('a malformed token: refused without any read ahead', async () => {
    await afterTenantChanged();
    const entries = tools().size;
    for (const token of ['abc', 'a.b.c', `x.${Buffer.from('{"gid":1}').toString('base64url')}.y`]) {
      rec.clear();
      expect(await list(t, token)).toBe(401);
      expect(sent().filter((s) => s !== 'tenant_by_slug')).toEqual([]);
    }
    expect(tools().size).toBe(entries);
  });

  it('an unknown slug and a disabled tenant answer 404, reading no grant and keeping nothing', async () => {
    const mine = await userAndGrant(t);
    const token = await sign(t, mine);
    const entries = tools().size;
    expect(await list(t, token, 'no-such-tenant')).toBe(404);
    const gone = await app.createTenant();
    const theirs = await userAndGrant(gone);
    const theirToken = await sign(gone, theirs);
    await changeTenantStatus(app.services, gone.slug, 'disable', { kind: 'admin-cli' });
    rec.clear();
    expect(await list(gone, theirToken)).toBe(404);
    expect(sent()).toEqual(['mcp_cold_tenant']);
    const cold = await coldRead(app.services, gone.slug, theirToken, verifier());
    expect(cold).toEqual({ t: null });
    expect(tools().size).toBe(entries);
    expect(verifier().readsLiveState(theirToken)).toBe(true);
  });

  it('tools read ahead are not installed when an event that drops them arrived after the read started', async () => {
    const mine = await userAndGrant(t);
    const token = await sign(t, mine);
    await afterTenantChanged();
    const cold = await coldRead(app.services, t.slug, token, verifier());
    expect(cold.tools?.subject).toBe(mine.sub);
    const entries = tools().size;
    await app.services.bus.publish({ type: 'user.changed', tenantId: t.id, userId: mine.sub });
    tools().prime(cold.t!, mine.sub, cold.tools!);
    expect(tools().size).toBe(entries);
    expect(tools().hasCatalogue(t)).toBe(false);
  });

  describe('the verifier takes a grant read ahead only for exactly what the verified token names', () => {
    const fresh = () => new JwtAccessTokenVerifier({ config: app.services.config, vault: app.services.vault, bus: app.services.bus, clock: app.clock }, app.services.bus);
    const active = { accountId: '', expiresAt: null, active: true, revokedBefore: null, tokenRevoked: false };
    const jtiOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { jti: string }).jti;
    /** Statements but the key set's (these contexts come from the test, not the tenant directory: no keys with them). */
    const reads = () => sent().filter((x) => x !== 'vault_oldest_secret');

    it('used when tenant, grant, subject and token id match: a read-ahead "no such grant" refuses without a read of its own', async () => {
      const mine = await userAndGrant(t);
      const token = await sign(t, mine);
      rec.clear();
      const prefetched = { tenantId: t.id, grantId: mine.gid, subject: mine.sub, tokenId: jtiOf(token), live: null, readAt: app.services.bus.now() };
      expect(await fresh().verify(t, token, mcpResourceUrl(app.url, t), { prefetched })).toBeNull();
      expect(reads()).toEqual([]);
    });

    it('ignored for another grant, subject, token id or tenant: the grant is read again (here: deleted, so refused)', async () => {
      const mine = await userAndGrant(t);
      const token = await sign(t, mine);
      await t.db.oidcPayload.deleteMany({ where: { model: 'Grant', id: mine.gid } });
      const base = { tenantId: t.id, grantId: mine.gid, subject: mine.sub, tokenId: jtiOf(token), live: { ...active, accountId: mine.sub }, readAt: app.services.bus.now() };
      const variants = [{ ...base, grantId: 'grt_other' }, { ...base, subject: 'usr_other' }, { ...base, tokenId: 'jti_other' }, { ...base, tenantId: other.id }];
      for (const prefetched of variants) {
        rec.clear();
        expect(await fresh().verify(t, token, mcpResourceUrl(app.url, t), { prefetched })).toBeNull();
        expect(reads()).toEqual(['live_grant']);
      }
    });

    it('ignored when an event that drops tokens came after its read started: a revocation in between is seen', async () => {
      const mine = await userAndGrant(t);
      const token = await sign(t, mine);
      const v = fresh();
      const prefetched = { tenantId: t.id, grantId: mine.gid, subject: mine.sub, tokenId: jtiOf(token), live: { ...active, accountId: mine.sub }, readAt: app.services.bus.now() };
      await t.db.oidcPayload.deleteMany({ where: { model: 'Grant', id: mine.gid } });
      await app.services.bus.publish({ type: 'grant.revoked', tenantId: t.id, grantId: mine.gid });
      rec.clear();
      expect(await v.verify(t, token, mcpResourceUrl(app.url, t), { prefetched })).toBeNull();
      expect(reads()).toEqual(['live_grant']);
      expect(v.readsLiveState(token)).toBe(true);
    });
  });
});
