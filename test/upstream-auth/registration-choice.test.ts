import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/services.js';
import type { DiscoveredAs } from '../../src/upstream-auth/discover-upstream-as.js';
import { startConnect } from '../../src/upstream-auth/connect-flow.js';
import { chooseRegistration } from '../../src/upstream-auth/upstream-oauth-client.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { cli, createUser } from '../mcp/support.js';
import { startUpstreamWithAs, type UpstreamWithAs } from './support/upstream-with-as.js';

const services = (publicUrl: string) => ({ config: { publicUrl } }) as Services;
const as = (metadata: Record<string, unknown>) =>
  ({ issuer: 'https://as.example', resource: 'https://mcp.example/mcp', metadata: { issuer: 'https://as.example', authorization_endpoint: 'https://as.example/auth', token_endpoint: 'https://as.example/token', response_types_supported: ['code'], ...metadata } }) as unknown as DiscoveredAs;

describe('chooseRegistration: pre-registered > our CIMD (AS supports it, PUBLIC_URL https) > DCR', () => {
  const https = services('https://gw.example');
  const http = services('http://127.0.0.1:3000');
  const both = as({ client_id_metadata_document_supported: true, authorization_response_iss_parameter_supported: true, registration_endpoint: 'https://as.example/reg' });
  const cimdOnly = as({ client_id_metadata_document_supported: true, authorization_response_iss_parameter_supported: true });

  it('an admin-supplied client wins over everything', () => {
    expect(chooseRegistration(https, both, 'admin-client')).toBe('preregistered');
    expect(chooseRegistration(https, as({}), 'admin-client')).toBe('preregistered');
    expect(chooseRegistration(https, both, 'admin-client', true)).toBe('preregistered');
  });

  it('CIMD when the AS advertises it and RFC 9207 and PUBLIC_URL is https, even if it also offers DCR', () => {
    expect(chooseRegistration(https, both, undefined)).toBe('cimd');
    expect(chooseRegistration(https, cimdOnly, undefined)).toBe('cimd');
    expect(chooseRegistration(https, cimdOnly, undefined, true)).toBe('cimd');
  });

  it('no CIMD for code flows with a server that does not promise iss (a document cannot tell servers apart): DCR, else refused; id-jag has no redirects', () => {
    const noIss = { client_id_metadata_document_supported: true };
    expect(chooseRegistration(https, as({ ...noIss, registration_endpoint: 'https://as.example/reg' }), undefined)).toBe('dcr');
    for (const v of ['true', 1, null]) expect(chooseRegistration(https, as({ ...noIss, authorization_response_iss_parameter_supported: v, registration_endpoint: 'https://as.example/reg' }), undefined)).toBe('dcr');
    expect(() => chooseRegistration(https, as(noIss), undefined)).toThrow(/does not identify itself in authorization responses \(RFC 9207/);
    expect(chooseRegistration(https, as(noIss), undefined, true)).toBe('cimd');
  });

  it('DCR when PUBLIC_URL is not https (a CIMD client id must be an https URL) or the AS does not advertise CIMD', () => {
    expect(chooseRegistration(http, both, undefined)).toBe('dcr');
    expect(chooseRegistration(https, as({ registration_endpoint: 'https://as.example/reg' }), undefined)).toBe('dcr');
    expect(chooseRegistration(https, as({ client_id_metadata_document_supported: false, registration_endpoint: 'https://as.example/reg' }), undefined)).toBe('dcr');
  });

  it('only a boolean true counts as advertising CIMD (hostile or sloppy metadata)', () => {
    for (const v of ['true', 1, 'yes', {}, [true], null]) {
      expect(chooseRegistration(https, as({ client_id_metadata_document_supported: v, authorization_response_iss_parameter_supported: true, registration_endpoint: 'https://as.example/reg' }), undefined)).toBe('dcr');
    }
  });

  it('refused when nothing is possible; id-jag never falls back to DCR', () => {
    expect(() => chooseRegistration(https, as({}), undefined)).toThrow(/neither client metadata documents nor dynamic registration/);
    expect(() => chooseRegistration(http, cimdOnly, undefined)).toThrow(/neither/);
    expect(() => chooseRegistration(http, both, undefined, true)).toThrow(/--auth id-jag/);
  });
});

describe.each(testDbKinds)('per-user upstream registered by our client metadata document (%s)', (kind) => {
  const publicUrl = 'https://gateway.example.test';
  let app: TestApp;
  let upstream: UpstreamWithAs;
  beforeAll(async () => {
    // The app serves plain HTTP on its port, but its PUBLIC_URL (what upstream ASes see) is https.
    app = await startTestApp(kind, { PUBLIC_URL: publicUrl });
    upstream = await startUpstreamWithAs({ cimd: true });
  }, 60_000);
  afterAll(async () => {
    await upstream?.close();
    await app?.close();
  });

  it('the authorization request carries our hosted document URL as client_id (no DCR); an admin-supplied client still wins', { timeout: 120_000 }, async () => {
    const t = await app.createTenant();
    const added = await cli(app, 'upstream add', { tenant: t.slug, name: 'gh', url: upstream.url, auth: 'oauth-per-user' });
    expect(added).toMatchObject({ registration: 'cimd' });
    const userId = await createUser(t, 'alice@example.com');
    const session = await app.services.sessions.create(t, { userId });
    const authorize = await startConnect(app.services, t, { id: session.id, userId }, 'gh');
    const documentUrl = `${publicUrl}/t/${t.slug}/upstream-oauth/client-metadata.json`;
    expect(authorize.origin).toBe(upstream.issuer);
    expect(authorize.searchParams.get('client_id')).toBe(documentUrl);
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${publicUrl}/t/${t.slug}/upstream-oauth/callback/${added.id}`);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('resource')).toBe(upstream.url);
    // What the upstream's AS receives (it does not fetch documents, so it refuses the client: only the id matters).
    await fetch(authorize, { redirect: 'manual' });
    expect(upstream.authorizeClientIds.at(-1)).toBe(documentUrl);
    // Nothing was registered dynamically: the stored client has no client id of its own.
    expect(await t.db.upstreamOAuthClient.findFirst({ where: { upstreamId: String(added.id) }, select: { clientId: true, registration: true } })).toEqual({ clientId: null, registration: 'cimd' });

    const pre = await cli(app, 'upstream add', { tenant: t.slug, name: 'gh2', url: upstream.url, auth: 'oauth-per-user', 'client-id': upstream.clientId, 'client-secret': upstream.clientSecret });
    expect(pre).toMatchObject({ registration: 'preregistered' });
    const preAuthorize = await startConnect(app.services, t, { id: session.id, userId }, 'gh2');
    expect(preAuthorize.searchParams.get('client_id')).toBe(upstream.clientId);
  });
});
