import { X509Certificate } from 'node:crypto';
import type { Profile } from '@node-saml/node-saml';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { enabledConnections, findConnectionByIssuer, findConnectionEvenDisabled, type Connection } from '../connections/manage-connections.js';
import { currentCerts } from './parse-idp-metadata.js';
import { consumeLoginState, peekLoginState } from '../login-state.js';
import { purposeOfState, staleAuthentication } from '../login/login-purpose.js';
import { profileOf, type ReceivedClaims } from '../login/received.js';
import type { SsoSuccess } from '../oidc/finish-oidc-login.js';
import { SsoError, ssoMessages } from '../sso-error.js';
import { maskEmail } from '../traces/sso-traces.js';
import { inspectResponse, ResponseRefused } from './inspect-response.js';
import { rememberAssertion } from './replay-cache.js';
import { SAML_SKEW_MS, samlInstance, spAcsUrl } from './saml-instance.js';
import { spKeys } from './sp-keys.js';

type Obj = Record<string, unknown>;
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);
const attr = (o: Obj | undefined, name: string) => (o?.$ as Obj | undefined)?.[name] as string | undefined;

/**
 * The ACS (HTTP-POST binding). Order: raw-XML refusals (DOCTYPE, comments, SHA-1) → connection by Issuer →
 * Destination = our ACS → IdP-initiated only if the connection allows it → node-saml (signature with the metadata
 * certificates, audience, time window ±2 min, InResponseTo) → on the validated assertion: Issuer = connection, a
 * bearer confirmation for our ACS still within its NotOnOrAfter, assertion-ID replay cache → the AuthnRequest state
 * consumed (SP-initiated: its return path and browser binding, checked at /saml/complete) or RelayState
 * (IdP-initiated) for the return path.
 */
