import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify } from 'jose';

/**
 * A local stand-in for Google: the OAuth token endpoint (RFC 7523 JWT-bearer with domain-wide delegation) and the
 * Gmail, Calendar, Drive and Admin Directory REST paths the connector uses, answering in Google's documented shapes
 * (resources, `nextPageToken` paging, `{ error: { code, message, errors: [{ reason }], status } }` bodies). The real
 * googleapis client talks to it through the connector's API root and the key's `token_uri`.
 */
export interface FakeMessage {
  id: string;
  threadId: string;
  from: string;
  to: string;
  subject: string;
  date: string;
  body: string;
  labelIds?: string[];
  attachment?: { filename: string; mimeType: string; size: number };
}

export interface FakeServiceAccount {
  clientEmail: string;
  clientId: string;
  keyId: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The key file as Google's console downloads it (token_uri → this fake). */
  keyFile: string;
}

export interface FakeEvent {
  id: string;
  summary: string;
  start: string;
  end: string;
  attendees?: string[];
  description?: string;
  location?: string;
}

export interface FakeFile {
  id: string;
  name: string;
  mimeType: string;
  content: string;
  modifiedTime: string;
  permissions?: { type: string; role: string; emailAddress?: string; domain?: string }[];
}

/** An Admin SDK user resource (the fields the connector reads). */
export interface FakeDirectoryUser {
  id: string;
  primaryEmail: string;
  name: { fullName: string; givenName?: string; familyName?: string };
  suspended?: boolean;
  archived?: boolean;
  organizations?: { title?: string; department?: string; primary?: boolean }[];
  relations?: { type: string; value: string }[];
  etag?: string;
}

export interface FakeDirectoryGroup {
  id: string;
  email: string;
  name: string;
  members: string[];
  /** The Google Workspace customer owning the group; absent = the default customer. */
  customer?: string;
}

/** The customer of users not placed in another one (`customerOf`). */
export const DEFAULT_CUSTOMER = 'C0default';

/**
 * One clause of Google's group search (Directory API, "Search for groups"): `field=value` (exact) or
 * `field:PREFIX*`, the value single-quoted when it holds whitespace, with `\'` for a quote. Unknown syntax → null.
 */
function groupClauses(query: string): { field: 'name' | 'email'; exact: boolean; value: string }[] | null {
  const out: { field: 'name' | 'email'; exact: boolean; value: string }[] = [];
  const re = /\s*(name|email)(=|:)('(?:[^'\\]|\\.)*'|[^\s']+)/gy;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(query))) {
    let value = m[3]!;
    if (value.startsWith("'")) value = value.slice(1, -1).replace(/\\(.)/g, '$1');
    const exact = m[2] === '=';
    if (!exact && !value.endsWith('*')) return null;
    out.push({ field: m[1] as 'name' | 'email', exact, value: (exact ? value : value.slice(0, -1)).toLowerCase() });
    end = re.lastIndex;
  }
  return query.slice(end).trim() === '' && out.length > 0 ? out : null;
}

interface IssuedToken {
  sub: string;
  scopes: string[];
}

const G = 'https://www.googleapis.com/auth/';

