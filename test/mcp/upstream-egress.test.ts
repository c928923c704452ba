import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { googleApiOptions, loadGoogleapis } from '../../src/connectors/google/google-call.js';
import { msalClient } from '../../src/connectors/microsoft/msal-client.js';
import { Egress, isEgressRefusal, parseNetworks } from '../../src/http/egress.js';
import { deliverAuditSinks } from '../../src/audit/sinks/deliver-sinks.js';
import { findConnectionByIssuer } from '../../src/sso/connections/manage-connections.js';
import { oidcConfig } from '../../src/sso/oidc/oidc-config.js';
import { discoverUpstreamAs } from '../../src/upstream-auth/discover-upstream-as.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { cli, startUpstream, type Upstream } from './support.js';

/** An internal service on loopback that records every request it gets (what an SSRF would reach). */
async function internalService() {
  const seen: { url?: string; headers: http.IncomingHttpHeaders }[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ url: req.url, headers: req.headers });
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ami-id\niam/security-credentials/role');
  });
  // Connections, not only requests: a syslog sink's frames are no HTTP request.
  const connections = { count: 0 };
  server.on('connection', () => connections.count++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { seen, connections, port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('destinations a tenant chooses — upstream MCP servers, the authorization servers they name, IdPs, audit webhooks: special-use addresses are refused (SSRF)', () => {
  let app: TestApp;
  let internal: Awaited<ReturnType<typeof internalService>>;
  let mcp: Upstream;
  beforeAll(async () => {
    // The deployment default: no network admitted (test apps otherwise admit loopback for their fakes).
    app = await startTestApp('pglite', { OUTBOUND_ALLOWED_NETWORKS: '' });
    internal = await internalService();
    mcp = await startUpstream(); // an MCP server meant to be reachable only from the gateway's own host
  });
  afterAll(async () => {
    await app?.services.upstreams.close();
    await mcp?.close();
    await internal?.close();
    await app?.close();
  });

  const add = (tenant: string, name: string, url: string, header?: string[]) =>
    cli(app, 'upstream add', { tenant, name, url, ...(header && { header }) }).then(
      () => null,
      (err: { status?: number; code?: string; message?: string }) => err,
    );

  it('an admin cannot register an upstream on loopback, link-local (cloud metadata) or private addresses, by literal or by name', async () => {
    const t = await app.createTenant();
    for (const [name, url] of [
      ['meta', `http://127.0.0.1:${internal.port}/latest/meta-data/`],
      ['named', `http://localhost:${internal.port}/latest/meta-data/`],
      ['mapped', `http://[::ffff:127.0.0.1]:${internal.port}/x`],
      ['decimal', `http://2130706433:${internal.port}/x`],
      ['sidecar', mcp.url],
      ['imds', 'http://169.254.169.254/latest/meta-data/'],
      ['rfc1918', 'http://10.0.0.1/mcp'],
      ['v6local', 'http://[::1]/mcp'],
    ] as const) {
      const err = await add(t.slug, name, url, ['Metadata-Flavor: Google']);
      expect(err, name).toMatchObject({ status: 422, code: 'upstream_address_refused' });
    }
    // Nothing was sent: not the admin's headers, not an initialize.
    expect(internal.seen).toEqual([]);
    expect(mcp.seen).toEqual([]);
    expect(await t.db.upstream.count()).toBe(0);
  });

  it("an upstream's authorization server on a special-use address is never asked (discovery names it, not the admin)", async () => {
    await expect(discoverUpstreamAs(`http://127.0.0.1:${internal.port}/mcp`, app.services.egress)).rejects.toThrow();
    expect(internal.seen).toEqual([]);
  });

  it('the same holds for the other destinations a tenant admin chooses: SAML metadata, OIDC issuers, audit webhooks', async () => {
    const t = await app.createTenant();
    const base = `http://127.0.0.1:${internal.port}`;
    const saml = await cli(app, 'idp add-saml', { tenant: t.slug, name: 'x', 'metadata-url': `${base}/metadata.xml` }).then(() => null, (e: { status?: number; message?: string }) => e);
    expect(saml).toMatchObject({ status: 400, message: expect.stringMatching(/private, loopback or link-local/) });
    // An OIDC issuer is read at sign-in (discovery): refused there.
    await cli(app, 'idp add-oidc', { tenant: t.slug, name: 'x', issuer: `${base}/oidc`, 'client-id': 'c', 'client-secret': 's' });
    const conn = await findConnectionByIssuer(t, 'oidc', `${base}/oidc`);
    await expect(oidcConfig(app.services, t, conn!)).rejects.toThrow();
    await cli(app, 'audit sink add', { tenant: t.slug, url: `${base}/siem`, 'from-start': true });
    await app.services.audit.flush();
    await deliverAuditSinks(app.services, { timeoutMs: 1_500 });
    const sink = await t.db.auditSink.findFirst();
    expect(sink?.lastError).toMatch(/^refused: a private, loopback or link-local address/);
    expect(internal.seen).toEqual([]);
  });

  it('syslog audit sinks connect only where the policy admits, by literal or by name, plain or TLS', async () => {
    const t = await app.createTenant();
    const before = internal.connections.count;
    for (const url of [`syslog://localhost:${internal.port}`, `syslog://127.0.0.1:${internal.port}`, `syslog+tls://localhost:${internal.port}`, `syslog+tls://[::ffff:127.0.0.1]:${internal.port}`]) {
      await cli(app, 'audit sink add', { tenant: t.slug, url, 'from-start': true });
    }
    await app.services.audit.flush();
    await deliverAuditSinks(app.services, { timeoutMs: 1_500 });
    const sinks = await t.db.auditSink.findMany();
    expect(sinks).toHaveLength(4);
    for (const sink of sinks) expect(sink.lastError, sink.url).toMatch(/^refused: a private, loopback or link-local address/);
    expect(internal.connections.count).toBe(before);
  });
});

describe("a connector's endpoints, which a tenant admin chooses: a Google key's token_uri and API root, a Microsoft authority (SSRF)", () => {
  let app: TestApp;
  let internal: Awaited<ReturnType<typeof internalService>>;
  beforeAll(async () => {
    app = await startTestApp('pglite', { OUTBOUND_ALLOWED_NETWORKS: '' });
    internal = await internalService();
  });
  afterAll(async () => {
    await internal?.close();
    await app?.close();
  });

  it("connector add-google refuses a key whose token_uri is on a special-use address; the signed assertion is never sent", async () => {
    const t = await app.createTenant();
    const privateKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    for (const tokenUri of [`http://127.0.0.1:${internal.port}/token`, `http://localhost:${internal.port}/token`, 'http://169.254.169.254/token']) {
      const key = { type: 'service_account', private_key_id: 'k1', private_key: privateKey, client_email: 'sa@p.iam.gserviceaccount.com', client_id: '1', token_uri: tokenUri };
      const err = await cli(app, 'connector add-google', { tenant: t.slug, 'service-account': JSON.stringify(key), 'admin-email': 'admin@acme.com' }).then(
        () => null,
        (e: { status?: number; message?: string }) => e,
      );
      expect(err, tokenUri).toMatchObject({ status: 400, message: expect.stringMatching(/address_refused/) });
    }
    expect(internal.seen).toEqual([]);
    expect(await t.db.connector.count()).toBe(0);
  });

  it('Google API calls to an API root on a special-use address, and every Entra request of a custom authority, are refused', async () => {
    const google = await loadGoogleapis();
    const token = { accessToken: 'ya29.delegated', expiresAt: new Date(Date.now() + 3600_000) };
    const options = googleApiOptions(google, { apiRoot: `http://127.0.0.1:${internal.port}/` }, token, app.services.egress.fetch);
    await expect(google.gmail({ version: 'v1', ...options }).users.labels.list({ userId: 'me' })).rejects.toThrow();
    const base = `http://127.0.0.1:${internal.port}`;
    const config = { clientId: 'c', cloud: 'custom', authorityHost: base, graphEndpoint: base, credential: 'secret', apiScope: 'api://c/x' } as const;
    const msal = msalClient(config, { kind: 'secret', secret: 's' }, 'tid', Date.now(), app.services.egress.fetch);
    await expect(msal).rejects.toThrow(/authority metadata|refused|fetch failed/);
    // Neither the delegated token nor the client secret reached the internal service.
    expect(internal.seen).toEqual([]);
  });
});

describe('Egress: the policy itself', () => {
  it('refuses special-use addresses unless an allowed network covers them; public addresses pass', () => {
    const strict = new Egress();
    for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:7f00:1']) {
      expect(strict.refuses(a), a).toBe(true);
    }
    for (const a of ['8.8.8.8', '2606:4700:4700::1111']) expect(strict.refuses(a), a).toBe(false);
    const office = new Egress(['10.20.0.0/16', '::1']);
    expect(office.refuses('10.20.3.4')).toBe(false);
    expect(office.refuses('::ffff:10.20.3.4')).toBe(false);
    expect(office.refuses('::1')).toBe(false);
    expect(office.refuses('10.21.0.1')).toBe(true);
    expect(office.refuses('169.254.169.254')).toBe(true);
  });

  it('is enforced when the connection is made: fetch to a name resolving to loopback fails with the refusal', async () => {
    const internal = await internalService();
    try {
      const err = await new Egress().fetch(`http://localhost:${internal.port}/`).then(() => null, (e: unknown) => e);
      expect(isEgressRefusal(err)).toBe(true);
      const literal = await new Egress().fetch(`http://127.0.0.1:${internal.port}/`).then(() => null, (e: unknown) => e);
      expect(isEgressRefusal(literal)).toBe(true);
      expect(internal.seen).toEqual([]);
      // Admitted explicitly, the same request goes through.
      const ok = await new Egress(['127.0.0.0/8', '::1/128']).fetch(`http://localhost:${internal.port}/`);
      expect(ok.status).toBe(200);
    } finally {
      await internal.close();
    }
  });

  it('OUTBOUND_ALLOWED_NETWORKS is validated at start-up', () => {
    expect(loadConfig({ OUTBOUND_ALLOWED_NETWORKS: '10.0.0.0/8, fd00::/8,192.168.1.5' }).outboundAllowedNetworks).toEqual(['10.0.0.0/8', 'fd00::/8', '192.168.1.5']);
    for (const bad of ['10.0.0.0/33', 'intranet.example', '10.0.0.0/8/1', '::1/129', '10.0.0.0/x']) {
      expect(() => loadConfig({ OUTBOUND_ALLOWED_NETWORKS: bad }), bad).toThrow(/OUTBOUND_ALLOWED_NETWORKS/);
      expect(() => parseNetworks([bad]), bad).toThrow(/not a network/);
    }
  });
});
