import { createHash, generateKeyPairSync, randomBytes, randomUUID, X509Certificate, type KeyObject } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { getCACertificates, rootCertificates, setDefaultCACertificates } from 'node:tls';
import { createLocalJWKSet, decodeProtectedHeader, exportJWK, jwtVerify, SignJWT } from 'jose';
import { Agent, setGlobalDispatcher } from 'undici';
import { createTestCa, type TestCa } from '../../oauth/support/test-ca.js';

/**
 * Trusts the test CA for every `fetch` and TLS connection of this test file's worker — the in-process equivalent of
 * NODE_EXTRA_CA_CERTS, which a deployment behind a private CA sets: the global dispatcher (plain `fetch`) and Node's
 * default CA store (connections made with their own agent, as the egress policy's: src/http/egress.ts). msal-node
 * (through our network client), openid-client and the Graph calls then reach the fake over real TLS.
 */
export function trustTestCa(ca: TestCa): void {
  const pem = readFileSync(ca.caFile, 'utf8');
  setGlobalDispatcher(new Agent({ connect: { ca: [...rootCertificates, pem] } }));
  setDefaultCACertificates([...getCACertificates('default'), pem]);
}

export interface EntraUser {
  oid: string;
  tid: string;
  email: string;
  name: string;
  /** Group object ids; more than 200 are sent as an overage (`_claim_names`), as Entra does. */
  groups?: string[];
  /** Conditional access: token requests for this user answer `interaction_required` with this claims value. */
  claimsChallenge?: string;
  jobTitle?: string;
  /** oid of the user's manager. */
  manager?: string;
}

export interface DriveFile {
  id: string;
  driveId: string;
  oid: string;
  name: string;
  mimeType: string;
  content: string;
}

/** An Outlook event in one user's calendar (the organiser's copy). */
export interface CalendarEvent {
  id: string;
  oid: string;
  /** The Graph resource as last written (POST/PATCH bodies merged), returned as is. */
  resource: Record<string, unknown>;
  cancelled?: { comment: string };
}

/** A Teams chat or a team's channel: who may see it and its messages (oldest first). */
export interface TeamsThread {
  id: string;
  members: string[];
  topic?: string | null;
  chatType?: string;
  messages: { id: string; from: string; contentType: 'text' | 'html'; content: string; messageType?: string; created: string }[];
}

export interface Team {
  id: string;
  name: string;
  members: string[];
  channels: TeamsThread[];
}

export interface Message {
  id: string;
  from: string;
  to: string;
  subject: string;
  body: string;
  received: string;
}

interface RefreshToken {
  oid: string;
  tid: string;
  clientId: string;
  revoked: boolean;
}

interface GraphToken {
  oid: string;
  tid: string;
  scopes: string[];
  exp: number;
}

interface PendingCode {
  oid: string;
  tid: string;
  clientId: string;
  redirectUri: string;
  scope: string;
  nonce: string;
  challenge: string;
}

/** A self-signed RSA certificate + key (PEM, one file) as an admin uploads to an app registration. */
export function makeAppCertificate(): { pem: string; cert: X509Certificate } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'entra-app-cert-'));
  const key = path.join(dir, 'key.pem');
  const crt = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', crt, '-days', '2', '-subj', '/CN=sso-bridge app'], { stdio: 'pipe' });
  const pem = `${readFileSync(crt, 'utf8')}${readFileSync(key, 'utf8')}`;
  return { pem, cert: new X509Certificate(readFileSync(crt)) };
}

/**
 * A fake Microsoft Entra ID v2 + Microsoft Graph over TLS (test CA): per-tenant OpenID metadata and JWKS, the
 * authorize endpoint (the user is scripted), the token endpoint (authorization code with PKCE, refresh token with
 * rotation, on-behalf-of checking the assertion's signature, issuer and audience, client credentials; client secret
 * or certificate assertion), and the Graph endpoints the tools use, with `@odata.nextLink` paging, 429 Retry-After
 * throttling and Graph's error bodies. Real msal-node and real HTTP calls talk to it.
 */
