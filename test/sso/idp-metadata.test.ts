import { describe, expect, it } from 'vitest';
import { currentCerts, parseIdpMetadata } from '../../src/sso/saml/parse-idp-metadata.js';
import { keyPair, makeSamlIdp } from './support/saml-idp.js';

const body = (pem: string) => pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');

describe('IdP metadata parsing', () => {
  it('reads entity ID, the HTTP-Redirect SSO URL, every signing certificate and NameID formats (Entra BOM tolerated)', async () => {
    const idp = makeSamlIdp('https://sts.windows.net/11111111-2222-3333-4444-555555555555/');
    const next = keyPair('next');
    const md = await parseIdpMetadata(`\uFEFF${idp.metadata([next.certPem])}`);
    expect(md.entityId).toBe('https://sts.windows.net/11111111-2222-3333-4444-555555555555/');
    expect(md.ssoUrl).toBe(idp.ssoUrl);
    expect(md.signingCerts).toEqual([body(idp.keys.certPem), body(next.certPem)]);
    expect(md.nameIdFormats).toEqual(['urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress']);
  });

  it('ignores encryption-only keys and refuses unusable metadata with a clear message', async () => {
    const idp = makeSamlIdp();
    const xml = idp.metadata();
    expect((await parseIdpMetadata(xml.replace('use="signing"', 'use="encryption"')).catch((e: Error) => e.message))).toMatch(/no signing certificate/);
    await expect(parseIdpMetadata(xml.replace(/<md:SingleSignOnService Binding="[^"]*HTTP-Redirect"[^>]*\/>/, ''))).rejects.toThrow(/HTTP-Redirect/);
    await expect(parseIdpMetadata(`<!DOCTYPE x [<!ENTITY e "e">]>${xml.replace(/^<\?xml[^>]*>/, '')}`)).rejects.toThrow(/DOCTYPE/);
    await expect(parseIdpMetadata('<not-xml')).rejects.toThrow(/well-formed|exactly one/);
    await expect(parseIdpMetadata(xml.replace(/<ds:X509Certificate>[^<]+/, '<ds:X509Certificate>AAAA'))).rejects.toThrow(/unreadable/);
  });

  it('drops expired and not-yet-valid certificates, with two minutes of tolerance', () => {
    const now = new Date();
    const valid = body(keyPair('ok').certPem);
    const expired = body(keyPair('old', new Date(Date.now() - 3 * 365 * 86_400_000), 1).certPem);
    const future = body(keyPair('future', new Date(Date.now() + 86_400_000)).certPem);
    const almost = body(keyPair('almost', new Date(Date.now() + 60_000)).certPem);
    expect(currentCerts([valid, expired, future, almost], now)).toEqual([valid, almost]);
  });
});
