import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { newSpKey } from '../../src/sso/saml/sp-keys.js';
import { Browser } from './support/browser.js';
import { encryptAssertionFor, makeSamlIdp, redirectSignedBy, spCertificates, type TestSamlIdp } from './support/saml-idp.js';
import { cli, postToAcs, startSpInitiated, tenantWithSaml } from './support/sso-fixtures.js';

const DAY = 86_400_000;
const AES256_GCM = 'http://www.w3.org/2009/xmlenc11#aes256-gcm';
const ASSERTION = /<saml:Assertion[\s\S]*<\/saml:Assertion>/;
const xmlOf = (response: string) => Buffer.from(response, 'base64').toString('utf8');
const b64 = (xml: string) => Buffer.from(xml, 'utf8').toString('base64');
const body = (pem: string) => pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');

describe.each(testDbKinds)('SAML SP key rotation (%s)', (kind) => {
  let app: TestApp;
  let idp: TestSamlIdp;
  beforeAll(async () => {
    app = await startTestApp(kind);
    idp = makeSamlIdp();
  });
  beforeEach(() => app.clock.set(new Date()));
  afterAll(() => app?.close());

  const metadata = async (t: TenantCtx) => (await fetch(`${app.url}/t/${t.slug}/saml/metadata`)).text();
  const rotate = (t: TenantCtx, extra: Record<string, string> = {}) => cli(app.services, 'idp rotate-sp-key', { tenant: t.slug, ...extra });
  /** An IdP-initiated response whose assertion is encrypted to `certBody`; valid for 30 days (the clock moves). */
  async function encryptedTo(spMetadata: string, certBody: string) {
    const xml = xmlOf(await idp.response(spMetadata, { nameId: 'ann@example.com', values: { SubjectConfirmationDataNotOnOrAfter: new Date(Date.now() + 30 * DAY).toISOString() } }));
    return b64(xml.replace(ASSERTION, await encryptAssertionFor(certBody, ASSERTION.exec(xml)![0], AES256_GCM)));
  }
  const acsStatus = async (t: TenantCtx, response: string) => (await postToAcs(app, t, new Browser(), response)).status;
  const authnRequestLocation = async (t: TenantCtx) => (await startSpInitiated(app, t, new Browser())).location;

  it('a new tenant gets separate signing and encryption keys', async () => {
    const { t } = await tenantWithSaml(app, idp);
    const md = await metadata(t);
    const [signing, encryption] = [spCertificates(md, 'signing'), spCertificates(md, 'encryption')];
    expect(signing).toHaveLength(1);
    expect(encryption).toHaveLength(1);
    expect(signing[0]).not.toBe(encryption[0]);
    expect(redirectSignedBy(await authnRequestLocation(t), signing[0]!)).toBe(true);
  });

  it('publishes the next keys first, decrypts with either during the overlap, switches signing after it', async () => {
    const { t, spMetadata: before } = await tenantWithSaml(app, idp);
    const [oldSigning] = spCertificates(before, 'signing');
    const [oldEncryption] = spCertificates(before, 'encryption');
    const other = await tenantWithSaml(app, idp);

    const out = await rotate(t);
    expect(JSON.stringify(out)).not.toMatch(/PRIVATE KEY|BEGIN/);
    expect(out).toMatchObject({ signing: { next: expect.any(String), switchAt: new Date(app.clock.now().getTime() + 7 * DAY).toISOString() } });

    // Overlap: both signing certificates published (current first), still signing with the current one.
    const during = await metadata(t);
    const signing = spCertificates(during, 'signing');
    const encryption = spCertificates(during, 'encryption');
    expect(signing).toHaveLength(2);
    expect(signing[0]).toBe(oldSigning);
    expect(encryption).toHaveLength(2);
    expect(encryption[1]).toBe(oldEncryption);
    const [newSigning, newEncryption] = [signing[1]!, encryption[0]!];
    expect(new Set([oldSigning, oldEncryption, newSigning, newEncryption]).size).toBe(4);
    expect(redirectSignedBy(await authnRequestLocation(t), oldSigning!)).toBe(true);
    expect(await acsStatus(t, await encryptedTo(during, oldEncryption!))).toBe(303);
    expect(await acsStatus(t, await encryptedTo(during, newEncryption))).toBe(303);

    // A second rotation during the overlap is refused; the other tenant is untouched.
    await expect(rotate(t)).rejects.toThrow(/already under way/);
    expect(await metadata(other.t)).toBe(other.spMetadata);

    // After the overlap: one certificate per use, the new ones; the old encryption key no longer decrypts.
    app.clock.advance(7 * DAY + 1000);
    const after = await metadata(t);
    expect(spCertificates(after, 'signing')).toEqual([newSigning]);
    expect(spCertificates(after, 'encryption')).toEqual([newEncryption]);
    expect(redirectSignedBy(await authnRequestLocation(t), newSigning)).toBe(true);
    expect(redirectSignedBy(await authnRequestLocation(t), oldSigning!)).toBe(false);
    expect(await acsStatus(t, await encryptedTo(after, newEncryption))).toBe(303);
    expect(await acsStatus(t, await encryptedTo(before, oldEncryption!))).toBe(400);

    // The next rotation is allowed again and drops the superseded keys from the ring.
    await rotate(t, { 'overlap-days': '0' });
    const now = await metadata(t);
    expect(spCertificates(now, 'signing')).toHaveLength(1);
    expect(spCertificates(now, 'signing')[0]).not.toBe(newSigning);
    expect(spCertificates(now, 'encryption')).toHaveLength(1);
  });

  it('`--overlap-days 0` switches at once (suspected compromise); nonsense overlaps are refused', async () => {
    const { t, spMetadata: before } = await tenantWithSaml(app, idp);
    await rotate(t, { 'overlap-days': '0' });
    const md = await metadata(t);
    expect(spCertificates(md, 'signing')).toHaveLength(1);
    expect(spCertificates(md, 'signing')[0]).not.toBe(spCertificates(before, 'signing')[0]);
    expect(await acsStatus(t, await encryptedTo(before, spCertificates(before, 'encryption')[0]!))).toBe(400);
    for (const days of ['-1', '1.5', 'soon', '400']) await expect(rotate(t, { 'overlap-days': days })).rejects.toThrow(/overlap-days/);
  });

  it('a keyring written before separate keys existed keeps working and is split by the first rotation', async () => {
    const t = await app.createTenant();
    const legacy = newSpKey(t, app.clock.now());
    await app.services.vault.put(t, { kind: 'saml-sp', id: t.id }, JSON.stringify(legacy));
    const { addSamlConnection } = await import('../../src/sso/connections/add-saml-connection.js');
    const conn = await addSamlConnection(app.services, t, { metadataXml: idp.metadata() });
    await cli(app.services, 'idp update', { tenant: t.slug, id: conn.id, 'idp-initiated': 'on' }); // unsolicited responses below
    const md = await metadata(t);
    expect(spCertificates(md, 'signing')).toEqual([body(legacy.certPem)]);
    expect(spCertificates(md, 'encryption')).toEqual([body(legacy.certPem)]);
    expect(await acsStatus(t, await encryptedTo(md, body(legacy.certPem)))).toBe(303);
    await rotate(t, { 'overlap-days': '0' });
    const split = await metadata(t);
    expect(spCertificates(split, 'signing')[0]).not.toBe(spCertificates(split, 'encryption')[0]);
    expect(split).not.toContain(body(legacy.certPem));
  });
});
