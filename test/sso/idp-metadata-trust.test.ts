import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SignedXml } from 'xml-crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Services } from '../../src/services.js';
import { addSamlConnection } from '../../src/sso/connections/add-saml-connection.js';
import { fetchMetadata } from '../../src/sso/connections/fetch-metadata.js';
import { refreshSamlMetadata } from '../../src/sso/saml/refresh-metadata.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { keyPair, makeSamlIdp, type TestSamlIdp } from './support/saml-idp.js';
import { cli } from './support/sso-fixtures.js';
import { loopbackEgress } from '../support/loopback-egress.js';

const SHA256 = { signature: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256', digest: 'http://www.w3.org/2001/04/xmlenc#sha256' };
const SHA1 = { signature: 'http://www.w3.org/2000/09/xmldsig#rsa-sha1', digest: 'http://www.w3.org/2000/09/xmldsig#sha1' };

/** Signs IdP metadata (enveloped signature on the EntityDescriptor), as Entra or Shibboleth publish it. */
function signMetadata(xml: string, key: { privateKeyPem: string; certPem: string }, alg = SHA256): string {
  const withId = xml.replace('<md:EntityDescriptor ', '<md:EntityDescriptor ID="_md1" ');
  const sig = new SignedXml({ privateKey: key.privateKeyPem, publicCert: key.certPem, signatureAlgorithm: alg.signature, canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#' });
  sig.addReference({ xpath: "//*[local-name(.)='EntityDescriptor']", digestAlgorithm: alg.digest, transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'] });
  sig.computeSignature(withId, { location: { reference: "//*[local-name(.)='EntityDescriptor']", action: 'prepend' } });
  return sig.getSignedXml();
}

describe.each(testDbKinds)('IdP metadata trust (%s)', (kind) => {
  let app: TestApp;
  let idp: TestSamlIdp;
  let dir: string;
  beforeAll(async () => {
    app = await startTestApp(kind);
    idp = makeSamlIdp();
    dir = mkdtempSync(path.join(os.tmpdir(), 'md-trust-'));
  });
  afterAll(() => app?.close());
  const file = (name: string, text: string) => {
    const p = path.join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const add = async (o: { xml: string; certFile?: string }) => addSamlConnection(app.services, await app.createTenant(), { metadataXml: o.xml, metadataCertFile: o.certFile });

  describe('metadata URL scheme', () => {
    const production = () => ({ ...app.services, config: { ...app.services.config, nodeEnv: 'production' } }) as Services;

    it('production refuses every metadata URL that is not https, before fetching', async () => {
      const t = await app.createTenant();
      for (const url of ['http://idp.example.com/metadata', 'HTTP://idp.example.com/md', 'ftp://idp.example.com/md', 'file:///etc/passwd', 'data:text/xml,<x/>']) {
        await expect(addSamlConnection(production(), t, { metadataUrl: url })).rejects.toThrow(/must be https$/);
      }
      expect(await t.db.idpConnection.count()).toBe(0);
    });

    describe('redirects', () => {
      afterEach(() => vi.unstubAllGlobals());
      /** A fetch standing in for the network: each URL answers a redirect or the metadata; every URL asked is recorded. */
      const network = (routes: Record<string, string | { location: string }>) => {
        const asked: string[] = [];
        vi.stubGlobal('fetch', async (url: URL | string, init: RequestInit) => {
          asked.push(String(url));
          expect(init.redirect).toBe('manual'); // every hop is ours to check, never followed by fetch itself
          const route = routes[String(url)];
          if (route === undefined) return new Response('not found', { status: 404 });
          return typeof route === 'string' ? new Response(route, { status: 200 }) : new Response(null, { status: 302, headers: { location: route.location } });
        });
        return asked;
      };

      it('production never follows an https URL that redirects to http (or any other scheme), at any hop', async () => {
        for (const target of ['http://idp.example.com/md.xml', 'HTTP://idp.example.com/md.xml', 'ftp://idp.example.com/md.xml', 'file:///etc/passwd']) {
          const asked = network({ 'https://idp.example.com/md': { location: 'https://idp.example.com/md2' }, 'https://idp.example.com/md2': { location: target }, [target]: idp.metadata() });
          await expect(fetchMetadata('https://idp.example.com/md', { allowHttp: false, fetch: loopbackEgress.fetch })).rejects.toThrow(/redirected to .*must be fetched over https$/);
          expect(asked).toEqual(['https://idp.example.com/md', 'https://idp.example.com/md2']);
        }
        // Through the command: nothing is stored.
        network({ 'https://idp.example.com/md': { location: 'http://idp.example.com/md' }, 'http://idp.example.com/md': idp.metadata() });
        const t = await app.createTenant();
        await expect(addSamlConnection(production(), t, { metadataUrl: 'https://idp.example.com/md' })).rejects.toThrow(/redirected to http:/);
        expect(await t.db.idpConnection.count()).toBe(0);
      });

      it('follows https redirects (relative ones too) up to five hops, and http ones only outside production', async () => {
        const asked = network({ 'https://idp.example.com/md': { location: '/v2/md' }, 'https://idp.example.com/v2/md': idp.metadata() });
        expect(await fetchMetadata('https://idp.example.com/md', { allowHttp: false, fetch: loopbackEgress.fetch })).toBe(idp.metadata());
        expect(asked).toEqual(['https://idp.example.com/md', 'https://idp.example.com/v2/md']);
        network({ 'https://idp.example.com/md': { location: 'http://idp.example.com/md' }, 'http://idp.example.com/md': idp.metadata() });
        expect(await fetchMetadata('https://idp.example.com/md', { allowHttp: true, fetch: loopbackEgress.fetch })).toBe(idp.metadata());
        const loop = network({ 'https://idp.example.com/md': { location: 'https://idp.example.com/md' } });
        await expect(fetchMetadata('https://idp.example.com/md', { allowHttp: false, fetch: loopbackEgress.fetch })).rejects.toThrow(/more than 5 times/);
        expect(loop).toHaveLength(6);
      });
    });

    describe('size', () => {
      afterEach(() => vi.unstubAllGlobals());
      /** An answer that never ends (no Content-Length), counting what the reader pulled and whether it was cancelled. */
      const endless = () => {
        const seen = { bytes: 0, cancelled: false };
        const chunk = new Uint8Array(64 * 1024).fill(0x20);
        vi.stubGlobal('fetch', async () => new Response(new ReadableStream<Uint8Array>({
          pull(controller) { seen.bytes += chunk.byteLength; controller.enqueue(chunk); },
          cancel() { seen.cancelled = true; },
        }), { status: 200 }));
        return seen;
      };

      it('stops reading a body past 1 MB as it streams (never buffers an endless answer) and cancels the rest', async () => {
        const seen = endless();
        await expect(fetchMetadata('https://idp.example.com/md', { allowHttp: false, fetch: loopbackEgress.fetch })).rejects.toThrow(/larger than 1 MB/);
        expect(seen.cancelled).toBe(true);
        expect(seen.bytes).toBeLessThan(2_000_000);
      });

      it('refuses a declared Content-Length over 1 MB without reading the body', async () => {
        let pulled = 0;
        vi.stubGlobal('fetch', async () => new Response(new ReadableStream<Uint8Array>({ pull(c) { pulled++; c.enqueue(new Uint8Array(10)); } }), { status: 200, headers: { 'content-length': '5000000' } }));
        await expect(fetchMetadata('https://idp.example.com/md', { allowHttp: false, fetch: loopbackEgress.fetch })).rejects.toThrow(/larger than 1 MB/);
        expect(pulled).toBeLessThanOrEqual(1); // a ReadableStream may pre-pull once; nothing is read past that
      });
    });

    it('production stops refreshing a connection stored earlier with an http URL, keeping its certificates', async () => {
      const { createServer } = await import('node:http');
      const server = createServer((_req, res) => res.end(idp.metadata()));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/md`;
        const t = await app.createTenant();
        const conn = await addSamlConnection(app.services, t, { metadataUrl: url }); // development/test: http allowed
        const before = await t.db.idpConnection.findFirstOrThrow({ where: { id: conn.id } });
        const report = await refreshSamlMetadata(production());
        expect(report.failed).toBeGreaterThanOrEqual(1);
        expect((await t.db.idpConnection.findFirstOrThrow({ where: { id: conn.id } })).metadataRefreshedAt).toEqual(before.metadataRefreshedAt);
      } finally {
        server.close();
      }
    });
  });

  describe('metadata signature', () => {
    it('accepts metadata signed with the IdP key it lists, and refuses it once tampered with', async () => {
      const signed = signMetadata(idp.metadata(), idp.keys);
      expect((await add({ xml: signed })).signingCertificates).toBe(1);
      await expect(add({ xml: signed.replace(idp.ssoUrl, 'https://evil.example.com/sso') })).rejects.toThrow(/signature does not verify/);
      const rogue = keyPair('Rogue');
      await expect(add({ xml: signed.replace(/<ds:X509Certificate>[^<]+/, `<ds:X509Certificate>${rogue.certPem.replace(/-----[^-]+-----|\s/g, '')}`) })).rejects.toThrow(/signature does not verify/);
    });

    it('refuses SHA-1 metadata signatures', async () => {
      await expect(add({ xml: signMetadata(idp.metadata(), idp.keys, SHA1) })).rejects.toThrow(/SHA-256 or better/);
    });

    it('with a pinned certificate (--metadata-cert), requires a signature by it', async () => {
      const metadataKey = keyPair('Metadata signer');
      const certFile = file('md-cert.pem', metadataKey.certPem);
      const conn = await add({ xml: signMetadata(idp.metadata(), metadataKey), certFile });
      expect(conn).toMatchObject({ metadataSignatureRequired: true });
      await expect(add({ xml: idp.metadata(), certFile })).rejects.toThrow(/not signed/);
      // Signed by the IdP's own key, or by an attacker who lists their key: not the pinned signer.
      await expect(add({ xml: signMetadata(idp.metadata(), idp.keys), certFile })).rejects.toThrow(/configured metadata certificate/);
      const rogue = keyPair('Rogue');
      await expect(add({ xml: signMetadata(idp.metadata([rogue.certPem]), rogue), certFile })).rejects.toThrow(/configured metadata certificate/);
      // Wrapping: the signed EntityDescriptor inside an unsigned EntitiesDescriptor next to an evil one.
      const signed = signMetadata(idp.metadata(), metadataKey).replace(/^<\?xml[^>]*>/, '');
      const evil = idp.metadata([rogue.certPem]).replace(/^<\?xml[^>]*>/, '');
      const wrapped = `<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">${evil}${signed}</md:EntitiesDescriptor>`;
      await expect(add({ xml: wrapped, certFile })).rejects.toThrow(/not signed/);
      await expect(cli(app.services, 'idp add-saml', { tenant: (await app.createTenant()).slug, 'metadata-file': file('md.xml', idp.metadata()), 'metadata-cert': file('junk.pem', 'not a certificate') })).rejects.toThrow(/no PEM certificate/);
    });

    it('a refresh must be signed by a certificate the connection already trusts (or the pinned one)', async () => {
      const t = await app.createTenant();
      const conn = await addSamlConnection(app.services, t, { metadataXml: signMetadata(idp.metadata(), idp.keys) });
      const next = keyPair('Next');
      // Rollover signed by the current key: accepted, the next certificate is trusted too.
      const rolled = await cli(app.services, 'idp refresh', { tenant: t.slug, id: conn.id, 'metadata-file': file('rolled.xml', signMetadata(idp.metadata([next.certPem]), idp.keys)) });
      expect(rolled.signingCertificates).toBe(2);
      // An attacker's metadata listing only their key, signed by it: refused, certificates unchanged.
      const rogue = keyPair('Rogue');
      const swapped = makeSamlIdp(idp.entityId);
      const attempt = cli(app.services, 'idp refresh', { tenant: t.slug, id: conn.id, 'metadata-file': file('swap.xml', signMetadata(swapped.metadata(), rogue).replace(/<ds:X509Certificate>[^<]+<\/ds:X509Certificate>(?=<\/ds:X509Data><\/ds:KeyInfo><\/md:KeyDescriptor>)/, `<ds:X509Certificate>${rogue.certPem.replace(/-----[^-]+-----|\s/g, '')}</ds:X509Certificate>`)) });
      await expect(attempt).rejects.toThrow(/already trusts/);
      const listed = (await cli(app.services, 'idp list', { tenant: t.slug })).connections as { signingCertificates: number }[];
      expect(listed[0]!.signingCertificates).toBe(2);
    });

    it('once a connection’s metadata was signed, an unsigned copy is refused (no downgrade to swap the keys)', async () => {
      const t = await app.createTenant();
      const conn = await addSamlConnection(app.services, t, { metadataXml: signMetadata(idp.metadata(), idp.keys) });
      expect(conn).toMatchObject({ metadataSignatureRequired: true });
      // An attacker controlling the metadata URL serves unsigned metadata listing their own key.
      const rogue = keyPair('Rogue');
      const unsigned = makeSamlIdp(idp.entityId).metadata().replace(/<ds:X509Certificate>[^<]+/, `<ds:X509Certificate>${rogue.certPem.replace(/-----[^-]+-----|\s/g, '')}`);
      await expect(cli(app.services, 'idp refresh', { tenant: t.slug, id: conn.id, 'metadata-file': file('unsigned.xml', unsigned) })).rejects.toThrow(/was signed before/);
      // Not even the genuine metadata without its signature.
      await expect(cli(app.services, 'idp refresh', { tenant: t.slug, id: conn.id, 'metadata-file': file('unsigned2.xml', idp.metadata()) })).rejects.toThrow(/was signed before/);
      const stored = await t.db.idpConnection.findFirstOrThrow({ where: { id: String(conn.id) } });
      expect((stored.config as { saml: { signingCerts: string[] } }).saml.signingCerts).toEqual([idp.keys.certPem.replace(/-----[^-]+-----|\s/g, '')]);
      // A signed refresh keeps working; a connection added from unsigned metadata may still refresh unsigned.
      expect((await cli(app.services, 'idp refresh', { tenant: t.slug, id: conn.id, 'metadata-file': file('signed.xml', signMetadata(idp.metadata(), idp.keys)) })).signingCertificates).toBe(1);
      const t2 = await app.createTenant();
      const plain = await addSamlConnection(app.services, t2, { metadataXml: idp.metadata() });
      expect(plain).toMatchObject({ metadataSignatureRequired: false });
      expect((await cli(app.services, 'idp refresh', { tenant: t2.slug, id: plain.id, 'metadata-file': file('plain.xml', idp.metadata()) })).signingCertificates).toBe(1);
    });
  });
});