export class EntraFake {
  readonly ca: TestCa = createTestCa();
  origin = '';
  readonly clientId = randomUUID();
  readonly clientSecret = `sec~${randomBytes(24).toString('base64url')}`;
  /** Certificates accepted for client assertions (the app registration's "Certificates" tab). */
  readonly certificates: X509Certificate[] = [];
  readonly users = new Map<string, EntraUser>();
  /** Who signs in at the next /authorize. */
  nextUser = '';
  /** Delegated permissions consented per Entra tenant (AADSTS65001 for anything else). */
  readonly consent = new Map<string, Set<string>>();
  readonly messages = new Map<string, Message[]>();
  readonly refreshTokens = new Map<string, RefreshToken>();
  /** Files by item id (each in one user's drive). */
  readonly files = new Map<string, DriveFile>();
  /** Reply drafts created (createReply / createReplyAll) with their request bodies. */
  readonly drafts: { oid: string; kind: string; body: Record<string, unknown> }[] = [];
  readonly graphTokens = new Map<string, GraphToken>();
  /** Every token request: grant type, tenant path, client auth used. */
  readonly tokenRequests: { grant: string; tenant: string; clientAuth: string; scope: string }[] = [];
  /** Every Graph request: method, path (with query), caller oid (from the access token), JSON body (if any). */
  readonly graphRequests: { method: string; path: string; oid: string; body?: unknown; prefer?: string }[] = [];
  /** Outlook events by id. */
  readonly events = new Map<string, CalendarEvent>();
  /** `/me/drive/recent` per user (oid → drive items, most recent first, as Graph returns them). */
  readonly recentFiles = new Map<string, Record<string, unknown>[]>();
  /** Teams chats by id. */
  readonly chats = new Map<string, TeamsThread>();
  /** Teams by id. */
  readonly teams = new Map<string, Team>();
  /** `POST /me/findMeetingTimes` answer per call (default: one slot at the window start). */
  meetingTimes: ((body: Record<string, unknown>) => Record<string, unknown>) | null = null;
  /** Answer the next N Graph requests with 429 and this Retry-After. */
  throttle = { count: 0, retryAfter: '1' };
  /** Scopes asked for at /authorize (last one). */
  lastAuthorizeScope = '';
  /** The `claims` request parameter of the last /authorize (conditional-access challenge), if any. */
  lastAuthorizeClaims: string | null = null;
  readonly #codes = new Map<string, PendingCode>();
  readonly #key: KeyObject;
  readonly #kid = `kid-${randomBytes(4).toString('hex')}`;
  #jwks: { keys: Record<string, unknown>[] } = { keys: [] };
  #server: https.Server | undefined;

