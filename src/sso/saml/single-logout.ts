import { inflateRawSync } from 'node:zlib';
import { parseDomFromString, xpath } from '@node-saml/node-saml/lib/xml.js';
import { SAML_MESSAGE_BOUNDS, xmlOutOfBounds } from './xml-bounds.js';

/** A logout message is a few kilobytes (an ID, a NameID, a signature): 64 KB is generous. */
const SLO_MAX_BYTES = 64 * 1024;
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { findConnection, findConnectionByIssuer } from '../connections/manage-connections.js';
import { consumeLoginState } from '../login-state.js';
import { endIdpSessions } from '../logout/end-idp-sessions.js';
import { SsoError, ssoMessages } from '../sso-error.js';
import { checkEncryptionAlgorithms, ResponseRefused, weakSignatureAlgorithm } from './inspect-response.js';
import { rememberOnce } from './replay-cache.js';
import { SAML_SKEW_MS, samlInstance, spSloUrl } from './saml-instance.js';

/** Redirect-binding signature algorithms we accept (SAML bindings §3.4.4.1); SHA-1 is refused as everywhere. */
const sigAlgs = new Set([
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha384',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
]);
/** A LogoutRequest is acted on only this long after its IssueInstant (± skew); its ID is single-use meanwhile. */
const MAX_AGE_MS = 5 * 60_000;

export interface SloMessage {
  binding: 'redirect' | 'post';
  /** The form fields (POST) or the parsed query (Redirect). */
  fields: Record<string, unknown>;
  /** Redirect: the raw query string, as signed (the signature covers the URL-encoded bytes). */
  rawQuery?: string;
}

export type SloOutcome = { redirect: string } | { signedOut: true };

/**
 * `GET|POST B/t/{slug}/saml/slo`, both bindings (SAML profiles §4.4). A LogoutRequest from the IdP ends the sessions
 * it names (NameID, SessionIndex) and is answered with a signed LogoutResponse; a LogoutResponse answers one of our
 * LogoutRequests (its InResponseTo single-use). Every message must be signed by the connection's IdP — node-saml
 * would take an unsigned Redirect message — with SHA-256 or better, name our SLO URL as Destination, and carry no
 * DOCTYPE or comments.
 */
