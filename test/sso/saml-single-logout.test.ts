import { randomBytes, sign } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { SignedXml } from 'xml-crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { Browser, me } from './support/browser.js';
import { encryptAssertionFor, keyPair, makeSamlIdp, redirectSignedBy, spCertificates, type TestSamlIdp } from './support/saml-idp.js';
import { cli, postToAcs, samlLogin, tenantWithSaml } from './support/sso-fixtures.js';

const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const RSA_SHA1 = 'http://www.w3.org/2000/09/xmldsig#rsa-sha1';
type Key = { privateKeyPem: string; certPem: string };

interface LogoutOpts { destination: string; nameId: string; sessionIndex?: string; issuer?: string; issueInstant?: string; id?: string }
const logoutRequestXml = (o: LogoutOpts, issuer: string) =>
  `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${o.id ?? `_l${randomBytes(8).toString('hex')}`}" Version="2.0" IssueInstant="${o.issueInstant ?? new Date().toISOString()}" Destination="${o.destination}"><saml:Issuer>${o.issuer ?? issuer}</saml:Issuer><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${o.nameId}</saml:NameID>${o.sessionIndex ? `<samlp:SessionIndex>${o.sessionIndex}</samlp:SessionIndex>` : ''}</samlp:LogoutRequest>`;

/** HTTP-Redirect binding (SAML bindings §3.4.4.1): deflate, base64, URL-encode, sign the query bytes. */
function redirectQuery(field: 'SAMLRequest' | 'SAMLResponse', xml: string, key: Key | null, sigAlg = RSA_SHA256, relayState?: string) {
  let q = `${field}=${encodeURIComponent(deflateRawSync(Buffer.from(xml)).toString('base64'))}`;
  if (relayState) q += `&RelayState=${encodeURIComponent(relayState)}`;
  if (!key) return q;
  q += `&SigAlg=${encodeURIComponent(sigAlg)}`;
  const signature = sign(sigAlg === RSA_SHA1 ? 'sha1' : 'sha256', Buffer.from(q), key.privateKeyPem).toString('base64');
  return `${q}&Signature=${encodeURIComponent(signature)}`;
}