/** Which scopes each fake API path accepts (as Google's discovery documents list them). */
const SCOPES_FOR: [RegExp, string[]][] = [
  [/^\/gmail\/v1\/users\/me\/labels/, [`${G}gmail.labels`, `${G}gmail.readonly`]],
  [/^\/gmail\/v1\/users\/me\/drafts/, [`${G}gmail.compose`]],
  [/^\/gmail\/v1\//, [`${G}gmail.readonly`]],
  [/^\/calendar\/v3\/freeBusy/, [`${G}calendar.freebusy`, `${G}calendar.readonly`]],
  [/^\/calendar\/v3\//, [`${G}calendar.readonly`, `${G}calendar.events`]],
  [/^\/drive\/v3\//, [`${G}drive.readonly`]],
  [/^\/admin\/directory\/v1\/users/, [`${G}admin.directory.user.readonly`]],
  [/^\/admin\/directory\/v1\/groups\/[^/]+\/members/, [`${G}admin.directory.group.member.readonly`]],
  [/^\/admin\/directory\/v1\/groups/, [`${G}admin.directory.group.readonly`]],
  [/^\/appsmarket\/v2\//, [`${G}appsmarketplace.license`]],
];

export function googleError(code: number, message: string, reason: string, status: string) {
  return { error: { code, message, errors: [{ message, domain: 'global', reason }], status } };
}

export class GoogleFake {
  readonly accounts = new Map<string, FakeServiceAccount>();
  /** Scopes the Google admin authorised for each client id (the DWD screen). */
  readonly delegated = new Map<string, Set<string>>();
  /** Users Google knows (primary e-mails); others get invalid_grant. */
  readonly users = new Set<string>();
  readonly mailboxes = new Map<string, FakeMessage[]>();
  readonly drafts = new Map<string, { owner: string; raw: string; threadId: string | null; sent: boolean }>();
  readonly tokens = new Map<string, IssuedToken>();
  readonly calendars = new Map<string, FakeEvent[]>();
  /** Calendars other than a user's primary one (e.g. Google's holiday calendars), readable by everyone, by id. */
  readonly sharedCalendars = new Map<string, FakeEvent[]>();
  readonly busy = new Map<string, { start: string; end: string }[]>();
  readonly files = new Map<string, FakeFile[]>();
  readonly directory: FakeDirectoryUser[] = [];
  readonly groups: FakeDirectoryGroup[] = [];
  /** Google Workspace customer of an admin (by e-mail), for `customer=my_customer`; default DEFAULT_CUSTOMER. */
  readonly customerOf = new Map<string, string>();
  /** Page size the directory listing uses at most (small, so paging is exercised). */
  directoryPageSize = 2;
  /** Every token request: the assertion's claims as verified. */
  readonly tokenRequests: { sub: string; scope: string; iss: string }[] = [];
  /** Every API request: method, path, impersonated user. */
  readonly apiRequests: { method: string; path: string; sub: string }[] = [];
  /** Directory list requests answered 304 Not Modified (their If-None-Match matched the listing's ETag). */
  readonly notModified: string[] = [];
  /** Answers to inject: the next `count` requests whose path starts with `prefix` get this status and reason. */
  readonly failures: { prefix: string; status: number; reason: string; count: number; retryAfter?: string }[] = [];
  readonly #server: http.Server;
  url = '';

  constructor(private readonly now: () => Date) {
    this.#server = http.createServer((req, res) => void this.#handle(req, res).catch((err) => this.#send(res, 500, googleError(500, String(err), 'backendError', 'INTERNAL'))));
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((r) => this.#server.close(() => r()));
  }

  get tokenUri(): string {
    return `${this.url}/token`;
  }

  /** A new service account whose key file points at this fake's token endpoint. */
  serviceAccount(name = 'sso-bridge'): FakeServiceAccount {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const clientId = String(100000000000000000000n + BigInt(this.accounts.size));
    const keyId = randomBytes(20).toString('hex');
    const clientEmail = `${name}@acme-project.iam.gserviceaccount.com`;
    const keyFile = JSON.stringify({
      type: 'service_account',
      project_id: 'acme-project',
      private_key_id: keyId,
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
      client_email: clientEmail,
      client_id: clientId,
      auth_uri: 'https://accounts.google.com/o/oauth2/auth',
      token_uri: this.tokenUri,
      auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
    });
    const sa = { clientEmail, clientId, keyId, privateKey, publicKey, keyFile };
    this.accounts.set(clientEmail, sa);
    return sa;
  }

  delegate(clientId: string, scopes: readonly string[]): void {
    this.delegated.set(clientId, new Set(scopes));
  }

  addMessage(user: string, m: Omit<FakeMessage, 'threadId' | 'date'> & Partial<FakeMessage>): void {
    const list = this.mailboxes.get(user) ?? [];
    list.push({ threadId: m.id, date: 'Mon, 1 Dec 2026 09:00:00 +0000', ...m });
    this.mailboxes.set(user, list);
  }

  #send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers }).end(JSON.stringify(body));
  }

  async #body(req: http.IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const url = new URL(req.url ?? '/', this.url);
    if (url.pathname === '/token' && req.method === 'POST') return this.#token(await this.#body(req), res);
    const token = this.tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!token) return this.#send(res, 401, googleError(401, 'Request had invalid authentication credentials.', 'authError', 'UNAUTHENTICATED'));
    this.apiRequests.push({ method: req.method ?? 'GET', path: url.pathname, sub: token.sub });
    const fail = this.failures.find((f) => url.pathname.startsWith(f.prefix) && f.count > 0);
    if (fail) {
      fail.count--;
      const status = fail.status === 429 ? 'RESOURCE_EXHAUSTED' : fail.status >= 500 ? 'UNAVAILABLE' : 'PERMISSION_DENIED';
      return this.#send(res, fail.status, googleError(fail.status, `Injected ${fail.reason}`, fail.reason, status), fail.retryAfter ? { 'retry-after': fail.retryAfter } : {});
    }
    const needed = SCOPES_FOR.find(([re]) => re.test(url.pathname))?.[1] ?? [];
    if (!needed.some((s) => token.scopes.includes(s))) {
      return this.#send(res, 403, googleError(403, 'Request had insufficient authentication scopes.', 'insufficientPermissions', 'PERMISSION_DENIED'));
    }
    const body = req.method === 'POST' || req.method === 'PATCH' || req.method === 'PUT' ? await this.#body(req) : '';
    const answer = this.route(req.method ?? 'GET', url, token.sub, body ? (JSON.parse(body) as Record<string, unknown>) : {});
    if (!answer) return this.#send(res, 404, googleError(404, 'Requested entity was not found.', 'notFound', 'NOT_FOUND'));
    if (answer.status === 204) return void res.writeHead(204).end();
    if (typeof answer.body === 'string') return void res.writeHead(answer.status, { 'content-type': answer.type ?? 'text/plain' }).end(answer.body);
    if (req.method === 'GET' && answer.status === 200 && url.pathname.startsWith('/admin/directory/')) {
      // As the Directory API does: a list response carries an ETag of its contents (the `etag` field and header), and a
      // request whose If-None-Match names the current one gets 304 Not Modified without a body.
      const etag = `"${createHash('sha256').update(JSON.stringify(answer.body)).digest('base64url').slice(0, 27)}/${url.searchParams.get('pageToken') ?? '0'}"`;
      if (req.headers['if-none-match'] === etag) {
        this.notModified.push(url.pathname);
        return void res.writeHead(304, { etag }).end();
      }
      return this.#send(res, 200, { ...(answer.body as object), etag }, { etag });
    }
    this.#send(res, answer.status, answer.body);
  }

  async #token(raw: string, res: http.ServerResponse) {
    const form = new URLSearchParams(raw);
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      return this.#send(res, 400, { error: 'unsupported_grant_type', error_description: 'Invalid grant_type' });
    }
    const assertion = form.get('assertion') ?? '';
    let header: { kid?: string };
    try {
      header = decodeProtectedHeader(assertion);
    } catch {
      return this.#send(res, 400, { error: 'invalid_grant', error_description: 'Invalid JWT: Token must be a short-lived token and in a reasonable timeframe' });
    }
    const account = [...this.accounts.values()].find((a) => a.keyId === header.kid);
    if (!account) return this.#send(res, 400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
    let claims: Record<string, unknown>;
    try {
      ({ payload: claims } = await jwtVerify(assertion, account.publicKey, { algorithms: ['RS256'], issuer: account.clientEmail, audience: this.tokenUri, currentDate: this.now(), maxTokenAge: '1h' }));
    } catch {
      return this.#send(res, 400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
    }
    // Google: "Token must be a short-lived token (60 minutes) and in a reasonable timeframe" (exp - iat ≤ 1 h).
    if (typeof claims.iat !== 'number' || typeof claims.exp !== 'number' || claims.exp - claims.iat > 3600 || claims.exp <= claims.iat) {
      return this.#send(res, 400, { error: 'invalid_grant', error_description: 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.' });
    }
    const sub = String(claims.sub ?? '');
    const scopes = String(claims.scope ?? '').split(' ').filter(Boolean);
    this.tokenRequests.push({ sub, scope: scopes.join(' '), iss: account.clientEmail });
    if (scopes.length === 0) return this.#send(res, 400, { error: 'invalid_scope', error_description: 'Empty or missing scope not allowed.' });
    const granted = this.delegated.get(account.clientId) ?? new Set<string>();
    if (!scopes.every((s) => granted.has(s))) {
      return this.#send(res, 401, { error: 'unauthorized_client', error_description: 'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.' });
    }
    if (!this.users.has(sub)) return this.#send(res, 400, { error: 'invalid_grant', error_description: 'Invalid email or User ID' });
    const accessToken = `ya29.${randomBytes(24).toString('base64url')}`;
    this.tokens.set(accessToken, { sub, scopes });
    this.#send(res, 200, { access_token: accessToken, expires_in: 3599, token_type: 'Bearer' });
  }

  /** API routes; null = 404 notFound. Subclasses or later surfaces extend `routes`. */
  route(method: string, url: URL, sub: string, body: Record<string, unknown>): { status: number; body: unknown; type?: string } | null {
    for (const r of this.routes) {
      const m = method === r.method ? r.path.exec(url.pathname) : null;
      if (m) return r.run({ url, sub, body, params: m.slice(1).map(decodeURIComponent) });
    }
    return null;
  }

  readonly routes: { method: string; path: RegExp; run(x: { url: URL; sub: string; body: Record<string, unknown>; params: string[] }): { status: number; body: unknown; type?: string } | null }[] = [
    { method: 'GET', path: /^\/gmail\/v1\/users\/me\/messages$/, run: ({ url, sub }) => this.#listMessages(url, sub) },
    { method: 'GET', path: /^\/gmail\/v1\/users\/me\/messages\/([^/]+)$/, run: ({ url, sub, params }) => this.#getMessage(sub, params[0]!, url.searchParams.get('format') ?? 'full') },
    {
      method: 'GET',
      path: /^\/gmail\/v1\/users\/me\/threads\/([^/]+)$/,
      run: ({ sub, params }) => {
        const msgs = (this.mailboxes.get(sub) ?? []).filter((m) => m.threadId === params[0]);
        return msgs.length ? { status: 200, body: { id: params[0], messages: msgs.map((m) => this.#resource(m, 'full')) } } : null;
      },
    },
    {
      method: 'GET',
      path: /^\/gmail\/v1\/users\/me\/labels$/,
      run: () => ({ status: 200, body: { labels: [{ id: 'INBOX', name: 'INBOX', type: 'system' }, { id: 'Label_1', name: 'Customers', type: 'user' }] } }),
    },
    {
      method: 'POST',
      path: /^\/gmail\/v1\/users\/me\/drafts$/,
      run: ({ sub, body }) => {
        const message = (body.message ?? {}) as { raw?: string; threadId?: string };
        if (!message.raw) return { status: 400, body: googleError(400, 'Invalid draft', 'invalidArgument', 'INVALID_ARGUMENT') };
        const id = `r${randomBytes(6).toString('hex')}`;
        this.drafts.set(id, { owner: sub, raw: message.raw, threadId: message.threadId ?? null, sent: false });
        return { status: 200, body: { id, message: { id: `m${id}`, threadId: message.threadId ?? `t${id}`, labelIds: ['DRAFT'] } } };
      },
    },
    {
      method: 'POST',
      path: /^\/gmail\/v1\/users\/me\/drafts\/send$/,
      run: ({ sub, body }) => {
        const d = this.drafts.get(String(body.id));
        if (!d || d.owner !== sub || d.sent) return null;
        d.sent = true;
        return { status: 200, body: { id: `m${String(body.id)}`, threadId: d.threadId ?? `t${String(body.id)}`, labelIds: ['SENT'] } };
      },
    },
    ...this.#calendarRoutes(),
    ...this.#driveRoutes(),
    ...this.#directoryRoutes(),
  ];

  #page<T>(url: URL, items: T[], sizeParam: string, max: number) {
    const size = Math.min(Number(url.searchParams.get(sizeParam) ?? max), max);
    const offset = Number(url.searchParams.get('pageToken') ?? 0);
    return { page: items.slice(offset, offset + size), ...(offset + size < items.length && { nextPageToken: String(offset + size) }) };
  }

  #event(e: FakeEvent) {
    return {
      kind: 'calendar#event', id: e.id, status: 'confirmed', htmlLink: `https://calendar.google.com/event?eid=${e.id}`, summary: e.summary,
      ...(e.description && { description: e.description }), ...(e.location && { location: e.location }),
      start: { dateTime: e.start }, end: { dateTime: e.end }, attendees: (e.attendees ?? []).map((email) => ({ email, responseStatus: 'needsAction' })),
    };
  }

  #calendarRoutes(): GoogleFake['routes'] {
    const events = (sub: string, calendarId = 'primary') =>
      calendarId === 'primary' || calendarId === sub ? (this.calendars.get(sub) ?? []) : (this.sharedCalendars.get(calendarId) ?? []);
    return [
      { method: 'GET', path: /^\/calendar\/v3\/users\/me\/calendarList$/, run: ({ sub }) => ({ status: 200, body: { kind: 'calendar#calendarList', items: [{ id: sub, summary: sub, primary: true, accessRole: 'owner', timeZone: 'Europe/Berlin' }, { id: 'team@group.calendar.google.com', summary: 'Team', accessRole: 'reader', timeZone: 'UTC' }, ...[...this.sharedCalendars.keys()].map((id) => ({ id, summary: id, accessRole: 'reader', timeZone: 'UTC' }))] } }) },
      {
        method: 'GET',
        path: /^\/calendar\/v3\/calendars\/([^/]+)\/events$/,
        run: ({ url, sub, params }) => {
          if (url.searchParams.get('singleEvents') !== 'true') return { status: 400, body: googleError(400, 'singleEvents required by this fake', 'invalid', 'INVALID_ARGUMENT') };
          const min = Date.parse(url.searchParams.get('timeMin') ?? ''), max = Date.parse(url.searchParams.get('timeMax') ?? '');
          const q = (url.searchParams.get('q') ?? '').toLowerCase();
          if (params[0] !== 'primary' && params[0] !== sub && !this.sharedCalendars.has(params[0]!)) return null;
          const hits = events(sub, params[0]).filter((e) => Date.parse(e.end) > min && Date.parse(e.start) < max && e.summary.toLowerCase().includes(q)).sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
          const { page, ...next } = this.#page(url, hits, 'maxResults', 250);
          return { status: 200, body: { kind: 'calendar#events', items: page.map((e) => this.#event(e)), ...next } };
        },
      },
      { method: 'GET', path: /^\/calendar\/v3\/calendars\/primary\/events\/([^/]+)$/, run: ({ sub, params }) => { const e = events(sub).find((x) => x.id === params[0]); return e ? { status: 200, body: this.#event(e) } : null; } },
      {
        method: 'POST',
        path: /^\/calendar\/v3\/calendars\/primary\/events$/,
        run: ({ sub, body }) => {
          const b = body as { summary?: string; start?: { dateTime?: string }; end?: { dateTime?: string }; attendees?: { email: string }[]; description?: string };
          if (!b.start?.dateTime || !b.end?.dateTime) return { status: 400, body: googleError(400, 'Missing end time.', 'required', 'INVALID_ARGUMENT') };
          const e: FakeEvent = { id: `ev${randomBytes(4).toString('hex')}`, summary: b.summary ?? '', start: b.start.dateTime, end: b.end.dateTime, attendees: (b.attendees ?? []).map((a) => a.email), ...(b.description && { description: b.description }) };
          this.calendars.set(sub, [...events(sub), e]);
          return { status: 200, body: this.#event(e) };
        },
      },
      {
        method: 'PATCH',
        path: /^\/calendar\/v3\/calendars\/primary\/events\/([^/]+)$/,
        run: ({ sub, body, params }) => {
          const e = events(sub).find((x) => x.id === params[0]);
          if (!e) return null;
          const b = body as { summary?: string; start?: { dateTime?: string }; end?: { dateTime?: string } };
          if (b.summary !== undefined) e.summary = b.summary;
          if (b.start?.dateTime) e.start = b.start.dateTime;
          if (b.end?.dateTime) e.end = b.end.dateTime;
          return { status: 200, body: this.#event(e) };
        },
      },
      {
        method: 'DELETE',
        path: /^\/calendar\/v3\/calendars\/primary\/events\/([^/]+)$/,
        run: ({ sub, params }) => {
          const list = events(sub);
          if (!list.some((x) => x.id === params[0])) return { status: 410, body: googleError(410, 'Resource has been deleted', 'deleted', 'GONE') };
          this.calendars.set(sub, list.filter((x) => x.id !== params[0]));
          return { status: 204, body: null };
        },
      },
      {
        method: 'POST',
        path: /^\/calendar\/v3\/freeBusy$/,
        run: ({ body }) => {
          const items = (body.items ?? []) as { id: string }[];
          const calendars = Object.fromEntries(items.map((i) => [i.id, this.busy.has(i.id) ? { busy: this.busy.get(i.id) } : { busy: [], errors: [{ domain: 'global', reason: 'notFound' }] }]));
          return { status: 200, body: { kind: 'calendar#freeBusy', timeMin: body.timeMin, timeMax: body.timeMax, calendars } };
        },
      },
    ];
  }

  #fileResource(f: FakeFile) {
    return { kind: 'drive#file', id: f.id, name: f.name, mimeType: f.mimeType, modifiedTime: f.modifiedTime, webViewLink: `https://drive.google.com/file/d/${f.id}/view`, shared: (f.permissions ?? []).length > 1, owners: [{ emailAddress: 'owner@acme.com', displayName: 'Owner' }], ...(!f.mimeType.startsWith('application/vnd.google-apps') && { size: String(Buffer.byteLength(f.content)) }) };
  }

  #driveRoutes(): GoogleFake['routes'] {
    const files = (sub: string) => this.files.get(sub) ?? [];
    const find = (sub: string, id: string) => files(sub).find((f) => f.id === id);
    return [
      {
        method: 'GET',
        path: /^\/drive\/v3\/files$/,
        run: ({ url, sub }) => {
          const q = url.searchParams.get('q') ?? '';
          const text = /fullText contains '((?:[^'\\]|\\.)*)'/.exec(q)?.[1]?.replace(/\\(.)/g, '$1').toLowerCase();
          const mime = /mimeType = '([^']*)'/.exec(q)?.[1];
          let hits = files(sub).filter((f) => (!text || `${f.name} ${f.content}`.toLowerCase().includes(text)) && (!mime || f.mimeType === mime));
          if (url.searchParams.get('orderBy') === 'modifiedTime desc') hits = [...hits].sort((a, b) => b.modifiedTime.localeCompare(a.modifiedTime));
          const { page, ...next } = this.#page(url, hits, 'pageSize', 1000);
          return { status: 200, body: { kind: 'drive#fileList', files: page.map((f) => this.#fileResource(f)), ...next } };
        },
      },
      {
        method: 'GET',
        path: /^\/drive\/v3\/files\/([^/]+)$/,
        run: ({ url, sub, params }) => {
          const f = find(sub, params[0]!);
          if (!f) return null;
          if (url.searchParams.get('alt') !== 'media') return { status: 200, body: this.#fileResource(f) };
          if (f.mimeType.startsWith('application/vnd.google-apps')) return { status: 403, body: googleError(403, 'Only files with binary content can be downloaded. Use Export with Docs Editors files.', 'fileNotDownloadable', 'PERMISSION_DENIED') };
          return { status: 200, body: f.content, type: f.mimeType };
        },
      },
      {
        method: 'GET',
        path: /^\/drive\/v3\/files\/([^/]+)\/export$/,
        run: ({ url, sub, params }) => {
          const f = find(sub, params[0]!);
          if (!f) return null;
          const want = url.searchParams.get('mimeType');
          const ok = (f.mimeType.endsWith('.document') && want === 'text/plain') || (f.mimeType.endsWith('.spreadsheet') && want === 'text/csv') || (f.mimeType.endsWith('.presentation') && want === 'text/plain');
          return ok ? { status: 200, body: f.content, type: want! } : { status: 400, body: googleError(400, 'Export only supports Docs Editors files.', 'badRequest', 'INVALID_ARGUMENT') };
        },
      },
      {
        method: 'GET',
        path: /^\/drive\/v3\/files\/([^/]+)\/permissions$/,
        run: ({ sub, params }) => {
          const f = find(sub, params[0]!);
          return f ? { status: 200, body: { kind: 'drive#permissionList', permissions: f.permissions ?? [] } } : null;
        },
      },
    ];
  }

  #directoryRoutes(): GoogleFake['routes'] {
    return [
      {
        method: 'GET',
        path: /^\/admin\/directory\/v1\/users$/,
        run: ({ url }) => {
          if (!url.searchParams.get('customer') && !url.searchParams.get('domain')) return { status: 400, body: googleError(400, 'Bad Request', 'badRequest', 'INVALID_ARGUMENT') };
          const query = url.searchParams.get('query') ?? '';
          const email = /^email:(.+)\*$/.exec(query)?.[1]?.toLowerCase();
          const name = /^name:'(.+)'$/.exec(query)?.[1]?.toLowerCase();
          const hits = this.directory.filter((u) => (!email || u.primaryEmail.toLowerCase().startsWith(email)) && (!name || u.name.fullName.toLowerCase().includes(name)));
          const { page, ...next } = this.#page(url, hits, 'maxResults', this.directoryPageSize);
          return { status: 200, body: { kind: 'admin#directory#users', users: page.map((u) => ({ kind: 'admin#directory#user', etag: u.etag ?? `"e-${u.id}"`, ...u })), ...next } };
        },
      },
      {
        method: 'GET',
        path: /^\/admin\/directory\/v1\/groups$/,
        run: ({ url, sub }) => {
          // As Google: `customer` (or `domain`) is required; `my_customer` is the caller's own; another customer's
          // groups are refused to an admin of another one.
          const asked = url.searchParams.get('customer');
          if (!asked) return { status: 400, body: googleError(400, 'Bad Request', 'badRequest', 'INVALID_ARGUMENT') };
          const own = this.customerOf.get(sub) ?? DEFAULT_CUSTOMER;
          if (asked !== 'my_customer' && asked !== own) return { status: 403, body: googleError(403, 'Not Authorized to access this resource/api', 'forbidden', 'PERMISSION_DENIED') };
          const query = url.searchParams.get('query');
          const clauses = query ? groupClauses(query) : [];
          if (!clauses) return { status: 400, body: googleError(400, 'Invalid Input', 'invalid', 'INVALID_ARGUMENT') };
          const hits = this.groups.filter((g) => (g.customer ?? DEFAULT_CUSTOMER) === own && clauses.every((c) => {
            const v = (c.field === 'name' ? g.name : g.email).toLowerCase();
            return c.exact ? v === c.value : v.startsWith(c.value);
          }));
          const { page, ...next } = this.#page(url, hits, 'maxResults', this.directoryPageSize);
          return { status: 200, body: { kind: 'admin#directory#groups', groups: page.map((g) => ({ kind: 'admin#directory#group', id: g.id, email: g.email, name: g.name, directMembersCount: String(g.members.length) })), ...next } };
        },
      },
      {
        method: 'GET',
        path: /^\/admin\/directory\/v1\/groups\/([^/]+)$/,
        run: ({ sub, params }) => {
          const g = this.groups.find((x) => (x.id === params[0] || x.email === params[0]) && (x.customer ?? DEFAULT_CUSTOMER) === (this.customerOf.get(sub) ?? DEFAULT_CUSTOMER));
          return g ? { status: 200, body: { kind: 'admin#directory#group', id: g.id, email: g.email, name: g.name, directMembersCount: String(g.members.length) } } : null;
        },
      },
      {
        method: 'GET',
        path: /^\/admin\/directory\/v1\/groups\/([^/]+)\/members$/,
        run: ({ url, params }) => {
          const g = this.groups.find((x) => x.id === params[0] || x.email === params[0]);
          if (!g) return null;
          const members = g.members.map((id) => ({ kind: 'admin#directory#member', id, email: this.directory.find((u) => u.id === id)?.primaryEmail ?? `${id}@group`, role: 'MEMBER', type: this.directory.some((u) => u.id === id) ? 'USER' : 'GROUP', status: 'ACTIVE' }));
          const { page, ...next } = this.#page(url, members, 'maxResults', this.directoryPageSize);
          return { status: 200, body: { kind: 'admin#directory#members', ...(page.length && { members: page }), ...next } };
        },
      },
    ];
  }

  #listMessages(url: URL, sub: string) {
    const terms = (url.searchParams.get('q') ?? '').toLowerCase().split(/\s+/).filter(Boolean);
    const all = (this.mailboxes.get(sub) ?? []).filter((m) => terms.every((t) => `${m.from} ${m.subject} ${m.body}`.toLowerCase().includes(t.replace(/^from:/, ''))));
    const max = Math.min(Number(url.searchParams.get('maxResults') ?? 100), 500);
    const offset = Number(url.searchParams.get('pageToken') ?? 0);
    const page = all.slice(offset, offset + max);
    return {
      status: 200,
      body: {
        ...(page.length && { messages: page.map((m) => ({ id: m.id, threadId: m.threadId })) }),
        ...(offset + max < all.length && { nextPageToken: String(offset + max) }),
        resultSizeEstimate: all.length,
      },
    };
  }

  #getMessage(sub: string, id: string, format: string) {
    const m = (this.mailboxes.get(sub) ?? []).find((x) => x.id === id);
    return m ? { status: 200, body: this.#resource(m, format) } : null;
  }

  #resource(m: FakeMessage, format: string) {
    const headers = [
      { name: 'From', value: m.from },
      { name: 'To', value: m.to },
      { name: 'Subject', value: m.subject },
      { name: 'Date', value: m.date },
      { name: 'Message-ID', value: `<${m.id}@mail.example.com>` },
    ];
    const data = Buffer.from(m.body, 'utf8').toString('base64url');
    const parts = [
      { partId: '0', mimeType: 'text/plain', filename: '', headers: [], body: { size: m.body.length, data } },
      ...(m.attachment ? [{ partId: '1', mimeType: m.attachment.mimeType, filename: m.attachment.filename, headers: [], body: { size: m.attachment.size, attachmentId: 'att1' } }] : []),
    ];
    return {
      id: m.id,
      threadId: m.threadId,
      labelIds: m.labelIds ?? ['INBOX'],
      snippet: m.body.slice(0, 100),
      sizeEstimate: m.body.length + 500,
      payload: { partId: '', mimeType: 'multipart/mixed', filename: '', headers, body: { size: 0 }, ...(format === 'full' && { parts }) },
    };
  }
}
