import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { selfSignedCertificate } from '../../src/sso/saml/self-signed-cert.js';
import type { Services } from '../../src/services.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import type { Connection } from '../../src/sso/connections/manage-connections.js';
import { SsoError } from '../../src/sso/sso-error.js';

/**
 * The ACS's own guards (consume-saml-response.ts), each on its own (issue 18). Its collaborators are stand-ins that
 * vouch for anything unless a test says otherwise: the raw-XML inspection, the connection lookup, node-saml's
 * validation (which would otherwise refuse first, e.g. an InResponseTo its cache does not know), the replay cache and
 * the login state. So each test's response passes every other check, and only the guard under test refuses it. The
 * stand-ins' real counterparts are proven in saml-inspect-response.test.ts, saml-login.test.ts, saml-hostile.test.ts.
 */
type Obj = Record<string, unknown>;
const h = vi.hoisted(() => ({
  facts: {} as Obj,
  refuse: null as string | null,
  conns: [] as unknown[],
  validated: null as unknown,
  validateError: null as string | null,
  remembered: [] as unknown[][],
  replay: false,
  state: null as unknown,
  peek: undefined as unknown,
  disabled: [] as unknown[],
  consumed: [] as string[],
  samlArgs: [] as unknown[][],
  validatedArgs: [] as unknown[],
}));
vi.mock('../../src/sso/saml/sp-keys.js', () => ({ spKeys: async () => ({ encryption: [{ privateKeyPem: 'k1' }, { privateKeyPem: 'k2' }] }) }));
vi.mock('../../src/sso/saml/inspect-response.js', async (orig) => {
  const real = await orig<{ ResponseRefused: new (m: string) => Error }>();
  return {
    ...real,
    inspectResponse: async (xml: string, keys: string[]) => {
      expect(keys).toEqual(['k1', 'k2']);
      if (h.refuse) throw new real.ResponseRefused(h.refuse);
      if (xml === 'boom') throw new Error('parser crashed');
      return { xml, decryptionKey: null, ...h.facts };
    },
  };
});
vi.mock('../../src/sso/connections/manage-connections.js', () => ({
  findConnectionByIssuer: async (_t: unknown, kind: string, issuer: string) => (h.conns as Connection[]).find((c) => c.kind === kind && c.issuer === issuer) ?? null,
  enabledConnections: async () => h.conns,
  findConnectionEvenDisabled: async (_t: unknown, id: string) => ([...h.conns, ...h.disabled] as Connection[]).find((c) => c.id === id) ?? null,
}));
vi.mock('../../src/sso/saml/saml-instance.js', async (orig) => ({
  ...(await orig<object>()),
  samlInstance: async (...args: unknown[]) => {
    h.samlArgs.push(args);
    return {
      validatePostResponseAsync: async (arg: unknown) => {
        h.validatedArgs.push(arg);
        if (h.validateError) throw new Error(h.validateError);
        return { profile: h.validated };
      },
    };
  },
}));
vi.mock('../../src/sso/saml/replay-cache.js', () => ({
  rememberAssertion: async (...args: unknown[]) => (h.remembered.push(args), !h.replay),
}));
vi.mock('../../src/sso/login-state.js', () => ({
  consumeLoginState: async (_s: unknown, _t: unknown, key: string) => (h.consumed.push(key), h.state),
  // Read-only look at the pending request (is it an admin's test sign-in?): these states are ordinary logins.
  peekLoginState: async () => (h.peek === undefined ? h.state : h.peek),
}));
const { checkBearerConfirmation, consumeSamlResponse } = await import('../../src/sso/saml/consume-saml-response.js');

const NOW = new Date('2026-06-01T12:00:00Z');
const SKEW = 2 * 60_000;
const ACS = 'https://sso.test/t/acme/saml/acs';
const IDP = 'https://idp.example.com';
const t = { id: 'ten-1', slug: 'acme' } as TenantCtx;
const s = { config: { publicUrl: 'https://sso.test' }, clock: { now: () => NOW } } as unknown as Services;
const conn = (over: Obj = {}, saml: Obj = {}) => ({ id: 'con-1', kind: 'saml', issuer: IDP, name: 'idp', config: { saml: { idpInitiated: false, signingCerts: [], ...saml }, mapping: {} }, ...over }) as unknown as Connection;
const iso = (ms: number) => new Date(NOW.getTime() + ms).toISOString();

