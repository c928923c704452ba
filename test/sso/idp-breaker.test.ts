import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CircuitOpenError } from '../../src/lib/circuit-breaker.js';
import type { Connection } from '../../src/sso/connections/manage-connections.js';
import { oidcConfig } from '../../src/sso/oidc/oidc-config.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe('circuit breaker around IdP discovery fetches', () => {
  let app: TestApp;
  let idp: http.Server;
  let issuer = '';
  let healthy = false;
  let hits = 0;
  beforeAll(async () => {
    app = await startTestApp('pglite');
    idp = http.createServer((req, res) => {
      hits++;
      if (!healthy) return void res.writeHead(503).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({ issuer, authorization_endpoint: `${issuer}/authorize`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks` }),
      );
    });
    await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
    issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => idp.close(() => r()));
    await app?.close();
  });

  it('a dead IdP fails fast after 5 failures, other issuers are unaffected, and a probe after 30 s recovers', async () => {
    const t = await app.createTenant();
    const secretId = await app.services.vault.put(t, { kind: 'idp-connection', id: 'conn_breaker' }, 'client-secret');
    const conn = { id: 'conn_breaker', issuer, secretId, config: { oidc: { clientId: 'bridge', clientAuth: 'client_secret_basic' } } } as unknown as Connection;
    for (let i = 0; i < 5; i++) await expect(oidcConfig(app.services, t, conn)).rejects.toThrow(/503|unexpected|response/i);
    expect(hits).toBe(5);
    await expect(oidcConfig(app.services, t, conn)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(hits).toBe(5); // refused without a request
    // Another issuer's circuit is its own.
    const other = { ...conn, issuer: 'http://127.0.0.1:1' } as Connection;
    await expect(oidcConfig(app.services, t, other)).rejects.not.toBeInstanceOf(CircuitOpenError);
    healthy = true;
    await expect(oidcConfig(app.services, t, conn)).rejects.toBeInstanceOf(CircuitOpenError);
    app.clock.advance(30_000);
    const config = await oidcConfig(app.services, t, conn);
    expect(config.serverMetadata().issuer).toBe(issuer);
    expect(hits).toBe(6);
    expect(app.services.idpFetches.isOpen(`oidc:${issuer}`)).toBe(false);
    expect(await app.services.metrics.registry.metrics()).toMatch(/sso_bridge_circuit_opened_total\{kind="idp"\} 1/);
  });
});