export async function consumeSamlResponse(s: Services, t: TenantCtx, body: Obj): Promise<SsoSuccess & { browser: string | null }> {
  const acs = spAcsUrl(s, t);
  const summary: Obj = { protocol: 'saml' };
  let testOf: string | null = null;
  const fail = (code: string, detail: string, connectionId: string | null = null) =>
    Object.assign(new SsoError('saml.acs', code, ssoMessages.failed, detail, 400, summary, connectionId), { tenant: t, testOf });
  if (typeof body.SAMLResponse !== 'string' || body.SAMLResponse.length === 0) throw fail('missing_response', 'no SAMLResponse in the POST');
  const keys = await spKeys(s, t);
  let facts;
  try {
    facts = await inspectResponse(body.SAMLResponse, keys.encryption.map((k) => k.privateKeyPem));
  } catch (err) {
    if (err instanceof ResponseRefused) throw fail('refused', err.message);
    throw err;
  }
  Object.assign(summary, { issuer: facts.issuer, destination: facts.destination, inResponseTo: facts.inResponseTo, responseSigned: facts.responseSigned });
  // An admin's "Test sign-in" may try a connection that is not turned on yet: the pending request names it.
  const pending = facts.inResponseTo ? await peekLoginState(s, t, facts.inResponseTo) : null;
  const tested = pending && pending.tenantId === t.id && pending.data.kind === 'saml' && purposeOfState(pending.data).test ? await findConnectionEvenDisabled(t, pending.connectionId) : null;
  if (tested && tested.kind === 'saml' && tested.issuer === facts.issuer) testOf = tested.id;
  let conn = testOf ? tested : facts.issuer ? await findConnectionByIssuer(t, 'saml', facts.issuer) : null;
  if (!conn && !facts.issuer) {
    const saml = (await enabledConnections(t)).filter((c) => c.kind === 'saml');
    if (saml.length === 1) conn = saml[0]!;
  }
  if (!conn) throw fail('unknown_issuer', `no SAML connection for issuer ${facts.issuer ?? '(none)'}`);
  // SAML bindings §3.5.5.2: a signed response must name where it was sent; an unsigned one may, and must then be us.
  if ((facts.destination ?? (facts.responseSigned ? '' : acs)) !== acs) throw fail('wrong_destination', `Destination ${facts.destination ?? '(missing)'} is not ${acs}`, conn.id);
  // IdP-initiated SSO cannot be bound to the browser (login CSRF, issue 8 §2): only where the admin turned it on.
  if (!facts.inResponseTo && !conn.config.saml!.idpInitiated) {
    throw Object.assign(new SsoError('saml.acs', 'idp_initiated_off', ssoMessages.idpInitiatedOff, 'response without InResponseTo (IdP-initiated) and the connection has --idp-initiated off', 400, summary, conn.id), { tenant: t });
  }

  const saml = await samlInstance(s, t, conn, '', facts.decryptionKey ?? undefined);
  let profile: Profile | null;
  try {
    ({ profile } = await saml.validatePostResponseAsync({ SAMLResponse: body.SAMLResponse }));
  } catch (err) {
    throw fail('invalid_response', (err as Error).message.slice(0, 500), conn.id);
  }
  if (!profile) throw fail('invalid_response', 'no assertion in the response', conn.id);
  const assertion = (profile.getAssertion?.() as Obj | undefined)?.Assertion as Obj | undefined;
  const assertionId = attr(assertion, 'ID');
  Object.assign(summary, { assertionId, nameId: maskEmail(profile.nameID), attributeNames: Object.keys((profile.attributes as Obj) ?? {}) });
  if (profile.issuer !== conn.issuer) throw fail('wrong_issuer', `assertion issuer ${profile.issuer} is not ${conn.issuer}`, conn.id);
  const confirmations = arr(arr(assertion?.Subject)[0]?.SubjectConfirmation).filter((c) => attr(c, 'Method') === 'urn:oasis:names:tc:SAML:2.0:cm:bearer');
  checkBearerConfirmation(confirmations.map((c) => arr(c.SubjectConfirmationData)[0]), acs, s.clock.now(), (code, detail) => fail(code, detail, conn.id));
  if (!assertionId || !profile.nameID) throw fail('invalid_response', 'assertion without ID or NameID', conn.id);
  // The signed assertion names the request it answers (SAML profiles §4.1.4.2: the bearer SubjectConfirmationData
  // InResponseTo MUST match the AuthnRequest ID): an unsigned Response may not drop or change that (which would turn
  // an SP-initiated response into an IdP-initiated one, skipping the InResponseTo check), nor add one to an
  // unsolicited assertion (which would pass it off as the answer to a request, past the --idp-initiated switch).
  const signedIrt = confirmations.map((c) => attr(arr(c.SubjectConfirmationData)[0], 'InResponseTo')).find(Boolean) ?? null;
  if (signedIrt !== facts.inResponseTo) throw fail('bad_in_response_to', `assertion answers ${signedIrt ?? '(no request)'}, response says ${facts.inResponseTo ?? '(none)'}`, conn.id);
  const notOnOrAfter = [attr(arr(assertion?.Conditions)[0], 'NotOnOrAfter'), ...confirmations.map((c) => attr(arr(c.SubjectConfirmationData)[0], 'NotOnOrAfter'))]
    .map((d) => new Date(d ?? NaN).getTime()) // a missing or unreadable date is NaN: dropped on the next line
    .filter((n) => !Number.isNaN(n));
  const keepUntil = new Date(Math.max(s.clock.now().getTime() + 10 * 60_000, ...notOnOrAfter) + SAML_SKEW_MS);
  if (!(await rememberAssertion(s, t, conn.issuer, assertionId, keepUntil))) throw fail('replayed', `assertion ${assertionId} was already used`, conn.id);

  let returnTo = typeof body.RelayState === 'string' ? body.RelayState : '';
  let browser: string | null = null; // IdP-initiated: nothing to bind to
  const authn = arr(assertion?.AuthnStatement)[0];
  const authnInstant = attr(authn, 'AuthnInstant') ? new Date(attr(authn, 'AuthnInstant')!) : null;
  let purpose = {};
  if (facts.inResponseTo) {
    const state = await consumeLoginState(s, t, facts.inResponseTo);
    if (!state || state.tenantId !== t.id || state.connectionId !== conn.id) throw fail('bad_in_response_to', 'InResponseTo already used or unknown', conn.id);
    returnTo = String(state.data.returnTo ?? '');
    browser = String(state.data.browser ?? '');
    const { requestedAt, ...rest } = purposeOfState(state.data);
    purpose = rest;
    // We sent ForceAuthn="true": an AuthnInstant from before the request is the IdP's old session, not a new sign-in.
    const stale = staleAuthentication(requestedAt, authnInstant);
    if (stale) throw fail('stale_authentication', stale, conn.id);
  }
  const received: ReceivedClaims = {
    protocol: 'saml',
    issuer: profile.issuer,
    subject: profile.nameID,
    ...(profile.nameIDFormat && { nameIdFormat: profile.nameIDFormat }),
    ...(authnInstant && !Number.isNaN(authnInstant.getTime()) && { authnInstant: authnInstant.toISOString() }),
    ...(authnContextOf(authn) && { authnContext: authnContextOf(authn) }),
    ...(profile.sessionIndex && { sessionIndex: profile.sessionIndex }),
    assertionId,
    // node-saml required the assertion's own signature unless the connection accepts a signed Response alone.
    signature: { signed: conn.config.saml!.acceptUnsignedAssertions && facts.responseSigned ? 'response' : 'assertion', ...verifyingCert(assertion, conn, s.clock.now()) },
    attributes: (profile.attributes as Obj | undefined) ?? {},
  };
  const idpSession = { idpSubject: profile.nameID, ...(profile.sessionIndex && { idpSession: profile.sessionIndex }), ...(profile.nameIDFormat && { idpNameIdFormat: profile.nameIDFormat }) };
  return { t, conn, profile: profileOf(received, conn.config.mapping), returnTo, idpSession, browser, purpose, received };
}

