import { randomBytes } from 'node:crypto';
import { importJWK, SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/lib/ids.js';
import { MCP_SCOPE, mcpResourceUrl } from '../../src/mcp/mcp-resource.js';
import { issuerUrl } from '../../src/oauth/oauth-urls.js';
import { loadSigningKeys } from '../../src/oauth/signing-keys.js';
import type { JwtAccessTokenVerifier } from '../../src/oauth/verify-access-token.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { callableToolsCache, type ToolSet } from '../../src/tools/callable-tools-cache.js';
import { testDbKinds } from '../support/databases.js';
import { recordStatements, statementLabel, type StatementRecorder } from '../support/record-statements.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { cli, createUser, startUpstream, type Upstream } from './support.js';

/**
 * What the database sees of the MCP hop (issue 17 §1, §2), counted statement by statement: a user's first request,
 * the first request after `tenant.changed`, and a steady-state tools/call and tools/list, with the round trip each
 * statement was sent in. Every read is one of the
 * hot statements (hot-sql.ts: a named prepared statement on PostgreSQL, no Prisma client runtime), and a cache hit
 * reads nothing at all.
 */
describe.each(testDbKinds)('statements of the MCP hot path (%s)', (kind) => {
  let app: TestApp;
  let upstream: Upstream;
  let t: TenantCtx;
  let rec: StatementRecorder;
  beforeAll(async () => {
    app = await startTestApp(kind);
    upstream = await startUpstream();
    t = await app.createTenant();
    await cli(app, 'upstream add', { tenant: t.slug, name: 'up', url: upstream.url });
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'up__echo' });
    rec = await recordStatements(app);
  });
  afterEach(() => rec.clear());
  afterAll(async () => {
    rec?.stop();
    await app?.services.upstreams.close();
    await upstream?.close();
    await app?.close();
  });

  /** A user with a grant and an access token minted like the authorization server's (RFC 9068). */
  async function userToken(): Promise<string> {
    return (await userWithToken()).token;
  }

  async function userWithToken(): Promise<{ user: string; token: string }> {
    const user = await createUser(t, `${randomBytes(4).toString('hex')}@example.com`);
    const gid = newId('grt');
    await t.db.oidcPayload.create({ data: { tenantId: t.id, model: 'Grant', id: gid, payload: {}, accountId: user, expiresAt: null } });
    const jwk = (await loadSigningKeys(app.services, t)).keys[0]!;
    const iat = Math.floor(app.clock.now().getTime() / 1000) - 10;
    const token = await new SignJWT({ iss: issuerUrl(app.url, t), aud: mcpResourceUrl(app.url, t), iat, exp: iat + 600, jti: randomBytes(8).toString('hex'), tid: t.id, sub: user, client_id: 'c1', gid, scope: MCP_SCOPE })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: jwk.kid })
      .sign(await importJWK(jwk, 'RS256'));
    return { user, token };
  }

  let id = 0;
  async function rpc(token: string, method: string, params?: Record<string, unknown>) {
    const res = await fetch(mcpResourceUrl(app.url, t), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, ...(params && { params }) }),
    });
    const body = (await res.json()) as { result?: { tools?: { name: string }[]; content?: { text: string }[] } };
    expect(res.status).toBe(200);
    return body.result!;
  }

  /** The statements sent since the last clear, by hot statement name (`sql: …` for any other SQL), sorted. */
  const sent = () => rec.sent.map(statementLabel).sort();
  const allPrepared = () => kind !== 'postgres' || rec.sent.every((s) => s.prepared);
  /** The statements sent since the last clear as `round: name`, the round being which sequential round trip it was. */
  const rounds = () => rec.sent.map((s) => `${s.round}: ${statementLabel(s)}`).sort();

  it("a user's first request reads the grant and the user's tools in ONE prepared statement, then reads nothing", async () => {
    await rpc(await userToken(), 'tools/list'); // the tenant, its keys and its catalogue are loaded by an earlier user
    const token = await userToken();
    rec.clear();
    expect((await rpc(token, 'tools/list')).tools!.map((x) => x.name)).toEqual(['up__echo', 'whoami']);
    // Read ahead from the token's claims (decision 0049): before, live_grant ∥ callable_tool_ids.
    expect(rounds()).toEqual(['1: mcp_cold_token']);
    expect(allPrepared()).toBe(true);
    rec.clear();
    expect((await rpc(token, 'tools/list')).tools).toHaveLength(2); // the token and the user's tools were cached
    expect(sent()).toEqual([]);
  });

  it('a steady-state tools/call and tools/list read nothing; the call appends one audit batch', async () => {
    const token = await userToken();
    await rpc(token, 'tools/call', { name: 'up__echo', arguments: { text: 'warm' } }); // the upstream session is opened
    await app.services.audit.flush();
    rec.clear();
    expect((await rpc(token, 'tools/call', { name: 'up__echo', arguments: { text: 'hi' } })).content![0]!.text).toBe('echo: hi');
    expect((await rpc(token, 'tools/list')).tools).toHaveLength(2);
    await app.services.audit.flush();
    expect(sent()).toEqual(['audit_append']);
    expect(allPrepared()).toBe(true);
  });

  /** sent(), without the events' own NOTIFY (published while recording). */
  const reads = () => sent().filter((x) => !x.includes('pg_notify'));
  /** The node's caches that read the tenant and its catalogue ahead after tenant.changed (decision 0057). */
  const tenants = () => app.services.tenants;
  const tools = () => callableToolsCache(app.services);
  async function withoutRefreshAhead(body: () => Promise<void>) {
    tenants().refreshAhead = tools().refreshAhead = false;
    try {
      await body();
    } finally {
      tenants().refreshAhead = tools().refreshAhead = true;
    }
  }

  /** Runs `body`, returning the tool sets the callable-tools cache made ahead meanwhile (its deriveAhead, still called). */
  async function setsMadeAhead(body: () => Promise<void>): Promise<ToolSet[]> {
    const made: ToolSet[] = [];
    const derive = tools().deriveAhead!;
    tools().deriveAhead = (set) => (made.push(set), derive(set));
    try {
      await body();
    } finally {
      tools().deriveAhead = derive;
    }
    return made;
  }

  /** The request reads in ONE round trip exactly `statement`, all prepared; the same request again reads nothing. */
  async function expectOneRoundThenNothing(token: string, statement: string) {
    expect(rounds()).toEqual([`1: ${statement}`]);
    expect(allPrepared()).toBe(true);
    rec.clear();
    await rpc(token, 'tools/list');
    expect(sent()).toEqual([]);
  }

  it('after tenant.changed the node reads the tenant and its catalogue ahead; the next request reads only its token’s grant and tools', async () => {
    const token = await userToken();
    await rpc(token, 'tools/list');
    rec.clear();
    await app.services.bus.publish({ type: 'tenant.changed', tenantId: t.id });
    await tenants().settled();
    await tools().settled();
    // In the background, right after the event (decision 0057): the tenant with its sealed keys, and the catalogue.
    expect(reads()).toEqual(['approved_tools', 'tenant_by_slug']);
    rec.clear();
    expect((await rpc(token, 'tools/list')).tools!.map((x) => x.name)).toEqual(['up__echo', 'whoami']);
    await expectOneRoundThenNothing(token, 'mcp_cold_token');
  });

  it('a request before the read ahead (or on a node that did not hold the tenant): ONE round trip — the tenant with its sealed signing keys, the grant, the catalogue and the user’s tools', async () => {
    const token = await userToken();
    await rpc(token, 'tools/list');
    await withoutRefreshAhead(async () => {
      await app.services.bus.publish({ type: 'tenant.changed', tenantId: t.id });
      rec.clear();
      expect((await rpc(token, 'tools/list')).tools!.map((x) => x.name)).toEqual(['up__echo', 'whoami']);
    });
    // Decision 0043 put the keys with the tenant row; decision 0049 reads the token's grant and tools in that statement
    // too (before: tenant_by_slug, then approved_tools ∥ callable_tool_ids ∥ live_grant).
    await expectOneRoundThenNothing(token, 'mcp_cold_tenant');
  });

  it('a request without a token reads the tenant alone after tenant.changed', async () => {
    const token = await userToken();
    await rpc(token, 'tools/list');
    await withoutRefreshAhead(async () => {
      await app.services.bus.publish({ type: 'tenant.changed', tenantId: t.id });
      rec.clear();
      const res = await fetch(mcpResourceUrl(app.url, t), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(res.status).toBe(401);
    });
    expect(rounds()).toEqual(['1: tenant_by_slug']);
  });

  it("a user's first request with the tenant cached but not its catalogue: ONE round trip, the catalogue in it", async () => {
    await rpc(await userToken(), 'tools/list'); // the tenant and its keys are cached
    const token = await userToken();
    await withoutRefreshAhead(async () => {
      await app.services.bus.publish({ type: 'tools.changed', tenantId: t.id });
      rec.clear();
      expect((await rpc(token, 'tools/list')).tools!.map((x) => x.name)).toEqual(['up__echo', 'whoami']);
    });
    // A statement of its own, not mcp_cold_token with a switch: each keeps its generic plan (cold-read-plans.test.ts).
    await expectOneRoundThenNothing(token, 'mcp_cold_token_catalogue');
  });

  it('tools.changed reads the catalogue ahead and makes the tool sets in use again; the next request reads only its user’s tools', async () => {
    const { user, token } = await userWithToken();
    await rpc(token, 'tools/list');
    const made = await setsMadeAhead(async () => {
      rec.clear();
      await app.services.bus.publish({ type: 'tools.changed', tenantId: t.id });
      await tools().settled();
    });
    expect(reads()).toEqual(['approved_tools']);
    expect(made.map((set) => set.list.map((x) => x.name))).toContainEqual(['up__echo', 'whoami']);
    rec.clear();
    expect((await rpc(token, 'tools/list')).tools).toHaveLength(2);
    expect(sent()).toEqual(['granted_tool_ids']);
    // The user's decision found the set made ahead, its tools/list answer serialised then.
    expect(made).toContain(await tools().toolSet(t, user));
  });

  it('a tools.changed while the catalogue is being read ahead: the next read ahead still makes the sets in use', async () => {
    const { user, token } = await userWithToken();
    await rpc(token, 'tools/list');
    const made = await setsMadeAhead(async () => {
      app.services.bus.deliverLocally({ type: 'tools.changed', tenantId: t.id });
      // One turn of the event loop: the read ahead has started (its catalogue loading, on PostgreSQL not yet answered).
      await new Promise<void>((resolve) => setImmediate(resolve));
      app.services.bus.deliverLocally({ type: 'tools.changed', tenantId: t.id });
      await tools().settled();
    });
    await rpc(token, 'tools/list');
    // The user's set in the catalogue now cached was made ahead, from that catalogue.
    expect(made).toContain(await tools().toolSet(t, user));
  });

  it('nothing is read ahead for a tenant this node did not hold, nor after bus.resumed', async () => {
    const unseen = await app.createTenant();
    const token = await userToken();
    await rpc(token, 'tools/list');
    rec.clear();
    await app.services.bus.publish({ type: 'tenant.changed', tenantId: unseen.id });
    // Another tenant's event leaves this one's entries alone: its next request reads nothing.
    await rpc(token, 'tools/list');
    await app.services.bus.publish({ type: 'bus.resumed' } as never);
    await tenants().settled();
    await tools().settled();
    expect(reads()).toEqual([]);
  });

  it('a settings-only tenant.changed neither opens nor imports the keys again; the token check still reads the key set afresh', async () => {
    const verifier = app.services.accessTokens as JwtAccessTokenVerifier;
    const token = await userToken();
    await rpc(token, 'tools/list');
    const imports = verifier.keyImports.imports;
    await cli(app, 'tenant settings', { tenant: t.slug, 'reconsent-on-new-tools': 'on' });
    await tenants().settled();
    const vault = app.services.vault;
    const open = vault.openString.bind(vault);
    let opened = 0;
    vault.openString = (...a) => (opened++, open(...a));
    try {
      rec.clear();
      await rpc(token, 'tools/list');
    } finally {
      vault.openString = open;
    }
    expect(sent()).toContain('mcp_cold_token'); // the tenant and its sealed keys were read ahead, after the change
    // The sealed row read with the tenant is byte for byte the one opened before the change: not decrypted again.
    expect(opened).toBe(0);
    expect(verifier.keyImports.imports).toBe(imports);
  });
});
