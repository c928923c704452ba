import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshSamlMetadata } from '../../src/sso/saml/refresh-metadata.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { Browser, me } from './support/browser.js';
import { keyPair, makeSamlIdp } from './support/saml-idp.js';
import { cli, postToAcs, samlLogin, startSpInitiated, tenantWithSaml } from './support/sso-fixtures.js';

const attrs = { email: ['ann@example.com'], displayName: ['Ann Example'], groups: ['Sales', 'Everyone'] };

describe.each(testDbKinds)('SAML service provider (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());

  it('publishes SP metadata: entity ID, ACS, signing and encryption certificate, NameID formats', async () => {
    const t = await app.createTenant();
    const res = await fetch(`${app.url}/t/${t.slug}/saml/metadata`);
    expect(res.headers.get('content-type')).toContain('application/samlmetadata+xml');
    const xml = await res.text();
    expect(xml).toContain(`entityID="${app.url}/t/${t.slug}/saml/metadata"`);
    expect(xml).toContain(`Location="${app.url}/t/${t.slug}/saml/acs"`);
    expect(xml).toContain('<md:KeyDescriptor use="signing">');
    expect(xml).toContain('<md:KeyDescriptor use="encryption">');
    expect(xml).toContain('nameid-format:emailAddress');
    const cert = /<ds:X509Certificate>([^<]+)</.exec(xml)![1]!;
    expect(new X509Certificate(Buffer.from(cert, 'base64')).subject).toContain(t.slug);
    // Stable: generated once, kept in the vault.
    expect(await (await fetch(`${app.url}/t/${t.slug}/saml/metadata`)).text()).toBe(xml);
  });

  it('SP-initiated: signs the AuthnRequest with SHA-256, then a signed assertion signs the user in', async () => {
    const idp = makeSamlIdp();
    const { t, conn, spMetadata } = await tenantWithSaml(app, idp);
    expect(conn).toMatchObject({ kind: 'saml', issuer: idp.entityId, ssoUrl: idp.ssoUrl, signingCertificates: 1 });
    const b = new Browser();
    const routed = await b.request(`${app.url}/t/${t.slug}/login?return_to=${encodeURIComponent(`/t/${t.slug}/api/me`)}`);
    expect(new URL(routed.headers.get('location')!, app.url).pathname).toBe(`/t/${t.slug}/saml/login`);
    const req = await startSpInitiated(app, t, b, `/t/${t.slug}/api/me`);
    expect(req.location.startsWith(`${idp.ssoUrl}?`)).toBe(true);
    expect(req.params.get('SigAlg')).toBe('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    expect(req.params.get('Signature')).toBeTruthy();
    expect(req.relayState).toBe(`/t/${t.slug}/api/me`);
    expect(req.xml).toContain(`AssertionConsumerServiceURL="${app.url}/t/${t.slug}/saml/acs"`);
    const response = await idp.response(spMetadata, { nameId: 'ann@example.com', attributes: attrs, inResponseTo: req.id });
    const acs = await postToAcs(app, t, b, response, req.relayState);
    expect(acs.status).toBe(303);
    expect(acs.headers.get('location')).toBe(`/t/${t.slug}/api/me`);
    expect(await me(b, app.url, t.slug)).toEqual({ status: 200, body: { id: expect.stringMatching(/^usr_/), email: 'ann@example.com', name: 'Ann Example', groups: ['Everyone', 'Sales'] } });
  });

  it('IdP-initiated (no InResponseTo): signs in, RelayState must be a local path', async () => {
    const idp = makeSamlIdp();
    const { t, spMetadata } = await tenantWithSaml(app, idp);
    const b = new Browser();
    const ok = await postToAcs(app, t, b, await idp.response(spMetadata, { nameId: 'tile@example.com' }), `/t/${t.slug}/api/me`);
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe(`/t/${t.slug}/api/me`);
    expect((await me(b, app.url, t.slug)).body).toMatchObject({ email: 'tile@example.com' });
    const evil = await postToAcs(app, t, new Browser(), await idp.response(spMetadata, { nameId: 'tile@example.com' }), 'https://evil.example/');
    expect(evil.headers.get('location')).toBe(`/t/${t.slug}/login`);
  });

  it('accepts encrypted assertions (our metadata certificate), and signed responses', async () => {
    const idp = makeSamlIdp();
    const { t, spMetadata } = await tenantWithSaml(app, idp);
    const enc = await samlLogin(app, t, idp, spMetadata, { nameId: 'enc@example.com', encrypt: true });
    expect(Buffer.from(enc.response, 'base64').toString()).toContain('EncryptedAssertion');
    expect(enc.res.status).toBe(303);
    expect((await me(enc.browser, app.url, t.slug)).body).toMatchObject({ email: 'enc@example.com' });
    const signed = await samlLogin(app, t, idp, spMetadata, { nameId: 'both@example.com', signResponse: true });
    expect(signed.res.status).toBe(303);
  });

  it('refuses to sign in with an IdP whose only certificate has expired (503 page with a trace)', async () => {
    const idp = makeSamlIdp();
    const old = keyPair('Expired', new Date(Date.now() - 3 * 365 * 86_400_000), 1);
    const metadata = idp.metadata().replace(/<ds:X509Certificate>[^<]+/, `<ds:X509Certificate>${old.certPem.replace(/-----[^-]+-----|\s+/g, '')}`);
    const { t } = await tenantWithSaml(app, idp, { metadata });
    const res = await new Browser().request(`${app.url}/t/${t.slug}/saml/login`);
    expect(res.status).toBe(503);
    const traceId = /trc_[0-9a-z]+/.exec(await res.text())![0];
    expect(await cli(app.services, 'sso-trace show', { id: traceId })).toMatchObject({ stage: 'saml.config', reason: expect.stringContaining('expired') });
  });

  it('replaces file-based metadata with `idp refresh --metadata-file`', async () => {
    const idp = makeSamlIdp();
    const { t, conn, spMetadata } = await tenantWithSaml(app, idp);
    const next = keyPair('Rotated');
    expect((await samlLogin(app, t, idp, spMetadata, { nameId: 'f@example.com', signWith: next })).res.status).toBe(400);
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'md-')), 'idp.xml');
    writeFileSync(file, idp.metadata([next.certPem]));
    expect(await cli(app.services, 'idp refresh', { tenant: t.slug, id: conn.id, 'metadata-file': file })).toMatchObject({ id: conn.id, signingCertificates: 2 });
    expect((await samlLogin(app, t, idp, spMetadata, { nameId: 'f@example.com', signWith: next })).res.status).toBe(303);
    await expect(cli(app.services, 'idp refresh', { tenant: t.slug, id: conn.id })).rejects.toThrow(/no metadata URL/);
  });

  it('accepts every signing certificate of the metadata (rollover) and picks up new ones from the metadata URL', async () => {
    const idp = makeSamlIdp();
    const next = keyPair('Next IdP cert');
    let published = idp.metadata();
    const server = http.createServer((_req, res) => res.end(published));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const t = await app.createTenant();
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metadata`;
      const conn = await cli(app.services, 'idp add-saml', { tenant: t.slug, 'metadata-url': url, name: 'Okta' });
      expect(conn).toMatchObject({ name: 'Okta', metadataUrl: url, signingCertificates: 1 });
      const spMetadata = await (await fetch(`${app.url}/t/${t.slug}/saml/metadata`)).text();
      const before = await samlLogin(app, t, idp, spMetadata, { nameId: 'roll@example.com', signWith: next });
      expect(before.res.status).toBe(400); // not published yet
      published = idp.metadata([next.certPem]);
      expect(await refreshSamlMetadata(app.services)).toMatchObject({ failed: 0 });
      const withNew = await samlLogin(app, t, idp, spMetadata, { nameId: 'roll@example.com', signWith: next });
      expect(withNew.res.status).toBe(303);
      const withOld = await samlLogin(app, t, idp, spMetadata, { nameId: 'roll@example.com' });
      expect(withOld.res.status).toBe(303);
      const listed = await cli(app.services, 'idp list', { tenant: t.slug });
      expect(listed.connections).toMatchObject([{ signingCertificates: 2 }]);
      // Metadata for another entity never replaces the connection's certificates.
      published = makeSamlIdp().metadata();
      expect(await refreshSamlMetadata(app.services)).toMatchObject({ failed: 1 });
      expect((await samlLogin(app, t, idp, spMetadata, { nameId: 'roll@example.com', signWith: next })).res.status).toBe(303);
    } finally {
      server.close();
    }
  });
});