/**
 * The fingerprint of the metadata certificate that verified the signature, for the admin to compare with the IdP's
 * console: the one the signature's KeyInfo names when it is one of ours, else the only currently valid one.
 */
function verifyingCert(assertion: Obj | undefined, conn: Connection, now: Date): { certificateSha256?: string } {
  const current = currentCerts(conn.config.saml!.signingCerts, now);
  const local = (o: Obj | undefined, name: string) => arr(o?.[name] ?? o?.[`ds:${name}`]);
  const keyInfo = local(local(local(local(assertion, 'Signature')[0], 'KeyInfo')[0], 'X509Data')[0], 'X509Certificate')[0] as unknown;
  const named = typeof keyInfo === 'string' ? keyInfo.replace(/\s+/g, '') : undefined;
  const body = current.find((c) => c === named) ?? (current.length === 1 ? current[0] : undefined);
  return body ? { certificateSha256: new X509Certificate(Buffer.from(body, 'base64')).fingerprint256 } : {};
}

const authnContextOf = (authn: Obj | undefined): string | undefined => {
  const ref = arr(arr(authn?.AuthnContext)[0]?.AuthnContextClassRef)[0] as unknown;
  return typeof ref === 'string' ? ref : typeof (ref as Obj | undefined)?._ === 'string' ? ((ref as Obj)._ as string) : undefined;
};

/**
 * SAML profiles §4.1.4.2-3: a bearer SubjectConfirmationData must name our ACS as Recipient and carry NotOnOrAfter;
 * the assertion may only be delivered before then (± skew). node-saml checks the time only for SP-initiated responses
 * and never the Recipient, so this runs for every response, IdP-initiated included.
 */
export function checkBearerConfirmation(data: (Obj | undefined)[], acs: string, now: Date, fail: (code: string, detail: string) => Error): void {
  const forUs = data.filter((d) => attr(d, 'Recipient') === acs);
  if (forUs.length === 0) throw fail('wrong_recipient', `Recipient ${data.map((d) => attr(d, 'Recipient')).join(', ') || '(missing)'} is not ${acs}`);
  const at = now.getTime();
  const inWindow = forUs.some((d) => {
    const notOnOrAfter = Date.parse(attr(d, 'NotOnOrAfter') ?? '');
    const notBefore = attr(d, 'NotBefore') === undefined ? -Infinity : Date.parse(attr(d, 'NotBefore')!);
    return at < notOnOrAfter + SAML_SKEW_MS && notBefore - SAML_SKEW_MS <= at;
  });
  if (!inWindow) throw fail('expired_confirmation', `bearer SubjectConfirmationData NotOnOrAfter ${forUs.map((d) => attr(d, 'NotOnOrAfter') ?? '(missing)').join(', ')} has passed (now ${now.toISOString()})`);
}