export async function receiveSloMessage(s: Services, t: TenantCtx, m: SloMessage): Promise<SloOutcome> {
  const summary: Record<string, unknown> = { protocol: 'saml', binding: m.binding };
  const fail = (code: string, detail: string, connectionId: string | null = null) =>
    Object.assign(new SsoError('saml.slo', code, ssoMessages.failed, detail, 400, summary, connectionId), { tenant: t });
  const field = typeof m.fields.SAMLRequest === 'string' ? 'SAMLRequest' : typeof m.fields.SAMLResponse === 'string' ? 'SAMLResponse' : null;
  if (!field) throw fail('missing_message', 'no SAMLRequest or SAMLResponse');
  const encoded = String(m.fields[field]);
  let xml: string;
  try {
    xml = m.binding === 'redirect' ? inflateRawSync(Buffer.from(encoded, 'base64'), { maxOutputLength: SLO_MAX_BYTES }).toString('utf8') : Buffer.from(encoded, 'base64').toString('utf8');
  } catch {
    throw fail('malformed', 'the message is not deflated base64, or inflates to more than 64 KB');
  }
  // Bounded before it is parsed: the endpoint is anonymous, and XPath's cost grows faster than the message.
  const outside = xmlOutOfBounds(xml, { ...SAML_MESSAGE_BOUNDS, maxChars: SLO_MAX_BYTES });
  if (outside) throw fail('refused', `logout message too large: ${outside}`);
  if (/<!DOCTYPE|<!ENTITY/i.test(xml) || xml.includes('<!--')) throw fail('refused', 'DOCTYPE, ENTITY or comment in the logout message');
  const doc = await parseDomFromString(xml).catch(() => null);
  const root = doc?.documentElement;
  const expected = field === 'SAMLRequest' ? 'LogoutRequest' : 'LogoutResponse';
  if (!doc || root?.localName !== expected) throw fail('malformed', `not a samlp:${expected}`);
  // An EncryptedID (SAML core §3.7.1) is decrypted by node-saml with our key: only one, with the algorithms the ACS
  // accepts (RSA-OAEP, AES-GCM/CBC — never rsa-1_5 or 3DES), checked before anything is decrypted.
  const encrypted = xpath.selectElements(doc, "//*[local-name()='EncryptedID' or local-name()='EncryptedAssertion' or local-name()='EncryptedAttribute']");
  try {
    if (encrypted.length > 1) throw new ResponseRefused(`${encrypted.length} encrypted elements in the logout message: at most one EncryptedID is allowed`);
    if (encrypted[0]) checkEncryptionAlgorithms(encrypted[0]);
  } catch (err) {
    if (err instanceof ResponseRefused) throw fail('refused', err.message);
    throw err;
  }
  const issuer = xpath.selectElements(root, "./*[local-name()='Issuer']")[0]?.textContent?.trim() ?? '';
  Object.assign(summary, { issuer, messageType: expected });
  const conn = issuer ? await findConnectionByIssuer(t, 'saml', issuer) : null;
  if (!conn) throw fail('unknown_issuer', `no SAML connection for issuer ${issuer || '(none)'}`);
  // SAML bindings §3.4.5.2 / §3.5.5.2: a signed message must name where it was sent.
  if (root.getAttribute('Destination') !== spSloUrl(s, t)) throw fail('wrong_destination', `Destination ${root.getAttribute('Destination') || '(missing)'} is not ${spSloUrl(s, t)}`, conn.id);

  const saml = await samlInstance(s, t, conn, '', undefined, 'logout');
  let profile: Awaited<ReturnType<typeof saml.validateRedirectAsync>>['profile'];
  try {
    if (m.binding === 'redirect') {
      const sigAlg = typeof m.fields.SigAlg === 'string' ? m.fields.SigAlg : '';
      if (typeof m.fields.Signature !== 'string' || !sigAlgs.has(sigAlg)) throw fail('refused', `unsigned, or SigAlg ${sigAlg || '(none)'} is not allowed: RSA-SHA256 or better required`, conn.id);
      ({ profile } = await saml.validateRedirectAsync(m.fields as Record<string, string>, m.rawQuery ?? ''));
    } else {
      const weak = weakSignatureAlgorithm(root);
      if (xpath.selectElements(root, "./*[local-name()='Signature']").length !== 1 || weak) throw fail('refused', weak ? `${weak} is not allowed: SHA-256 or better required` : 'unsigned logout message', conn.id);
      ({ profile } = field === 'SAMLRequest' ? await saml.validatePostRequestAsync({ SAMLRequest: encoded }) : await saml.validatePostResponseAsync({ SAMLResponse: encoded }));
    }
  } catch (err) {
    if (err instanceof SsoError) throw err;
    throw fail('invalid_message', (err as Error).message.slice(0, 500), conn.id);
  }

  if (field === 'SAMLResponse') {
    const inResponseTo = root.getAttribute('InResponseTo') ?? '';
    const state = inResponseTo ? await consumeLoginState(s, t, inResponseTo) : null;
    if (!state || state.tenantId !== t.id || state.connectionId !== conn.id || state.data.kind !== 'saml-logout') throw fail('bad_in_response_to', 'LogoutResponse to no logout request of ours', conn.id);
    return { signedOut: true };
  }
  const issued = Date.parse(root.getAttribute('IssueInstant') ?? '');
  const now = s.clock.now().getTime();
  if (!(Math.abs(now - issued) <= MAX_AGE_MS + SAML_SKEW_MS)) throw fail('expired', `IssueInstant ${root.getAttribute('IssueInstant') ?? '(missing)'} is outside ±5 minutes`, conn.id);
  const id = root.getAttribute('ID') ?? '';
  if (!id || !(await rememberOnce(s, t, 'saml-logout-request', `${conn.issuer}|${id}`, new Date(issued + MAX_AGE_MS + 2 * SAML_SKEW_MS)))) throw fail('replayed', `LogoutRequest ${id || '(no ID)'} was already used`, conn.id);
  const sessionIndexes = xpath.selectElements(root, "./*[local-name()='SessionIndex']").map((e) => (e.textContent ?? '').trim()).filter(Boolean);
  await endIdpSessions(s, t, conn, { subject: profile!.nameID, sessions: sessionIndexes.length ? sessionIndexes : undefined }, 'saml-slo');
  // SAML profiles §4.4.3.4: answer with a LogoutResponse (signed by node-saml with our signing key, HTTP-Redirect).
  if (!conn.config.saml!.sloUrl) return { signedOut: true };
  const relayState = typeof m.fields.RelayState === 'string' ? m.fields.RelayState : '';
  return { redirect: await saml.getLogoutResponseUrlAsync(profile!, relayState, {}, true) };
}

/**
 * SP-initiated single logout: after our own sign-out, where to send the browser so the IdP ends its session too — a
 * signed LogoutRequest (HTTP-Redirect) naming the NameID and SessionIndex this session was created with; null when
 * the session did not come from a SAML IdP with a SingleLogoutService.
 */
export async function samlLogoutUrl(s: Services, t: TenantCtx, session: { connectionId: string | null; data: unknown }): Promise<string | null> {
  const data = (session.data ?? {}) as Record<string, unknown>;
  const conn = session.connectionId ? await findConnection(t, session.connectionId) : null;
  if (!conn || conn.kind !== 'saml' || !conn.config.saml?.sloUrl || typeof data.idpSubject !== 'string') return null;
  const saml = await samlInstance(s, t, conn, '', undefined, 'logout');
  const user = { nameID: data.idpSubject, nameIDFormat: typeof data.idpNameIdFormat === 'string' ? data.idpNameIdFormat : 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified', sessionIndex: typeof data.idpSession === 'string' ? data.idpSession : undefined };
  return saml.getLogoutUrlAsync(user as never, '', {});
}