  constructor(private readonly now: () => Date = () => new Date()) {
    this.#key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  }

  async start(): Promise<this> {
    const pub = await exportJWK(this.#key);
    this.#jwks = { keys: [{ kty: pub.kty, n: pub.n, e: pub.e, kid: this.#kid, use: 'sig', alg: 'RS256' }] };
    this.#server = https.createServer({ key: this.ca.key, cert: this.ca.cert }, (req, res) => {
      void this.#handle(req, res).catch((err: unknown) => {
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'server_error', error_description: String(err) }));
      });
    });
    await new Promise<void>((r) => this.#server!.listen(0, '127.0.0.1', r));
    this.origin = `https://127.0.0.1:${(this.#server!.address() as AddressInfo).port}`;
    return this;
  }

  close(): Promise<void> {
    this.#server?.closeAllConnections();
    return new Promise((r) => (this.#server ? this.#server.close(() => r()) : r()));
  }

  issuer(tid: string) {
    return `${this.origin}/${tid}/v2.0`;
  }

  addUser(u: Omit<EntraUser, 'oid'> & { oid?: string }): EntraUser {
    const user = { oid: randomUUID(), ...u };
    this.users.set(user.oid, user);
    return user;
  }

  grantConsent(tid: string, permissions: readonly string[]) {
    const set = this.consent.get(tid) ?? new Set();
    for (const p of permissions) set.add(p);
    this.consent.set(tid, set);
  }

  addMessage(oid: string, m: Message) {
    this.messages.set(oid, [...(this.messages.get(oid) ?? []), m]);
  }

  /** A signed Entra v2 access token for `aud` (tests of hostile assertions mint their own). */
  async accessToken(user: EntraUser, aud: string, opts: { issuer?: string; key?: KeyObject; scp?: string } = {}) {
    const now = Math.floor(this.now().getTime() / 1000);
    return new SignJWT({ oid: user.oid, tid: user.tid, scp: opts.scp ?? 'access_as_user', azp: this.clientId, ver: '2.0', preferred_username: user.email })
      .setProtectedHeader({ alg: 'RS256', kid: this.#kid, typ: 'JWT' })
      .setIssuer(opts.issuer ?? this.issuer(user.tid))
      .setAudience(aud)
      .setSubject(user.oid)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(opts.key ?? this.#key);
  }

  /** An OIDC back-channel logout token for the user, as Entra would POST it. */
  async logoutToken(user: EntraUser) {
    const now = Math.floor(this.now().getTime() / 1000);
    return new SignJWT({ events: { 'http://schemas.openid.net/event/backchannel-logout': {} }, jti: randomUUID() })
      .setProtectedHeader({ alg: 'RS256', kid: this.#kid, typ: 'logout+jwt' })
      .setIssuer(this.issuer(user.tid))
      .setAudience(this.clientId)
      .setSubject(user.oid)
      .setIssuedAt(now)
      .setExpirationTime(now + 120)
      .sign(this.#key);
  }

  async #idToken(user: EntraUser, nonce: string | null) {
    const now = Math.floor(this.now().getTime() / 1000);
    const groups = user.groups ?? [];
    const overage = groups.length > 200;
    return new SignJWT({
      oid: user.oid, tid: user.tid, email: user.email, name: user.name, preferred_username: user.email, ver: '2.0',
      ...(nonce && { nonce }),
      ...(overage ? { _claim_names: { groups: 'src1' }, _claim_sources: { src1: { endpoint: `https://graph.windows.net/${user.tid}/users/${user.oid}/getMemberObjects` } } } : groups.length ? { groups } : {}),
    })
      .setProtectedHeader({ alg: 'RS256', kid: this.#kid, typ: 'JWT' })
      .setIssuer(this.issuer(user.tid))
      .setAudience(this.clientId)
      .setSubject(user.oid)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(this.#key);
  }

  async #handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', this.origin);
    const body = req.method === 'POST' || req.method === 'PATCH' ? await readBody(req) : '';
    const json = (status: number, data: unknown, headers: Record<string, string> = {}) => void res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(data));
    if (url.pathname.startsWith('/v1.0/')) return this.#graph(req, res, url, body, json);
    const m = /^\/([^/]+)\/(v2\.0\/\.well-known\/openid-configuration|discovery\/v2\.0\/keys|oauth2\/v2\.0\/authorize|oauth2\/v2\.0\/token)$/.exec(url.pathname);
    if (!m) return json(404, { error: 'not_found' });
    const tenant = m[1]!;
    if (m[2] === 'v2.0/.well-known/openid-configuration') {
      if (!/^[0-9a-f-]{36}$/.test(tenant)) return json(400, { error: 'invalid_tenant', error_description: `AADSTS90002: Tenant '${tenant}' not found.` });
      return json(200, {
        issuer: this.issuer(tenant),
        authorization_endpoint: `${this.origin}/${tenant}/oauth2/v2.0/authorize`,
        token_endpoint: `${this.origin}/${tenant}/oauth2/v2.0/token`,
        jwks_uri: `${this.origin}/${tenant}/discovery/v2.0/keys`,
        end_session_endpoint: `${this.origin}/${tenant}/oauth2/v2.0/logout`,
        response_types_supported: ['code', 'id_token', 'code id_token'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        code_challenge_methods_supported: ['plain', 'S256'],
        tenant_region_scope: 'EU',
        cloud_instance_name: 'microsoftonline.com',
        cloud_graph_host_name: 'graph.windows.net',
        msgraph_host: new URL(this.origin).host,
      });
    }
    if (m[2] === 'discovery/v2.0/keys') return json(200, this.#jwks);
    if (m[2] === 'oauth2/v2.0/authorize') return this.#authorize(url, tenant, res, json);
    return this.#token(tenant, new URLSearchParams(body), req, json);
  }

  #authorize(url: URL, tenant: string, res: ServerResponse, json: (s: number, d: unknown) => void) {
    const p = url.searchParams;
    const user = this.users.get(this.nextUser);
    if (p.get('client_id') !== this.clientId || !user || user.tid !== tenant) return json(400, { error: 'invalid_request' });
    this.lastAuthorizeScope = p.get('scope') ?? '';
    this.lastAuthorizeClaims = p.get('claims');
    const code = randomBytes(16).toString('base64url');
    this.#codes.set(code, { oid: user.oid, tid: tenant, clientId: this.clientId, redirectUri: p.get('redirect_uri')!, scope: p.get('scope') ?? '', nonce: p.get('nonce') ?? '', challenge: p.get('code_challenge') ?? '' });
    const back = new URL(p.get('redirect_uri')!);
    back.searchParams.set('code', code);
    back.searchParams.set('state', p.get('state') ?? '');
    res.writeHead(302, { location: back.href }).end();
  }

  /** Client authentication: secret (basic or post) or a certificate-signed assertion (RFC 7523 §2.2). */
  async #clientAuth(tenant: string, p: URLSearchParams, req: IncomingMessage): Promise<string | null> {
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (basic) {
      const [id, secret] = Buffer.from(basic, 'base64').toString().split(':').map(decodeURIComponent);
      return id === this.clientId && secret === this.clientSecret ? 'client_secret_basic' : null;
    }
    if (p.get('client_secret') !== null) return p.get('client_id') === this.clientId && p.get('client_secret') === this.clientSecret ? 'client_secret_post' : null;
    const assertion = p.get('client_assertion');
    if (assertion && p.get('client_assertion_type') === 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
      const header = decodeProtectedHeader(assertion);
      const cert = this.certificates.find((c) => header['x5t#S256'] === Buffer.from(c.fingerprint256.replaceAll(':', ''), 'hex').toString('base64url'));
      if (!cert) return null;
      try {
        await jwtVerify(assertion, cert.publicKey, { issuer: this.clientId, subject: this.clientId, audience: `${this.origin}/${tenant}/oauth2/v2.0/token`, algorithms: ['PS256', 'RS256'], clockTolerance: 300 });
        return 'private_key_jwt';
      } catch {
        return null;
      }
    }
    return null;
  }

  async #token(tenant: string, p: URLSearchParams, req: IncomingMessage, json: (s: number, d: unknown) => void) {
    const grant = p.get('grant_type') ?? '';
    const clientAuth = await this.#clientAuth(tenant, p, req);
    this.tokenRequests.push({ grant, tenant, clientAuth: clientAuth ?? 'refused', scope: p.get('scope') ?? '' });
    const err = (status: number, error: string, code: string, description: string, extra: Record<string, unknown> = {}) =>
      json(status, { error, error_description: `AADSTS${code}: ${description}\r\nTrace ID: ${randomUUID()}\r\nCorrelation ID: ${randomUUID()}\r\nTimestamp: ${this.now().toISOString()}`, error_codes: [Number(code)], timestamp: this.now().toISOString(), trace_id: randomUUID(), correlation_id: randomUUID(), ...extra });
    if (!clientAuth) return err(401, 'invalid_client', '7000215', 'Invalid client secret provided.');
    if (!/^[0-9a-f-]{36}$/.test(tenant)) return err(400, 'invalid_request', '50194', "Application is not configured as a multi-tenant application. Usage of the /common endpoint is not supported for such applications.");
    const clientInfo = (u: EntraUser) => (p.get('client_info') === '1' ? { client_info: Buffer.from(JSON.stringify({ uid: u.oid, utid: u.tid })).toString('base64url') } : {});
    const newRefresh = (u: EntraUser) => {
      const rt = `rt.${randomBytes(24).toString('base64url')}`;
      this.refreshTokens.set(rt, { oid: u.oid, tid: u.tid, clientId: this.clientId, revoked: false });
      return rt;
    };
    const apiScopes = (scope: string) => scope.split(' ').filter((s) => s.startsWith(`api://${this.clientId}/`));

    if (grant === 'authorization_code') {
      const c = this.#codes.get(p.get('code') ?? '');
      this.#codes.delete(p.get('code') ?? '');
      if (!c || c.redirectUri !== p.get('redirect_uri') || c.tid !== tenant) return err(400, 'invalid_grant', '70000', 'The provided authorization code is invalid.');
      if (createHash('sha256').update(p.get('code_verifier') ?? '').digest('base64url') !== c.challenge) return err(400, 'invalid_grant', '501481', 'The Code_Verifier does not match the code_challenge.');
      const user = this.users.get(c.oid)!;
      const wantsApi = apiScopes(c.scope).length > 0;
      return json(200, {
        token_type: 'Bearer',
        scope: wantsApi ? apiScopes(c.scope).join(' ') : 'openid profile email',
        expires_in: 3600,
        access_token: wantsApi ? await this.accessToken(user, this.clientId) : `graph.${randomBytes(8).toString('hex')}`,
        ...(c.scope.split(' ').includes('offline_access') && { refresh_token: newRefresh(user) }),
        id_token: await this.#idToken(user, c.nonce),
      });
    }
    if (grant === 'refresh_token') {
      const rt = this.refreshTokens.get(p.get('refresh_token') ?? '');
      if (!rt || rt.revoked || rt.tid !== tenant) return err(400, 'invalid_grant', '700082', 'The refresh token has expired due to inactivity.');
      const user = this.users.get(rt.oid);
      if (!user) return err(400, 'invalid_grant', '50057', 'The user account is disabled.');
      if (user.claimsChallenge) return err(400, 'interaction_required', '50076', 'Due to a configuration change made by your administrator, you must use multi-factor authentication.', { suberror: 'basic_action', claims: user.claimsChallenge });
      // Entra rotates: a new refresh token with every redemption (the old one keeps working for a while).
      return json(200, {
        token_type: 'Bearer', scope: apiScopes(p.get('scope') ?? '').join(' '), expires_in: 3600,
        access_token: await this.accessToken(user, this.clientId), refresh_token: newRefresh(user), id_token: await this.#idToken(user, null), ...clientInfo(user),
      });
    }
    if (grant === 'urn:ietf:params:oauth:grant-type:jwt-bearer' && p.get('requested_token_use') === 'on_behalf_of') {
      let claims;
      try {
        // The assertion must be an access token to THIS app (aud), issued by this tenant, signed by Entra.
        ({ payload: claims } = await jwtVerify(p.get('assertion') ?? '', createLocalJWKSet(this.#jwks as never), { issuer: this.issuer(tenant), audience: [this.clientId, `api://${this.clientId}`], currentDate: this.now() }));
      } catch (e) {
        return err(400, 'invalid_grant', '50013', `Assertion failed signature validation or audience/issuer check. (${(e as Error).message})`);
      }
      const user = this.users.get(String(claims.oid));
      if (!user || user.tid !== tenant) return err(400, 'invalid_grant', '50013', 'Assertion is not for this tenant.');
      if (user.claimsChallenge) return err(400, 'interaction_required', '50076', 'Due to a configuration change made by your administrator, you must use multi-factor authentication.', { suberror: 'basic_action', claims: user.claimsChallenge });
      const wanted = (p.get('scope') ?? '').split(' ').filter((s) => s.startsWith(`${this.origin}/`)).map((s) => s.slice(this.origin.length + 1));
      const consented = this.consent.get(tenant) ?? new Set();
      const missing = wanted.filter((s) => !consented.has(s));
      if (missing.length) return err(400, 'invalid_grant', '65001', `The user or administrator has not consented to use the application with ID '${this.clientId}'. Send an interactive authorization request for this user and resource.`, { suberror: 'consent_required' });
      const token = `graph.${randomBytes(24).toString('base64url')}`;
      this.graphTokens.set(token, { oid: user.oid, tid: tenant, scopes: wanted, exp: this.now().getTime() + 3600_000 });
      return json(200, { token_type: 'Bearer', scope: wanted.map((s) => `${this.origin}/${s}`).join(' '), expires_in: 3600, ext_expires_in: 3600, access_token: token, ...clientInfo(user) });
    }
    if (grant === 'client_credentials') {
      return json(200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: `app.${randomBytes(16).toString('base64url')}` });
    }
    return err(400, 'unsupported_grant_type', '70003', `The app requested an unsupported grant type '${grant}'.`);
  }

  // ---- Microsoft Graph ----------------------------------------------------------------------------------------

  #graph(req: IncomingMessage, res: ServerResponse, url: URL, body: string, json: (s: number, d: unknown, h?: Record<string, string>) => void) {
    const token = this.graphTokens.get(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '');
    const gerr = (status: number, code: string, message: string, headers: Record<string, string> = {}) => json(status, { error: { code, message, innerError: { date: this.now().toISOString(), 'request-id': randomUUID() } } }, headers);
    if (!token || token.exp < this.now().getTime()) return gerr(401, 'InvalidAuthenticationToken', 'Access token is empty or invalid.');
    let parsed: unknown;
    try {
      parsed = body ? JSON.parse(body) : undefined;
    } catch {
      return gerr(400, 'BadRequest', 'Unable to read JSON request payload.');
    }
    this.graphRequests.push({ method: req.method ?? 'GET', path: `${url.pathname}${url.search}`, oid: token.oid, ...(parsed !== undefined && { body: parsed }), ...(req.headers.prefer && { prefer: String(req.headers.prefer) }) });
    if (this.throttle.count > 0) {
      this.throttle.count--;
      return gerr(429, 'TooManyRequests', 'Too many requests.', { 'retry-after': this.throttle.retryAfter });
    }
    const need = (perm: string) => token.scopes.includes(perm) || (gerr(403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.'), false);
    const path = url.pathname.slice('/v1.0'.length);
    const q = url.searchParams;
    const mine = this.messages.get(token.oid) ?? [];
    const asGraph = (m: Message) => ({
      id: m.id, conversationId: `conv-${m.id}`, subject: m.subject, receivedDateTime: m.received, bodyPreview: m.body.slice(0, 255), isRead: false, hasAttachments: false,
      from: { emailAddress: { name: m.from.split('@')[0], address: m.from } }, toRecipients: [{ emailAddress: { address: m.to } }], webLink: `https://outlook.example/${m.id}`,
    });
    if (req.method === 'GET' && path === '/me/messages') {
      if (!need('Mail.Read')) return;
      const search = (q.get('$search') ?? '').replace(/^"|"$/g, '').toLowerCase();
      const hits = mine.filter((m) => !search || `${m.subject} ${m.body} ${m.from}`.toLowerCase().includes(search));
      const top = Number(q.get('$top') ?? 10);
      const skip = Number(q.get('$skiptoken') ?? 0);
      const page = hits.slice(skip, skip + top);
      const next = new URL(url.href);
      next.searchParams.set('$skiptoken', String(skip + top));
      return json(200, { '@odata.context': `${this.origin}/v1.0/$metadata#users('${token.oid}')/messages`, value: page.map(asGraph), ...(skip + top < hits.length && { '@odata.nextLink': next.href }) });
    }
    const one = /^\/me\/messages\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && one) {
      if (!need('Mail.Read')) return;
      const m = mine.find((x) => x.id === decodeURIComponent(one[1]!));
      if (!m) return gerr(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
      return json(200, { ...asGraph(m), ccRecipients: [], body: { contentType: /text/.test(String(req.headers.prefer)) ? 'text' : 'html', content: m.body } });
    }
    if (req.method === 'POST' && path === '/me/messages') {
      if (!need('Mail.ReadWrite')) return;
      const draft = JSON.parse(body) as { subject?: string };
      return json(201, { id: `draft-${randomBytes(4).toString('hex')}`, conversationId: 'conv-new', subject: draft.subject, webLink: 'https://outlook.example/draft', isDraft: true });
    }
    const send = /^\/me\/messages\/([^/]+)\/send$/.exec(path);
    if (req.method === 'POST' && send) {
      if (!need('Mail.Send')) return;
      return void res.writeHead(202).end();
    }
    if (req.method === 'GET' && path === '/me/transitiveMemberOf/microsoft.graph.group') {
      if (!need('GroupMember.Read.All')) return;
      const groups = this.users.get(token.oid)?.groups ?? [];
      const skip = Number(q.get('$skiptoken') ?? 0);
      const top = Math.min(Number(q.get('$top') ?? 100), 100);
      const next = new URL(url.href);
      next.searchParams.set('$skiptoken', String(skip + top));
      return json(200, { value: groups.slice(skip, skip + top).map((id) => ({ '@odata.type': '#microsoft.graph.group', id })), ...(skip + top < groups.length && { '@odata.nextLink': next.href }) });
    }
    if (req.method === 'GET' && path === '/me/calendarView') {
      if (!need('Calendars.Read')) return;
      if (!q.get('startDateTime') || !q.get('endDateTime')) return gerr(400, 'ErrorInvalidParameter', 'This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.');
      return json(200, { value: [{ id: 'ev1', subject: 'Standup', start: { dateTime: '2026-12-07T09:00:00.0000000', timeZone: 'UTC' }, end: { dateTime: '2026-12-07T09:15:00.0000000', timeZone: 'UTC' }, organizer: { emailAddress: { name: 'Lead', address: 'lead@contoso.com' } }, attendees: [] }] });
    }
    const reply = /^\/me\/messages\/([^/]+)\/(createReply|createReplyAll)$/.exec(path);
    if (req.method === 'POST' && reply) {
      if (!need('Mail.ReadWrite')) return;
      const orig = mine.find((x) => x.id === decodeURIComponent(reply[1]!));
      if (!orig) return gerr(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
      this.drafts.push({ oid: token.oid, kind: reply[2]!, body: JSON.parse(body) as Record<string, unknown> });
      return json(201, { id: `draft-re-${orig.id}`, conversationId: `conv-${orig.id}`, subject: `RE: ${orig.subject}`, webLink: 'https://outlook.example/draft' });
    }
    if (req.method === 'POST' && path === '/search/query') {
      if (!need('Files.Read.All')) return;
      const r = (JSON.parse(body) as { requests: { query: { queryString: string }; size: number }[] }).requests[0]!;
      const hits = [...this.files.values()].filter((f) => f.oid === token.oid && f.name.toLowerCase().includes(r.query.queryString.toLowerCase()));
      return json(200, { value: [{ searchTerms: [r.query.queryString], hitsContainers: [{ total: hits.length, moreResultsAvailable: false, hits: hits.slice(0, r.size).map((f) => ({ hitId: f.id, resource: { '@odata.type': '#microsoft.graph.driveItem', id: f.id, name: f.name, size: f.content.length, webUrl: `https://contoso.sharepoint.com/${f.name}`, parentReference: { driveId: f.driveId }, file: { mimeType: f.mimeType } } })) }] }] });
    }
    const item = /^\/drives\/([^/]+)\/items\/([^/]+)(\/content)?$/.exec(path);
    if (req.method === 'GET' && item) {
      if (!need('Files.Read.All')) return;
      const f = this.files.get(decodeURIComponent(item[2]!));
      if (!f || f.oid !== token.oid || f.driveId !== decodeURIComponent(item[1]!)) return gerr(404, 'itemNotFound', 'The resource could not be found.');
      if (item[3]) return void res.writeHead(200, { 'content-type': f.mimeType }).end(f.content);
      return json(200, { id: f.id, name: f.name, size: Buffer.byteLength(f.content), webUrl: `https://contoso.sharepoint.com/${f.name}`, parentReference: { driveId: f.driveId }, file: { mimeType: f.mimeType } });
    }
    if (req.method === 'GET' && path === '/users') {
      if (!need('User.Read.All')) return;
      if (req.headers.consistencylevel !== 'eventual') return gerr(400, 'Request_UnsupportedQuery', "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'");
      const term = /displayName:([^"]+)"/.exec(q.get('$search') ?? '')?.[1]?.toLowerCase() ?? '';
      const people = [...this.users.values()].filter((u) => u.tid === token.tid && u.name.toLowerCase().includes(term));
      return json(200, { value: people.map((u) => ({ id: u.oid, displayName: u.name, mail: u.email, jobTitle: u.jobTitle ?? null })) });
    }
    const manager = /^\/users\/([^/]+)\/manager$/.exec(path);
    if (req.method === 'GET' && manager) {
      if (!need('User.Read.All')) return;
      const u = this.users.get(decodeURIComponent(manager[1]!));
      const m = u?.manager ? this.users.get(u.manager) : undefined;
      if (!m) return gerr(404, 'Request_ResourceNotFound', "Resource 'manager' does not exist or one of its queried reference-property objects are not present.");
      return json(200, { id: m.oid, displayName: m.name, mail: m.email });
    }
    return this.#graphMore(req, res, path, q, url, parsed as Record<string, unknown> | undefined, token, json, gerr, need);
  }

  /** Calendar writes, findMeetingTimes, recent files and Teams (Graph v1.0 request/response shapes). */
  #graphMore(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    q: URLSearchParams,
    url: URL,
    body: Record<string, unknown> | undefined,
    token: GraphToken,
    json: (s: number, d: unknown, h?: Record<string, string>) => void,
    gerr: (status: number, code: string, message: string) => void,
    need: (perm: string) => boolean,
  ) {
    const me = this.users.get(token.oid)!;
    const page = <T>(all: T[], top: number) => {
      const skip = Number(q.get('$skiptoken') ?? 0);
      const next = new URL(url.href);
      next.searchParams.set('$skiptoken', String(skip + top));
      return { value: all.slice(skip, skip + top), ...(skip + top < all.length && { '@odata.nextLink': next.href }) };
    };
    const notFound = () => gerr(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    // Events (https://learn.microsoft.com/graph/api/user-post-events, event-update, event-cancel).
    if (req.method === 'POST' && path === '/me/events') {
      if (!need('Calendars.ReadWrite')) return;
      const id = `AAMkAD${randomBytes(6).toString('hex')}=`;
      const resource = { ...body, id, organizer: { emailAddress: { name: me.name, address: me.email } }, isCancelled: false, webLink: `https://outlook.example/calendar/${id}`, ...(body?.isOnlineMeeting === true && { onlineMeeting: { joinUrl: `https://teams.example/l/meetup-join/${id}` } }) };
      this.events.set(id, { id, oid: token.oid, resource });
      return json(201, resource);
    }
    const ev = /^\/me\/events\/([^/]+)(\/cancel)?$/.exec(path);
    if (ev && (req.method === 'PATCH' || (req.method === 'POST' && ev[2]))) {
      if (!need('Calendars.ReadWrite')) return;
      const e = this.events.get(decodeURIComponent(ev[1]!));
      if (!e || e.oid !== token.oid || e.cancelled) return notFound();
      if (ev[2]) {
        e.cancelled = { comment: String(body?.comment ?? '') };
        return void res.writeHead(202).end();
      }
      e.resource = { ...e.resource, ...body };
      return json(200, e.resource);
    }
    if (req.method === 'POST' && path === '/me/findMeetingTimes') {
      if (!need('Calendars.Read.Shared')) return;
      if (this.meetingTimes) return json(200, this.meetingTimes(body ?? {}));
      const slot = (body?.timeConstraint as { timeSlots: { start: { dateTime: string } }[] }).timeSlots[0]!;
      const minutes = Number(/^PT(\d+)M$/.exec(String(body?.meetingDuration))?.[1] ?? 30);
      const end = new Date(Date.parse(`${slot.start.dateTime}Z`) + minutes * 60_000).toISOString().replace(/\.\d{3}Z$/, '.0000000');
      const attendees = (body?.attendees as { emailAddress: { address: string } }[]).map((a) => ({ attendee: { type: 'required', emailAddress: { address: a.emailAddress.address } }, availability: 'free' }));
      return json(200, { emptySuggestionsReason: '', meetingTimeSuggestions: [{ confidence: 100, organizerAvailability: 'free', meetingTimeSlot: { start: { dateTime: `${slot.start.dateTime}.0000000`, timeZone: 'UTC' }, end: { dateTime: end, timeZone: 'UTC' } }, attendeeAvailability: attendees, locations: [] }] });
    }
    // Files (https://learn.microsoft.com/graph/api/drive-recent).
    if (req.method === 'GET' && path === '/me/drive/recent') {
      if (!need('Files.Read')) return;
      return json(200, page(this.recentFiles.get(token.oid) ?? [], Number(q.get('$top') ?? 200)));
    }
    // Teams (chat-list, user-list-joinedteams, channel-list, chatmessage-list, chatmessage-post).
    if (req.method === 'GET' && path === '/me/chats') {
      if (!need('Chat.ReadBasic')) return;
      const mine = [...this.chats.values()].filter((c) => c.members.includes(token.oid));
      return json(200, page(mine.map((c) => ({ id: c.id, topic: c.topic ?? null, chatType: c.chatType ?? 'group', lastUpdatedDateTime: c.messages.at(-1)?.created ?? '2026-12-01T00:00:00Z', tenantId: token.tid })), Number(q.get('$top') ?? 50)));
    }
    if (req.method === 'GET' && path === '/me/joinedTeams') {
      if (!need('Team.ReadBasic.All')) return;
      return json(200, { value: [...this.teams.values()].filter((t) => t.members.includes(token.oid)).map((t) => ({ id: t.id, displayName: t.name, description: null, isArchived: false, tenantId: token.tid })) });
    }
    const channels = /^\/teams\/([^/]+)\/channels$/.exec(path);
    if (req.method === 'GET' && channels) {
      if (!need('Channel.ReadBasic.All')) return;
      const team = this.teams.get(decodeURIComponent(channels[1]!));
      if (!team) return gerr(404, 'NotFound', 'No team found with Group Id');
      if (!team.members.includes(token.oid)) return gerr(403, 'Forbidden', 'Forbidden');
      return json(200, { value: team.channels.map((c) => ({ id: c.id, displayName: c.topic ?? c.id, membershipType: 'standard' })) });
    }
    const chatMsgs = /^\/chats\/([^/]+)\/messages$/.exec(path);
    const chanMsgs = /^\/teams\/([^/]+)\/channels\/([^/]+)\/messages$/.exec(path);
    if ((req.method === 'GET' || req.method === 'POST') && (chatMsgs || chanMsgs)) {
      const read = req.method === 'GET';
      if (!need(chatMsgs ? (read ? 'Chat.Read' : 'ChatMessage.Send') : read ? 'ChannelMessage.Read.All' : 'ChannelMessage.Send')) return;
      let thread: TeamsThread | undefined;
      if (chatMsgs) {
        thread = this.chats.get(decodeURIComponent(chatMsgs[1]!));
        if (!thread) return gerr(404, 'NotFound', 'Chat not found.');
        if (!thread.members.includes(token.oid)) return gerr(403, 'Forbidden', 'Forbidden');
      } else {
        const team = this.teams.get(decodeURIComponent(chanMsgs![1]!));
        if (!team) return gerr(404, 'NotFound', 'No team found with Group Id');
        if (!team.members.includes(token.oid)) return gerr(403, 'Forbidden', 'Forbidden');
        thread = team.channels.find((c) => c.id === decodeURIComponent(chanMsgs![2]!));
        if (!thread) return gerr(404, 'NotFound', 'Channel not found.');
      }
      const asGraph = (m: TeamsThread['messages'][number]) => ({
        id: m.id, messageType: m.messageType ?? 'message', createdDateTime: m.created, chatId: chatMsgs ? thread.id : null,
        from: { application: null, device: null, user: { '@odata.type': '#microsoft.graph.teamworkUserIdentity', id: m.from, displayName: this.users.get(m.from)?.name ?? m.from, userIdentityType: 'aadUser' } },
        body: { contentType: m.contentType, content: m.content }, attachments: [], mentions: [], reactions: [],
      });
      if (read) return json(200, page([...thread.messages].reverse().map(asGraph), Math.min(Number(q.get('$top') ?? 20), 50)));
      const b = body as { body?: { contentType?: string; content?: string } } | undefined;
      if (!b?.body?.content) return gerr(400, 'BadRequest', 'Missing body content.');
      const m = { id: String(Date.now()) + randomBytes(2).toString('hex'), from: token.oid, contentType: (b.body.contentType === 'html' ? 'html' : 'text') as 'text' | 'html', content: b.body.content, created: this.now().toISOString() };
      thread.messages.push(m);
      return json(201, asGraph(m));
    }
    return gerr(400, 'BadRequest', `Unsupported request in the fake: ${req.method} ${path}`);
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