interface AssertionOpts {
  id?: string | undefined;
  authn?: Obj;
  signature?: Obj;
  confirmations?: Obj[];
  conditionsNotOnOrAfter?: string;
}
const confirmation = (data: Obj = {}, method = 'urn:oasis:names:tc:SAML:2.0:cm:bearer') => ({
  $: { Method: method },
  SubjectConfirmationData: [{ $: { Recipient: ACS, NotOnOrAfter: iso(5 * 60_000), InResponseTo: 'req-1', ...data } }],
});
function profile(over: Obj = {}, a: AssertionOpts = {}) {
  const assertion = {
    $: 'id' in a ? (a.id === undefined ? {} : { ID: a.id }) : { ID: 'as-1' },
    Subject: [{ SubjectConfirmation: a.confirmations ?? [confirmation()] }],
    Conditions: [{ $: { NotOnOrAfter: a.conditionsNotOnOrAfter ?? iso(5 * 60_000) } }],
    ...(a.authn && { AuthnStatement: [a.authn] }),
    ...(a.signature && a.signature),
  };
  return { issuer: IDP, nameID: 'alice@acme.com', nameIDFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress', sessionIndex: 'sess-9', attributes: { displayName: 'Alice' }, getAssertion: () => ({ Assertion: assertion }), ...over };
}

beforeEach(() => {
  h.facts = { issuer: IDP, destination: ACS, responseSigned: true, inResponseTo: 'req-1' };
  h.refuse = null;
  h.conns = [conn()];
  h.validated = profile();
  h.validateError = null;
  h.remembered = [];
  h.replay = false;
  h.state = { tenantId: 'ten-1', connectionId: 'con-1', data: { returnTo: '/t/acme/apps', browser: 'b-1' } };
  h.consumed = [];
  h.peek = undefined;
  h.disabled = [];
  h.samlArgs = [];
  h.validatedArgs = [];
});

const consume = (body: Obj = { SAMLResponse: 'xml', RelayState: '/relay' }) => consumeSamlResponse(s, t, body);
async function refusedCode(body?: Obj): Promise<SsoError> {
  const err = await consume(body).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(SsoError);
  return err as SsoError;
}

describe('SAML ACS: a response that passes everything', () => {
  it('SP-initiated: the state’s return path and browser, the mapped profile, the IdP session; replay cache keyed by issuer and ID', async () => {
    const r = await consume();
    expect(r.t).toBe(t);
    expect(r.conn).toBe(h.conns[0]);
    expect(r.returnTo).toBe('/t/acme/apps');
    expect(r.browser).toBe('b-1');
    expect(r.profile).toMatchObject({ subject: 'alice@acme.com', email: 'alice@acme.com', displayName: 'Alice' });
    expect(r.idpSession).toEqual({ idpSubject: 'alice@acme.com', idpSession: 'sess-9', idpNameIdFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress' });
    expect(h.consumed).toEqual(['req-1']);
    expect(h.remembered).toHaveLength(1);
    const [, , issuer, id, keepUntil] = h.remembered[0] as [unknown, unknown, string, string, Date];
    expect([issuer, id]).toEqual([IDP, 'as-1']);
    // Kept at least ten minutes (the replay window outlives any skewed NotOnOrAfter), plus the skew.
    expect(keepUntil.getTime()).toBe(NOW.getTime() + 10 * 60_000 + SKEW);
    expect(h.samlArgs[0]!.slice(2)).toEqual([h.conns[0], '', undefined]);
    expect(h.validatedArgs).toEqual([{ SAMLResponse: 'xml' }]);
  });

  it('keeps the assertion ID until the latest NotOnOrAfter (+ skew) when that is later than ten minutes', async () => {
    h.validated = profile({}, { conditionsNotOnOrAfter: iso(60 * 60_000), confirmations: [confirmation({ NotOnOrAfter: iso(30 * 60_000) })] });
    await consume();
    expect((h.remembered[0]![4] as Date).getTime()).toBe(NOW.getTime() + 60 * 60_000 + SKEW);
    h.remembered = [];
    h.validated = profile({}, { conditionsNotOnOrAfter: 'garbage', confirmations: [confirmation({ NotOnOrAfter: iso(20 * 60_000) })] });
    await consume();
    expect((h.remembered[0]![4] as Date).getTime()).toBe(NOW.getTime() + 20 * 60_000 + SKEW);
  });

  it('IdP-initiated where allowed: RelayState is the return path, no browser binding, no state consumed', async () => {
    h.conns = [conn({}, { idpInitiated: true })];
    h.facts = { ...h.facts, inResponseTo: null };
    h.validated = profile({}, { confirmations: [confirmation({ InResponseTo: undefined })] });
    const r = await consume();
    expect([r.returnTo, r.browser, h.consumed]).toEqual(['/relay', null, []]);
    const noRelay = await consume({ SAMLResponse: 'xml', RelayState: 42 });
    expect(noRelay.returnTo).toBe('');
  });

  it('a NameID that is not an e-mail is no e-mail fallback; a profile without session index or format', async () => {
    h.validated = profile({ nameID: 'opaque-123', nameIDFormat: undefined, sessionIndex: undefined, attributes: undefined });
    const r = await consume();
    expect(r.profile.email).toBeUndefined();
    expect(r.idpSession).toEqual({ idpSubject: 'opaque-123' });
    h.validated = profile({ nameID: 'bob@acme.com', nameIDFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent' });
    expect((await consume()).profile.email).toBe('bob@acme.com');
    h.validated = profile({ nameID: 'opaque', nameIDFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress' });
    expect((await consume()).profile.email).toBeUndefined(); // fallback offered, but not an address
  });

  it('a response without Issuer is matched to the only SAML connection; with several, or an OIDC one, nobody', async () => {
    h.facts = { ...h.facts, issuer: null };
    expect((await consume()).conn).toBe(h.conns[0]);
    h.conns = [conn(), conn({ id: 'con-2', issuer: 'https://idp2.example.com' })];
    expect((await refusedCode()).code).toBe('unknown_issuer');
    h.conns = [conn(), conn({ id: 'oidc-1', kind: 'oidc', issuer: 'https://op.example.com' })];
    expect((await consume()).conn).toBe(h.conns[0]);
  });
});

describe('SAML ACS: each guard on its own', () => {
  it('no SAMLResponse', async () => {
    for (const body of [{}, { SAMLResponse: '' }, { SAMLResponse: 42 }]) {
      const e = await refusedCode(body);
      expect([e.code, e.detail, e.stage, e.tenant]).toEqual(['missing_response', 'no SAMLResponse in the POST', 'saml.acs', t]);
    }
  });

  it('raw-XML refusal (DOCTYPE, comments, SHA-1) is a refusal; other errors propagate', async () => {
    h.refuse = 'DOCTYPE is not allowed';
    const e = await refusedCode();
    expect([e.code, e.detail]).toEqual(['refused', 'DOCTYPE is not allowed']);
    h.refuse = null;
    await expect(consume({ SAMLResponse: 'boom' })).rejects.toThrow('parser crashed');
  });

  it('unknown issuer (a connection of another issuer only)', async () => {
    h.facts = { ...h.facts, issuer: 'https://evil.example.com' };
    const e = await refusedCode();
    expect([e.code, e.detail, e.connectionId]).toEqual(['unknown_issuer', 'no SAML connection for issuer https://evil.example.com', null]);
    expect(e.summary).toMatchObject({ protocol: 'saml', issuer: 'https://evil.example.com', destination: ACS, inResponseTo: 'req-1', responseSigned: true });
    h.facts = { ...h.facts, issuer: null };
    h.conns = [];
    expect((await refusedCode()).detail).toBe('no SAML connection for issuer (none)');
  });

  it('Destination: another ACS; a signed response must name one; an unsigned one may omit it', async () => {
    h.facts = { ...h.facts, destination: 'https://sso.test/t/other/saml/acs' };
    const e = await refusedCode();
    expect([e.code, e.detail, e.connectionId]).toEqual(['wrong_destination', `Destination https://sso.test/t/other/saml/acs is not ${ACS}`, 'con-1']);
    h.facts = { ...h.facts, destination: null, responseSigned: true };
    expect((await refusedCode()).detail).toBe(`Destination (missing) is not ${ACS}`);
    h.facts = { ...h.facts, destination: null, responseSigned: false };
    await expect(consume()).resolves.toBeTruthy();
    h.facts = { ...h.facts, destination: 'https://evil/acs', responseSigned: false };
    expect((await refusedCode()).code).toBe('wrong_destination');
  });

  it('IdP-initiated when the connection does not allow it', async () => {
    h.facts = { ...h.facts, inResponseTo: null };
    h.validated = profile({}, { confirmations: [confirmation({ InResponseTo: undefined })] });
    const e = await refusedCode();
    expect([e.stage, e.code, e.message, e.connectionId, e.tenant, e.status]).toEqual(['saml.acs', 'idp_initiated_off', "Signing in from your company's app dashboard is turned off for this organisation. Start from the sign-in page below.", 'con-1', t, 400]);
    expect(e.detail).toBe('response without InResponseTo (IdP-initiated) and the connection has --idp-initiated off');
    expect(e.summary).toMatchObject({ issuer: IDP });
  });

  it('node-saml refuses (signature, audience, time): invalid_response with its message, bounded', async () => {
    h.validateError = `bad signature ${'x'.repeat(600)}`;
    const e = await refusedCode();
    expect([e.code, e.connectionId, e.detail?.length]).toEqual(['invalid_response', 'con-1', 500]);
    h.validateError = null;
    h.validated = null;
    const none = await refusedCode();
    expect([none.code, none.detail]).toEqual(['invalid_response', 'no assertion in the response']);
  });

  it('the assertion’s issuer must be the connection’s (a response Issuer of ours around another IdP’s assertion)', async () => {
    h.validated = profile({ issuer: 'https://evil.example.com' });
    const e = await refusedCode();
    expect([e.code, e.detail]).toEqual(['wrong_issuer', `assertion issuer https://evil.example.com is not ${IDP}`]);
    expect(h.remembered).toEqual([]);
  });

  it('a bearer confirmation for our ACS is required (other methods do not count)', async () => {
    h.validated = profile({}, { confirmations: [confirmation({}, 'urn:oasis:names:tc:SAML:2.0:cm:holder-of-key')] });
    const e = await refusedCode();
    expect([e.code, e.connectionId]).toEqual(['wrong_recipient', 'con-1']);
    h.validated = profile({}, { confirmations: [confirmation({ Recipient: 'https://evil/acs' })] });
    expect((await refusedCode()).code).toBe('wrong_recipient');
  });

  it('an assertion without ID, or without NameID (either would skip the replay cache)', async () => {
    h.validated = profile({}, { id: undefined });
    const e = await refusedCode();
    expect([e.code, e.detail]).toEqual(['invalid_response', 'assertion without ID or NameID']);
    h.validated = profile({ nameID: '' });
    expect((await refusedCode()).detail).toBe('assertion without ID or NameID');
    h.validated = profile({ getAssertion: undefined });
    expect((await refusedCode()).code).toBe('wrong_recipient'); // no assertion structure: no confirmation either
    expect(h.remembered).toEqual([]);
  });

  it('the signed assertion’s InResponseTo must be the response’s (an unsigned wrapper cannot drop or change it)', async () => {
    h.conns = [conn({}, { idpInitiated: true })];
    h.facts = { ...h.facts, inResponseTo: null };
    const e = await refusedCode();
    expect([e.code, e.detail]).toEqual(['bad_in_response_to', 'assertion answers req-1, response says (none)']);
    h.facts = { ...h.facts, inResponseTo: 'req-2' };
    expect((await refusedCode()).detail).toBe('assertion answers req-1, response says req-2');
  });

  it('an unsolicited assertion (no InResponseTo in its bearer confirmation) cannot be passed off as the answer to a request', async () => {
    // SAML profiles §4.1.4.2: the answer to an AuthnRequest names it in the signed SubjectConfirmationData. A Response
    // wrapper that adds InResponseTo (of a request of the attacker's own browser) around an unsolicited assertion
    // would otherwise slip it past --idp-initiated off and the assertion-ID-before-use order.
    h.validated = profile({}, { confirmations: [confirmation({ InResponseTo: undefined })] });
    const e = await refusedCode();
    expect([e.code, e.detail]).toEqual(['bad_in_response_to', 'assertion answers (no request), response says req-1']);
    expect(h.consumed).toEqual([]);
    expect(h.remembered).toEqual([]);
    // The same assertion delivered as what it is (IdP-initiated, where allowed) passes this guard.
    h.conns = [conn({}, { idpInitiated: true })];
    h.facts = { ...h.facts, inResponseTo: null };
    await expect(consume()).resolves.toMatchObject({ browser: null });
  });

  it('a replayed assertion ID', async () => {
    h.replay = true;
    const e = await refusedCode();
    expect([e.code, e.detail]).toEqual(['replayed', 'assertion as-1 was already used']);
    // The trace summary names the assertion (NameID masked) and the attribute names, never their values.
    expect(e.summary).toMatchObject({ assertionId: 'as-1', nameId: 'a***@acme.com', attributeNames: ['displayName'] });
    expect(h.consumed).toEqual([]);
  });

  it('InResponseTo state: unknown or used, another tenant’s, another connection’s', async () => {
    for (const state of [null, { tenantId: 'ten-2', connectionId: 'con-1', data: {} }, { tenantId: 'ten-1', connectionId: 'con-2', data: {} }]) {
      h.state = state;
      const e = await refusedCode();
      expect([e.code, e.detail]).toEqual(['bad_in_response_to', 'InResponseTo already used or unknown']);
    }
    h.state = { tenantId: 'ten-1', connectionId: 'con-1', data: {} };
    const r = await consume();
    expect([r.returnTo, r.browser]).toEqual(['', '']);
  });
});

describe('checkBearerConfirmation', () => {
  const fail = (code: string, detail: string) => Object.assign(new Error(detail), { code });
  const run = (data: (Obj | undefined)[], now = NOW) => {
    try {
      checkBearerConfirmation(data, ACS, now, fail);
      return 'ok';
    } catch (e) {
      return `${(e as { code: string }).code}: ${(e as Error).message}`;
    }
  };
  const d = ($: Obj) => ({ $: { Recipient: ACS, ...$ } });
  it('Recipient must be our ACS; the refusal lists what was named', () => {
    expect(run([])).toBe(`wrong_recipient: Recipient (missing) is not ${ACS}`);
    expect(run([undefined])).toBe(`wrong_recipient: Recipient (missing) is not ${ACS}`);
    expect(run([{ $: { Recipient: 'a' } }, { $: { Recipient: 'b' } }])).toBe(`wrong_recipient: Recipient a, b is not ${ACS}`);
  });
  it('NotOnOrAfter required and honoured with the skew, exclusive', () => {
    expect(run([d({ NotOnOrAfter: iso(-SKEW + 1) })])).toBe('ok');
    expect(run([d({ NotOnOrAfter: iso(-SKEW) })])).toBe(`expired_confirmation: bearer SubjectConfirmationData NotOnOrAfter ${iso(-SKEW)} has passed (now ${NOW.toISOString()})`);
    expect(run([d({ NotOnOrAfter: iso(-SKEW) }), d({ NotOnOrAfter: iso(-SKEW - 1) })])).toContain(`NotOnOrAfter ${iso(-SKEW)}, ${iso(-SKEW - 1)} has passed`);
    expect(run([d({})])).toBe(`expired_confirmation: bearer SubjectConfirmationData NotOnOrAfter (missing) has passed (now ${NOW.toISOString()})`);
  });
  it('NotBefore honoured with the skew, inclusive', () => {
    expect(run([d({ NotOnOrAfter: iso(60_000), NotBefore: iso(SKEW) })])).toBe('ok');
    expect(run([d({ NotOnOrAfter: iso(600_000), NotBefore: iso(SKEW + 1) })])).toMatch(/^expired_confirmation/);
  });
  it('one confirmation for us within its window is enough; one for someone else does not count', () => {
    expect(run([d({ NotOnOrAfter: iso(-600_000) }), d({ NotOnOrAfter: iso(60_000) })])).toBe('ok');
    expect(run([{ $: { Recipient: 'x', NotOnOrAfter: iso(60_000) } }, d({ NotOnOrAfter: iso(-600_000) })])).toMatch(/^expired_confirmation: bearer SubjectConfirmationData NotOnOrAfter .* has passed/);
  });
});

describe('SAML ACS: an admin’s “Test sign-in” and what it shows (issue 15)', () => {
  const testState = (over: Obj = {}, data: Obj = {}) => ({ tenantId: 'ten-1', connectionId: 'con-off', data: { kind: 'saml', returnTo: '/t/acme/admin/sso/test-result', browser: 'b-1', test: { adminSessionId: 'adm-1' }, ...data }, ...over });
  beforeEach(() => {
    // The connection under test is not turned on: the enabled-connection lookups do not know it.
    h.conns = [];
    h.disabled = [conn({ id: 'con-off' })];
    h.state = testState();
  });

  it('a pending test sign-in of this tenant uses the connection it names, turned on or not, and marks the failure as a test', async () => {
    const r = await consume();
    expect(r.conn.id).toBe('con-off');
    expect(r.purpose).toEqual({ test: { adminSessionId: 'adm-1' } });
    h.facts = { ...h.facts, destination: 'https://elsewhere.test/acs' };
    expect(await refusedCode()).toMatchObject({ code: 'wrong_destination', testOf: 'con-off' });
  });

  it('each condition of that choice on its own: this tenant, a SAML request, a test, a SAML connection, the same issuer', async () => {
    const cases: [string, () => void][] = [
      ['another tenant’s request', () => (h.peek = testState({ tenantId: 'ten-2' }))],
      ['an OIDC request', () => (h.peek = testState({}, { kind: 'oidc' }))],
      ['not a test', () => (h.peek = testState({}, { test: undefined }))],
      ['an OIDC connection', () => (h.disabled = [conn({ id: 'con-off', kind: 'oidc' })])],
      ['another issuer', () => (h.disabled = [conn({ id: 'con-off', issuer: 'https://other-idp.example.com' })])],
    ];
    for (const [name, arrange] of cases) {
      h.peek = undefined;
      h.disabled = [conn({ id: 'con-off' })];
      arrange();
      const err = await refusedCode();
      expect([name, err.code, (err as SsoError & { testOf?: unknown }).testOf]).toEqual([name, 'unknown_issuer', null]);
    }
  });
});

describe('SAML ACS: a forced sign-in (ForceAuthn) must be a new authentication', () => {
  const forced = (requestedAt: string) => ({ tenantId: 'ten-1', connectionId: 'con-1', data: { returnTo: '/t/acme/admin', browser: 'b-1', forceLogin: true, requestedAt } });
  const authnAt = (instant?: string) => profile({}, instant === undefined ? {} : { authn: { $: { AuthnInstant: instant } } });

  it('an AuthnInstant older than the request (beyond the skew), or none, is the IdP’s old session: refused; a fresh one passes', async () => {
    h.state = forced(iso(0));
    h.validated = authnAt(iso(-SKEW - 1));
    expect(await refusedCode()).toMatchObject({ code: 'stale_authentication' });
    h.validated = authnAt();
    expect(await refusedCode()).toMatchObject({ code: 'stale_authentication' });
    h.validated = authnAt(iso(-SKEW));
    expect((await consume()).purpose).toEqual({ forceLogin: true });
    // An ordinary (unforced) sign-in answered from the IdP's session is fine.
    h.state = { tenantId: 'ten-1', connectionId: 'con-1', data: { returnTo: '/x', browser: 'b-1' } };
    h.validated = authnAt(iso(-24 * 3600_000));
    expect((await consume()).purpose).toEqual({});
  });
});

describe('SAML ACS: what the IdP sent, as “Test sign-in” shows it (secret-free)', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const body = () => selfSignedCertificate({ privateKey, publicKey, commonName: 'idp', notBefore: new Date('2026-01-01T00:00:00Z'), years: 1 }).replace(/-----[^-]+-----|\s/g, '');
  const [certA, certB] = [body(), body()];
  const fp = (b: string) => new X509Certificate(Buffer.from(b, 'base64')).fingerprint256;
  const keyInfo = (b: string, prefix = '') => ({ [`${prefix}Signature`]: [{ [`${prefix}KeyInfo`]: [{ [`${prefix}X509Data`]: [{ [`${prefix}X509Certificate`]: [`${b.slice(0, 40)}\n  ${b.slice(40)}`] }] }] }] });
  const authn = (ref: unknown = ['urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport'], instant = iso(-30_000)) => ({ $: { AuthnInstant: instant, SessionIndex: 'sess-9' }, AuthnContext: [{ AuthnContextClassRef: ref }] });

  it('the decoded assertion: NameID and format, when and how, session, assertion ID, which signature and the certificate that verified it', async () => {
    h.conns = [conn({}, { signingCerts: [certA, certB] })];
    h.validated = profile({}, { authn: authn(), signature: keyInfo(certB) });
    expect((await consume()).received).toEqual({
      protocol: 'saml',
      issuer: IDP,
      subject: 'alice@acme.com',
      nameIdFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
      authnInstant: iso(-30_000),
      authnContext: 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport',
      sessionIndex: 'sess-9',
      assertionId: 'as-1',
      signature: { signed: 'assertion', certificateSha256: fp(certB) },
      attributes: { displayName: 'Alice' },
    });
    // `ds:`-prefixed signature elements name the certificate just as well; an AuthnContextClassRef with attributes too.
    h.validated = profile({}, { authn: authn([{ _: 'urn:x:mfa', $: { a: '1' } }]), signature: keyInfo(certA, 'ds:') });
    expect((await consume()).received).toMatchObject({ authnContext: 'urn:x:mfa', signature: { signed: 'assertion', certificateSha256: fp(certA) } });
  });

  it('without KeyInfo: the only current certificate, or none named when there are several; a signed Response alone only where accepted', async () => {
    h.conns = [conn({}, { signingCerts: [certA] })];
    expect((await consume()).received!.signature).toEqual({ signed: 'assertion', certificateSha256: fp(certA) });
    h.conns = [conn({}, { signingCerts: [certA, certB] })];
    expect((await consume()).received!.signature).toEqual({ signed: 'assertion' });
    h.conns = [conn({}, { signingCerts: [certA, certB], acceptUnsignedAssertions: true })];
    expect((await consume()).received!.signature).toEqual({ signed: 'response' });
    h.facts = { ...h.facts, responseSigned: false };
    expect((await consume()).received!.signature).toEqual({ signed: 'assertion' });
    // A KeyInfo certificate that is not one of ours names nothing of ours.
    h.validated = profile({}, { signature: keyInfo(body()) });
    expect((await consume()).received!.signature).toEqual({ signed: 'assertion' });
  });

  it('leaves out what the IdP did not send (no format, session, AuthnStatement) or sent unreadable (a date that is not one)', async () => {
    h.validated = profile({ nameIDFormat: undefined, sessionIndex: undefined });
    const bare = (await consume()).received!;
    expect(Object.keys(bare).sort()).toEqual(['assertionId', 'attributes', 'issuer', 'protocol', 'signature', 'subject']);
    h.validated = profile({}, { authn: authn([], 'not a date') });
    const unreadable = (await consume()).received!;
    expect(unreadable).not.toHaveProperty('authnInstant');
    expect(unreadable).not.toHaveProperty('authnContext');
  });
});