/** HTTP-POST binding: an enveloped XML signature after the Issuer. */
function signXml(xml: string, key: Key, root: 'LogoutRequest' | 'LogoutResponse') {
  const sig = new SignedXml({ privateKey: key.privateKeyPem, publicCert: key.certPem, signatureAlgorithm: RSA_SHA256, canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#' });
  sig.addReference({ xpath: `//*[local-name(.)='${root}']`, digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256', transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'] });
  sig.computeSignature(xml, { location: { reference: "//*[local-name(.)='Issuer']", action: 'after' } });
  return sig.getSignedXml();
}

describe.each(testDbKinds)('SAML single logout (%s)', (kind) => {
  let app: TestApp;
  let idp: TestSamlIdp;
  let t: TenantCtx;
  let sp: string;
  beforeAll(async () => {
    app = await startTestApp(kind);
    idp = makeSamlIdp();
    ({ t, spMetadata: sp } = await tenantWithSaml(app, idp));
  });
  beforeEach(() => app.clock.set(new Date()));
  afterAll(() => app?.close());

  const slo = (tenant: TenantCtx) => `${app.url}/t/${tenant.slug}/saml/slo`;
  const signedIn = async (nameId: string, tenant = t, spMd = sp) => {
    const { res, browser } = await samlLogin(app, tenant, idp, spMd, { nameId });
    expect(res.status).toBe(303);
    return browser;
  };
  const alive = async (b: Browser, tenant = t) => (await me(b, app.url, tenant.slug)).status === 200;
  const request = (o: Partial<LogoutOpts> & { nameId: string }) => logoutRequestXml({ destination: slo(t), ...o }, idp.entityId);
  async function refusedGet(query: string, code: string, b = new Browser()) {
    const res = await b.request(`${slo(t)}?${query}`);
    const page = await res.text();
    expect(res.status).toBe(400);
    const trace = await cli(app.services, 'sso-trace show', { id: /trc_[0-9a-z]+/.exec(page)![0] });
    expect(trace.reason).toMatch(new RegExp(`^${code}:`));
    return trace;
  }

  it('advertises the SLO endpoint in SP metadata, for both bindings', () => {
    expect(sp).toContain(`<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${slo(t)}"/>`);
    expect(sp).toContain(`<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${slo(t)}"/>`);
  });

  it('IdP-initiated (HTTP-Redirect): ends every session of that user from this IdP and answers with a signed LogoutResponse', async () => {
    const nameId = `${randomBytes(4).toString('hex')}@example.com`;
    const [b1, b2, other] = [await signedIn(nameId), await signedIn(nameId), await signedIn(`x${nameId}`)];
    const xml = request({ nameId, id: '_logout1' });
    const res = await b1.request(`${slo(t)}?${redirectQuery('SAMLRequest', xml, idp.keys, RSA_SHA256, '/back')}`);
    expect(res.status).toBe(303);
    const location = res.headers.get('location')!;
    expect(location.startsWith(`${idp.sloUrl}?`)).toBe(true);
    expect(redirectSignedBy(location, spCertificates(sp, 'signing')[0]!)).toBe(true);
    const answer = inflateRawSync(Buffer.from(new URL(location).searchParams.get('SAMLResponse')!, 'base64')).toString();
    expect(answer).toContain('InResponseTo="_logout1"');
    expect(answer).toContain('urn:oasis:names:tc:SAML:2.0:status:Success');
    expect(await alive(b1)).toBe(false);
    expect(await alive(b2)).toBe(false);
    expect(await alive(other)).toBe(true);
  });

  it('IdP-initiated (HTTP-POST): a signed LogoutRequest ends the sessions; a SessionIndex limits it to that IdP session', async () => {
    const nameId = `${randomBytes(4).toString('hex')}@example.com`;
    const b = await signedIn(nameId);
    const other = await new Browser().postForm(slo(t), { SAMLRequest: Buffer.from(signXml(request({ nameId, sessionIndex: '_another' }), idp.keys, 'LogoutRequest')).toString('base64') });
    expect(other.status).toBe(303);
    expect(await alive(b)).toBe(true);
    const res = await new Browser().postForm(slo(t), { SAMLRequest: Buffer.from(signXml(request({ nameId, sessionIndex: '_s1' }), idp.keys, 'LogoutRequest')).toString('base64') });
    expect(res.status).toBe(303);
    expect(await alive(b)).toBe(false);
  });

  it('refuses hostile logout requests (unsigned, SHA-1, rogue key, tampered, stale, replayed, misdirected, unknown issuer) and keeps the session', async () => {
    const nameId = `${randomBytes(4).toString('hex')}@example.com`;
    const b = await signedIn(nameId);
    const rogue = keyPair('Rogue');
    await refusedGet(redirectQuery('SAMLRequest', request({ nameId }), null), 'refused');
    await refusedGet(redirectQuery('SAMLRequest', request({ nameId }), idp.keys, RSA_SHA1), 'refused');
    await refusedGet(redirectQuery('SAMLRequest', request({ nameId }), rogue), 'invalid_message');
    const signed = redirectQuery('SAMLRequest', request({ nameId: 'someone@example.com' }), idp.keys);
    const swapped = `SAMLRequest=${encodeURIComponent(deflateRawSync(Buffer.from(request({ nameId }))).toString('base64'))}&${signed.split('&').slice(1).join('&')}`;
    await refusedGet(swapped, 'invalid_message');
    await refusedGet(redirectQuery('SAMLRequest', request({ nameId, issueInstant: new Date(Date.now() - 10 * 60_000).toISOString() }), idp.keys), 'expired');
    await refusedGet(redirectQuery('SAMLRequest', request({ nameId, destination: 'https://evil.example.com/slo' }), idp.keys), 'wrong_destination');
    await refusedGet(redirectQuery('SAMLRequest', request({ nameId, issuer: 'https://unknown-idp.example.com' }), idp.keys), 'unknown_issuer');
    await refusedGet(redirectQuery('SAMLRequest', `<!DOCTYPE x [<!ENTITY e "e">]>${request({ nameId })}`, idp.keys), 'refused');
    // A tiny deflated URL that inflates to thousands of elements: refused by its shape before it is parsed.
    const flood = await refusedGet(redirectQuery('SAMLRequest', request({ nameId }).replace('</samlp:LogoutRequest>', `${'<x/>'.repeat(5000)}</samlp:LogoutRequest>`), null), 'refused');
    expect(flood.reason).toContain('logout message too large');
    const unsignedPost = await new Browser().postForm(slo(t), { SAMLRequest: Buffer.from(request({ nameId })).toString('base64') });
    expect(unsignedPost.status).toBe(400);
    expect(await alive(b)).toBe(true);
    // Replay: the first use works, the second is refused.
    const once = redirectQuery('SAMLRequest', request({ nameId: 'nobody@example.com' }), idp.keys);
    expect((await new Browser().request(`${slo(t)}?${once}`)).status).toBe(303);
    await refusedGet(once, 'replayed');
  });

  it('a logout request for tenant A never ends sessions at tenant B, even through an IdP both trust', async () => {
    const nameId = `${randomBytes(4).toString('hex')}@example.com`;
    const other = await tenantWithSaml(app, idp);
    const b = await signedIn(nameId, other.t, other.spMetadata);
    const forA = redirectQuery('SAMLRequest', request({ nameId }), idp.keys);
    expect((await new Browser().request(`${slo(other.t)}?${forA}`)).status).toBe(400);
    expect((await new Browser().request(`${slo(t)}?${forA}`)).status).toBe(303);
    expect(await alive(b, other.t)).toBe(true);
  });

  it('a logout request from one IdP never ends sessions another connection of the same tenant started for the same NameID', async () => {
    const nameId = `${randomBytes(4).toString('hex')}@example.com`;
    const { t: tenant, spMetadata, conn } = await tenantWithSaml(app, idp);
    const second = makeSamlIdp();
    const { addSamlConnection } = await import('../../src/sso/connections/add-saml-connection.js');
    const conn2 = await addSamlConnection(app.services, tenant, { metadataXml: second.metadata() });
    await cli(app.services, 'idp update', { tenant: tenant.slug, id: conn2.id, 'idp-initiated': 'on' });
    const viaFirst = new Browser();
    const viaSecond = new Browser();
    expect((await postToAcs(app, tenant, viaFirst, await idp.response(spMetadata, { nameId }))).status).toBe(303);
    expect((await postToAcs(app, tenant, viaSecond, await second.response(spMetadata, { nameId, attributes: { email: [`other.${nameId}`] } }))).status).toBe(303);
    expect(conn.id).not.toBe(conn2.id);
    const sloOf = `${app.url}/t/${tenant.slug}/saml/slo`;
    const fromSecond = logoutRequestXml({ destination: sloOf, nameId }, second.entityId);
    // The second IdP's request, but signed with the first IdP's key: its issuer decides whose certificates verify.
    expect((await new Browser().request(`${sloOf}?${redirectQuery('SAMLRequest', fromSecond, idp.keys)}`)).status).toBe(400);
    expect([await alive(viaFirst, tenant), await alive(viaSecond, tenant)]).toEqual([true, true]);
    expect((await new Browser().request(`${sloOf}?${redirectQuery('SAMLRequest', fromSecond, second.keys)}`)).status).toBe(303);
    expect([await alive(viaFirst, tenant), await alive(viaSecond, tenant)]).toEqual([true, false]);
  });

  it('refuses a LogoutRequest past its NotOnOrAfter, and a POST whose signature covers another element (wrapping)', async () => {
    const nameId = `${randomBytes(4).toString('hex')}@example.com`;
    const b = await signedIn(nameId);
    const expired = request({ nameId }).replace(' Version="2.0"', ` Version="2.0" NotOnOrAfter="${new Date(Date.now() - 5 * 60_000).toISOString()}"`);
    await refusedGet(redirectQuery('SAMLRequest', expired, idp.keys), 'invalid_message');
    // A genuinely signed LogoutRequest for somebody else, hidden inside an unsigned one naming the victim.
    const decoy = signXml(request({ nameId: 'nobody@example.com', id: '_decoy' }), idp.keys, 'LogoutRequest');
    const outer = request({ nameId }).replace('</saml:Issuer>', `</saml:Issuer><samlp:Extensions>${decoy.replace(/^<\?xml[^>]*>/, '')}</samlp:Extensions>`);
    const wrapped = await new Browser().postForm(slo(t), { SAMLRequest: Buffer.from(outer).toString('base64') });
    expect(wrapped.status).toBe(400);
    // The decoy's signature moved under the victim's request (its Reference still names _decoy).
    const signature = /<(\w+:)?Signature[\s\S]*<\/(\w+:)?Signature>/.exec(decoy)![0];
    const moved = request({ nameId }).replace('</saml:Issuer>', `</saml:Issuer>${signature}`);
    const movedRes = await new Browser().postForm(slo(t), { SAMLRequest: Buffer.from(moved).toString('base64') });
    expect(movedRes.status).toBe(400);
    expect(await alive(b)).toBe(true);
  });

  it('an EncryptedID is decrypted only with RSA-OAEP and AES-GCM/CBC, one of it, checked before decrypting', async () => {
    const nameId = `${randomBytes(4).toString('hex')}@example.com`;
    const b = await signedIn(nameId);
    const encryptedId = async (keyAlg?: string, data = 'http://www.w3.org/2009/xmlenc11#aes256-gcm') =>
      (await encryptAssertionFor(spCertificates(sp, 'encryption')[0]!, `<saml:NameID xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${nameId}</saml:NameID>`, data, keyAlg))
        .replace('<saml:EncryptedAssertion', '<saml:EncryptedID')
        .replace('</saml:EncryptedAssertion>', '</saml:EncryptedID>');
    const withId = async (...ids: string[]) => request({ nameId }).replace(/<saml:NameID[^>]*>[^<]*<\/saml:NameID>/, ids.join(''));
    const post = async (xml: string) => new Browser().postForm(slo(t), { SAMLRequest: Buffer.from(signXml(xml, idp.keys, 'LogoutRequest')).toString('base64') });
    for (const [xml, why] of [
      [await withId(await encryptedId('http://www.w3.org/2001/04/xmlenc#rsa-1_5')), /rsa-1_5/],
      [await withId(await encryptedId(undefined, 'http://www.w3.org/2001/04/xmlenc#tripledes-cbc')), /tripledes-cbc/],
      [await withId(await encryptedId(), await encryptedId()), /2 encrypted elements/],
    ] as const) {
      const res = await post(xml);
      expect(res.status).toBe(400);
      const trace = await cli(app.services, 'sso-trace show', { id: /trc_[0-9a-z]+/.exec(await res.text())![0] });
      expect(trace.reason).toMatch(/^refused:/);
      expect(trace.reason).toMatch(why);
      expect(await alive(b)).toBe(true);
    }
    // Control: RSA-OAEP with AES-256-GCM decrypts and ends the session.
    expect((await post(await withId(await encryptedId()))).status).toBe(303);
    expect(await alive(b)).toBe(false);
  });

  it('SP-initiated: sign-out sends a signed LogoutRequest to the IdP; its signed LogoutResponse is accepted once', async () => {
    const nameId = `${randomBytes(4).toString('hex')}@example.com`;
    const b = await signedIn(nameId);
    const page = await (await b.request(`${app.url}/t/${t.slug}/logout`)).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
    const res = await b.postForm(`${app.url}/t/${t.slug}/logout`, { csrf });
    expect(res.status).toBe(303);
    const location = res.headers.get('location')!;
    expect(location.startsWith(`${idp.sloUrl}?`)).toBe(true);
    expect(redirectSignedBy(location, spCertificates(sp, 'signing')[0]!)).toBe(true);
    const sent = inflateRawSync(Buffer.from(new URL(location).searchParams.get('SAMLRequest')!, 'base64')).toString();
    expect(sent).toContain(`>${nameId}</saml:NameID>`);
    expect(sent).toContain('_s1</saml2p:SessionIndex>');
    expect(await alive(b)).toBe(false);

    const id = /ID="([^"]+)"/.exec(sent)![1]!;
    const response = `<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r${randomBytes(6).toString('hex')}" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${slo(t)}" InResponseTo="${id}"><saml:Issuer>${idp.entityId}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>`;
    await refusedGet(redirectQuery('SAMLResponse', response, null), 'refused');
    const done = await b.request(`${slo(t)}?${redirectQuery('SAMLResponse', response, idp.keys)}`);
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('You are signed out.');
    await refusedGet(redirectQuery('SAMLResponse', response, idp.keys), 'invalid_message');
    await refusedGet(redirectQuery('SAMLResponse', response.replace(id, '_not-ours'), idp.keys), 'invalid_message');
  });
});
