import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { createLocalJWKSet, exportJWK, jwtVerify } from 'jose';
import type { TestCa } from '../../oauth/support/test-ca.js';

/**
 * A local stand-in for an Okta org's Management API over real TLS (a certificate of the test CA), answering in
 * Okta's documented shapes: the OAuth 2.0 token endpoint for service apps (client_credentials with a private-key JWT
 * client assertion, verified with the registered public key), SSWS API tokens, `/api/v1/users`, `/groups`,
 * `/groups/{id}/users`, `/apps/{id}`, `/apps/{id}/users`, `/apps/{id}/groups`; cursor paging with
 * `Link: <…?after=…>; rel="next"`; `X-Rate-Limit-*` headers and 429s; errors as `{errorCode, errorSummary, …}`.
 * The real okta-sdk-nodejs client talks to it through the connector's org URL.
 */
export interface FakeOktaUser {
  id: string;
  status: 'STAGED' | 'PROVISIONED' | 'ACTIVE' | 'RECOVERY' | 'PASSWORD_EXPIRED' | 'LOCKED_OUT' | 'SUSPENDED' | 'DEPROVISIONED';
  profile: { login: string; email: string; firstName?: string; lastName?: string; displayName?: string; title?: string };
}

export interface FakeOktaGroup {
  id: string;
  type: 'OKTA_GROUP' | 'APP_GROUP' | 'BUILT_IN';
  profile: { name: string; description?: string };
  members: string[];
}

export interface FakeServiceApp {
  clientId: string;
  keyId: string;
  privateKey: KeyObject;
  /** PKCS#8 PEM of the private key, as the admin saves it. */
  privatePem: string;
  /** The private key as a JWK (Okta's console can generate one). */
  privateJwk: string;
  scopes: string[];
}

export interface SeenRequest {
  method: string;
  path: string;
  auth: 'ssws' | 'bearer' | 'none' | 'other';
  retry: boolean;
}

interface Fault {
  match: RegExp;
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  times: number;
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
};

let seq = 0;
const oktaId = (prefix: string) => `${prefix}${(++seq).toString(36).padStart(4, '0')}${randomBytes(6).toString('hex')}`;

export class OktaFake {
  readonly users = new Map<string, FakeOktaUser>();
  readonly groups = new Map<string, FakeOktaGroup>();
  readonly apps = new Map<string, { id: string; label: string; name: string; users: Set<string>; groups: Set<string> }>();
  readonly apiTokens = new Set<string>();
  readonly serviceApps = new Map<string, FakeServiceApp>();
  readonly requests: SeenRequest[] = [];
  /** Verified client assertions: iss, aud, kid, scope asked. */
  readonly tokenRequests: { clientId: string; kid: string | undefined; aud: unknown; scope: string }[] = [];
  readonly faults: Fault[] = [];
  /** Page size cap (Okta's are 200/500/1000; small here so paging is exercised). */
  pageSize = 2;
  /** When set, the next `Link: rel="next"` of a listing points here instead (a hostile or broken org). */
  nextLinkOrigin: string | null = null;
  private readonly tokens = new Map<string, { clientId: string; scopes: string[] }>();
  private server?: https.Server;
  url = '';
  host = '';

  constructor(private readonly ca: TestCa) {}

