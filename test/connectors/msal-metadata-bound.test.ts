import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachedAuthorities, msalClient } from '../../src/connectors/microsoft/msal-client.js';
import { loopbackEgress } from '../support/loopback-egress.js';

/**
 * The authority metadata msal is handed is kept per `{authorityHost}/{tid}`, and `tid` comes from sign-ins (a custom
 * authority's IdP can mint any): the cache is bounded, so no sequence of tenant ids grows it without end.
 */
describe('Entra authority metadata cache', () => {
  let server: http.Server;
  let base: string;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const tid = req.url!.split('/')[1];
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({ issuer: `${base}/${tid}/v2.0`, token_endpoint: `${base}/${tid}/oauth2/v2.0/token`, authorization_endpoint: `${base}/${tid}/oauth2/v2.0/authorize`, jwks_uri: `${base}/${tid}/discovery/v2.0/keys`, end_session_endpoint: `${base}/${tid}/oauth2/v2.0/logout` }),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('keeps at most 1,000 authorities, the newest', async () => {
    const config = { clientId: 'c', cloud: 'custom', authorityHost: base, graphEndpoint: base, credential: 'secret', apiScope: 'api://c/x' } as const;
    for (let i = 0; i < 1_050; i++) await msalClient(config, { kind: 'secret', secret: 's' }, `tid-${i}`, Date.now(), loopbackEgress.fetch);
    expect(cachedAuthorities()).toBe(1_000);
  }, 120_000);
});
