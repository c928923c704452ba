import type { Profile } from '@node-saml/node-saml';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { defaultSamlMapping } from '../connections/connection-config.js';
import { enabledConnections, findConnectionByIssuer } from '../connections/manage-connections.js';
import { consumeLoginState } from '../login-state.js';
import type { SsoSuccess } from '../oidc/finish-oidc-login.js';
import { SsoError, ssoMessages } from '../sso-error.js';
import { maskEmail } from '../traces/sso-traces.js';
import { mapProfile } from '../users/map-profile.js';
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
  const fail = (code: string, detail: string, connectionId: string | null = null) =>
    Object.assign(new SsoError('saml.acs', code, ssoMessages.failed, detail, 400, summary, connectionId), { tenant: t });
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
  let conn = facts.issuer ? await findConnectionByIssuer(t, 'saml', facts.issuer) : null;
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
  // The signed assertion names the request it answers: an unsigned Response may not drop or change that (which would
  // turn an SP-initiated response into an IdP-initiated one, skipping the InResponseTo check).
  const signedIrt = confirmations.map((c) => attr(arr(c.SubjectConfirmationData)[0], 'InResponseTo')).find(Boolean);
  if (signedIrt && signedIrt !== facts.inResponseTo) throw fail('bad_in_response_to', `assertion answers ${signedIrt}, response says ${facts.inResponseTo ?? '(none)'}`, conn.id);
  const notOnOrAfter = [attr(arr(assertion?.Conditions)[0], 'NotOnOrAfter'), ...confirmations.map((c) => attr(arr(c.SubjectConfirmationData)[0], 'NotOnOrAfter'))]
    .map((d) => new Date(d ?? NaN).getTime()) // a missing or unreadable date is NaN: dropped on the next line
    .filter((n) => !Number.isNaN(n));
  const keepUntil = new Date(Math.max(s.clock.now().getTime() + 10 * 60_000, ...notOnOrAfter) + SAML_SKEW_MS);
  if (!(await rememberAssertion(s, t, conn.issuer, assertionId, keepUntil))) throw fail('replayed', `assertion ${assertionId} was already used`, conn.id);

  let returnTo = typeof body.RelayState === 'string' ? body.RelayState : '';
  let browser: string | null = null; // IdP-initiated: nothing to bind to
  if (facts.inResponseTo) {
    const state = await consumeLoginState(s, facts.inResponseTo);
    if (!state || state.tenantId !== t.id || state.connectionId !== conn.id) throw fail('bad_in_response_to', 'InResponseTo already used or unknown', conn.id);
    returnTo = String(state.data.returnTo ?? '');
    browser = String(state.data.browser ?? '');
  }
  const attrs = (profile.attributes as Obj | undefined) ?? {};
  // Without an e-mail attribute the NameID stands in for one; mapProfile keeps it only if it is an address (whatever
  // the NameID format says), so no format check here (issue 18: such a check could never change the outcome).
  const fallbackEmail = profile.nameID;
  const idpSession = { idpSubject: profile.nameID, ...(profile.sessionIndex && { idpSession: profile.sessionIndex }), ...(profile.nameIDFormat && { idpNameIdFormat: profile.nameIDFormat }) };
  return { t, conn, profile: mapProfile(profile.nameID, attrs, defaultSamlMapping, conn.config.mapping, fallbackEmail), returnTo, idpSession, browser };
}

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