  async start(): Promise<this> {
    this.server = https.createServer({ key: this.ca.key, cert: this.ca.cert }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void this.handle(req, res, Buffer.concat(chunks).toString('utf8')).catch((err: unknown) => json(res, 500, { errorCode: 'E0000009', errorSummary: String(err) }));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `https://127.0.0.1:${port}`;
    this.host = `127.0.0.1:${port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  apiToken(): string {
    const token = `00${randomBytes(20).toString('base64url')}`;
    this.apiTokens.add(token);
    return token;
  }

  serviceApp(scopes: string[] = ['okta.users.read', 'okta.groups.read', 'okta.apps.read'], type: 'rsa' | 'ec' = 'rsa'): FakeServiceApp {
    const { privateKey } = type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const app: FakeServiceApp = {
      clientId: oktaId('0oa'),
      keyId: `kid-${randomBytes(4).toString('hex')}`,
      privateKey,
      privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      privateJwk: JSON.stringify(privateKey.export({ format: 'jwk' })),
      scopes,
    };
    this.serviceApps.set(app.clientId, app);
    return app;
  }

  addApp(label = 'SSO Bridge'): string {
    const id = oktaId('0oa');
    this.apps.set(id, { id, label, name: 'sso_bridge', users: new Set(), groups: new Set() });
    return id;
  }

  addUser(email: string, status: FakeOktaUser['status'] = 'ACTIVE', extra: Partial<FakeOktaUser['profile']> = {}): FakeOktaUser {
    const user: FakeOktaUser = { id: oktaId('00u'), status, profile: { login: email, email, firstName: 'First', lastName: email.split('@')[0]!, ...extra } };
    this.users.set(user.id, user);
    return user;
  }

  addGroup(name: string, members: FakeOktaUser[] = [], type: FakeOktaGroup['type'] = 'OKTA_GROUP'): FakeOktaGroup {
    const group: FakeOktaGroup = { id: oktaId('00g'), type, profile: { name }, members: members.map((m) => m.id) };
    this.groups.set(group.id, group);
    return group;
  }

  /** Fail the next `times` requests whose path (with query) matches. */
  fail(match: RegExp, status: number, body?: unknown, times = 1, headers?: Record<string, string>): void {
    this.faults.push({ match, status, body, headers, times });
  }

  /** The next `times` matching requests get 429 with a window resetting `resetIn` seconds after the response's Date. */
  throttle(match: RegExp, resetIn: number, times = 1): void {
    const nowS = Math.floor(Date.now() / 1000);
    this.fail(match, 429, { errorCode: 'E0000047', errorSummary: 'API call exceeded rate limit due to too many requests.', errorLink: 'E0000047', errorId: 'oae1', errorCauses: [] }, times, {
      'x-rate-limit-limit': '600',
      'x-rate-limit-remaining': '0',
      'x-rate-limit-reset': String(nowS + resetIn),
      date: new Date(nowS * 1000).toUTCString(),
    });
  }

  /** Users assigned to the app, directly or through an assigned group (Okta's app-user list has both, scope USER/GROUP). */
  assigned(appId: string): Map<string, 'USER' | 'GROUP'> {
    const app = this.apps.get(appId)!;
    const out = new Map<string, 'USER' | 'GROUP'>();
    for (const gid of app.groups) for (const uid of this.groups.get(gid)?.members ?? []) out.set(uid, 'GROUP');
    for (const uid of app.users) out.set(uid, 'USER');
    // Deactivating a user in Okta removes its app assignments.
    for (const uid of out.keys()) if (this.users.get(uid)?.status === 'DEPROVISIONED') out.delete(uid);
    return out;
  }

  private error(res: ServerResponse, status: number, errorCode: string, errorSummary: string, headers: Record<string, string> = {}) {
    json(res, status, { errorCode, errorSummary, errorLink: errorCode, errorId: `oae${randomBytes(6).toString('hex')}`, errorCauses: [] }, headers);
  }

  private async handle(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const authz = req.headers.authorization ?? '';
    const auth: SeenRequest['auth'] = authz.startsWith('SSWS ') ? 'ssws' : authz.startsWith('Bearer ') ? 'bearer' : authz ? 'other' : 'none';
    this.requests.push({ method: req.method ?? 'GET', path: url.pathname + url.search, auth, retry: req.headers['x-okta-retry-count'] !== undefined });
    const fault = this.faults.find((f) => f.match.test(url.pathname + url.search) && f.times > 0);
    if (fault) {
      fault.times--;
      return json(res, fault.status, fault.body ?? { errorCode: 'E0000009', errorSummary: 'Internal Server Error' }, fault.headers);
    }
    if (req.method === 'POST' && url.pathname === '/oauth2/v1/token') return this.token(res, body);

    // Authentication (E0000011), then authorisation by scope for OAuth tokens (E0000006 + insufficient_scope).
    let scopes: string[] | 'all';
    if (auth === 'ssws' && this.apiTokens.has(authz.slice(5))) scopes = 'all';
    else if (auth === 'bearer' && this.tokens.has(authz.slice(7))) scopes = this.tokens.get(authz.slice(7))!.scopes;
    else return this.error(res, 401, 'E0000011', 'Invalid token provided');
    const need = url.pathname.startsWith('/api/v1/apps') ? 'okta.apps.read' : url.pathname.startsWith('/api/v1/groups') ? 'okta.groups.read' : 'okta.users.read';
    if (scopes !== 'all' && !scopes.includes(need)) {
      return this.error(res, 403, 'E0000006', 'You do not have permission to perform the requested action', { 'www-authenticate': `Bearer error="insufficient_scope", scope="${need}"` });
    }
    const rate = { 'x-rate-limit-limit': '600', 'x-rate-limit-remaining': '599', 'x-rate-limit-reset': String(Math.floor(Date.now() / 1000) + 60) };
    const limit = Math.min(Number(url.searchParams.get('limit') ?? '200') || 200, this.pageSize);
    const page = <T extends { id: string }>(all: T[]) => {
      const after = url.searchParams.get('after');
      const start = after ? all.findIndex((x) => x.id === after) + 1 : 0;
      const items = all.slice(start, start + limit);
      const self = `<${this.url}${url.pathname}${url.search}>; rel="self"`;
      const hasNext = start + limit < all.length;
      const q = new URLSearchParams(url.searchParams);
      q.set('after', items[items.length - 1]?.id ?? '');
      q.set('limit', String(limit));
      const next = hasNext ? `, <${this.nextLinkOrigin ?? this.url}${url.pathname}?${q.toString()}>; rel="next"` : '';
      json(res, 200, items, { ...rate, link: self + next });
    };
    let m: RegExpExecArray | null;
    if (url.pathname === '/api/v1/users') {
      return page([...this.users.values()].filter((u) => u.status !== 'DEPROVISIONED').map(renderUser));
    }
    if (url.pathname === '/api/v1/groups') {
      const q = (url.searchParams.get('q') ?? '').toLowerCase();
      return page([...this.groups.values()].filter((g) => g.profile.name.toLowerCase().startsWith(q)).map(renderGroup));
    }
    if ((m = /^\/api\/v1\/groups\/([^/]+)$/.exec(url.pathname))) {
      const g = this.groups.get(m[1]!);
      return g ? json(res, 200, renderGroup(g), rate) : this.error(res, 404, 'E0000007', `Not found: Resource not found: ${m[1]} (UserGroup)`);
    }
    if ((m = /^\/api\/v1\/groups\/([^/]+)\/users$/.exec(url.pathname))) {
      const g = this.groups.get(m[1]!);
      if (!g) return this.error(res, 404, 'E0000007', `Not found: Resource not found: ${m[1]} (UserGroup)`);
      return page(g.members.map((id) => this.users.get(id)).filter((u): u is FakeOktaUser => !!u && u.status !== 'DEPROVISIONED').map(renderUser));
    }
    if ((m = /^\/api\/v1\/apps\/([^/]+)(\/users|\/groups)?$/.exec(url.pathname))) {
      const app = this.apps.get(m[1]!);
      if (!app) return this.error(res, 404, 'E0000007', `Not found: Resource not found: ${m[1]} (AppInstance)`);
      if (!m[2]) return json(res, 200, { id: app.id, name: app.name, label: app.label, status: 'ACTIVE', signOnMode: 'SAML_2_0' }, rate);
      if (m[2] === '/groups') return page([...app.groups].map((id) => ({ id, priority: 0, profile: {} })));
      return page([...this.assigned(app.id)].map(([id, scope]) => {
        const u = this.users.get(id)!;
        return { id, externalId: null, scope, status: 'PROVISIONED', syncState: 'SYNCHRONIZED', credentials: { userName: u.profile.login }, profile: { email: u.profile.email } };
      }));
    }
    return this.error(res, 404, 'E0000022', 'The endpoint does not support the provided HTTP method');
  }

  /** RFC 7523 §2.2 client authentication (private_key_jwt) with the client_credentials grant, as Okta's org AS does it. */
  private async token(res: ServerResponse, body: string): Promise<void> {
    const form = new URLSearchParams(body);
    const bad = (status: number, error: string, description: string) => json(res, status, { error, error_description: description });
    if (form.get('grant_type') !== 'client_credentials') return bad(400, 'unsupported_grant_type', 'The authorization grant type is not supported.');
    if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') return bad(401, 'invalid_client', 'client_assertion_type is required');
    const assertion = form.get('client_assertion') ?? '';
    const iss = (() => {
      try {
        return JSON.parse(Buffer.from(assertion.split('.')[1] ?? '', 'base64url').toString()) as { iss?: string };
      } catch {
        return {};
      }
    })().iss;
    const app = iss ? this.serviceApps.get(iss) : undefined;
    if (!app) return bad(401, 'invalid_client', 'The client_assertion token is invalid.');
    const jwk = { ...(await exportJWK(app.privateKey)), kid: app.keyId };
    delete (jwk as Record<string, unknown>).d;
    for (const k of ['p', 'q', 'dp', 'dq', 'qi']) delete (jwk as Record<string, unknown>)[k];
    let kid: string | undefined;
    try {
      const { protectedHeader, payload } = await jwtVerify(assertion, createLocalJWKSet({ keys: [jwk] }), {
        issuer: app.clientId,
        subject: app.clientId,
        audience: `${this.url}/oauth2/v1/token`,
        maxTokenAge: '1h',
      });
      kid = protectedHeader.kid;
      if (kid !== undefined && kid !== app.keyId) return bad(401, 'invalid_client', 'The client_assertion token has an unknown kid.');
      if (typeof payload.exp !== 'number') return bad(401, 'invalid_client', 'exp is required');
    } catch {
      return bad(401, 'invalid_client', 'The client_assertion signature is invalid.');
    }
    const scope = form.get('scope') ?? '';
    this.tokenRequests.push({ clientId: app.clientId, kid, aud: `${this.url}/oauth2/v1/token`, scope });
    const asked = scope.split(' ').filter(Boolean);
    const missing = asked.filter((x) => !app.scopes.includes(x));
    if (asked.length === 0 || missing.length > 0) return bad(400, 'invalid_scope', `The following scopes are not allowed: ${missing.join(', ')}`);
    const token = randomBytes(24).toString('base64url');
    this.tokens.set(token, { clientId: app.clientId, scopes: asked });
    json(res, 200, { token_type: 'Bearer', expires_in: 3600, access_token: token, scope });
  }
}

function renderUser(u: FakeOktaUser) {
  return { id: u.id, status: u.status, created: '2026-01-01T00:00:00.000Z', activated: null, statusChanged: null, lastLogin: null, profile: u.profile, type: { id: 'oty1' }, _links: {} };
}

function renderGroup(g: FakeOktaGroup) {
  return { id: g.id, type: g.type, created: '2026-01-01T00:00:00.000Z', objectClass: ['okta:user_group'], profile: g.profile, _links: {} };
}
