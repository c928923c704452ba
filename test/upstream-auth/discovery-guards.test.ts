import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverUpstreamAs } from '../../src/upstream-auth/discover-upstream-as.js';
import { loopbackEgress } from '../support/loopback-egress.js';

/** What the fake upstream and its authorization server answer; each test sets what it needs. */
interface Answers {
  prmResource?: string;
  issuer?: string;
  pkce?: string[];
}

/**
 * Issue 14 §1: discovery the MCP way (401 → RFC 9728 protected resource metadata → RFC 8414 metadata) and the checks
 * the gateway adds to the SDK's: PRM `resource` matches the URL dialled, metadata `issuer` is the server asked, PKCE S256.
 */
describe('upstream authorization server discovery guards', () => {
  let server: http.Server;
  let origin: string;
  let answers: Answers = {};
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const json = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.method === 'POST' && req.url === '/mcp') {
        res.writeHead(401, { 'www-authenticate': `Bearer resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp", scope="files"` }).end();
      } else if (req.url === '/.well-known/oauth-protected-resource/mcp') {
        json({ resource: answers.prmResource ?? `${origin}/mcp`, authorization_servers: [origin], scopes_supported: ['files', 'more'] });
      } else if (req.url === '/.well-known/oauth-authorization-server') {
        json({
          issuer: answers.issuer ?? origin,
          authorization_endpoint: `${origin}/authorize`,
          token_endpoint: `${origin}/token`,
          response_types_supported: ['code'],
          code_challenge_methods_supported: answers.pkce ?? ['S256'],
        });
      } else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('follows the 401 challenge to the PRM and the AS metadata; the challenge scope wins over scopes_supported', async () => {
    answers = {};
    const found = await discoverUpstreamAs(`${origin}/mcp`, loopbackEgress);
    expect(found).toMatchObject({ issuer: origin, resource: `${origin}/mcp`, scope: 'files' });
  });

  it('refuses protected resource metadata that describes another resource (RFC 9728 §3.3)', async () => {
    answers = { prmResource: 'https://elsewhere.example/mcp' };
    await expect(discoverUpstreamAs(`${origin}/mcp`, loopbackEgress)).rejects.toThrow(/its metadata is for https:\/\/elsewhere\.example\/mcp/);
  });

  it('refuses AS metadata whose issuer is not the server asked (RFC 8414 §3.3, mix-up)', async () => {
    answers = { issuer: 'https://evil.example' };
    await expect(discoverUpstreamAs(`${origin}/mcp`, loopbackEgress)).rejects.toThrow(/issuer https:\/\/evil\.example is not/);
  });

  it('refuses an authorization server without PKCE S256 (advertised plain only, or nothing)', async () => {
    answers = { pkce: ['plain'] };
    await expect(discoverUpstreamAs(`${origin}/mcp`, loopbackEgress)).rejects.toThrow(/PKCE S256/);
    answers = { pkce: [] };
    await expect(discoverUpstreamAs(`${origin}/mcp`, loopbackEgress)).rejects.toThrow(/PKCE S256/);
  });

  it('an upstream that does not answer is refused with a message, not a stack', async () => {
    await expect(discoverUpstreamAs('http://127.0.0.1:1/mcp', loopbackEgress)).rejects.toThrow(/Could not discover the authorization server of http:\/\/127\.0\.0\.1:1\/mcp: the server did not answer/);
  });
});
