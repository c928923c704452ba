import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JWK } from 'jose';
import Provider, { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

export interface SeenRequest {
  /** `sub` of the bearer token the request carried ('' = none or invalid). */
  sub: string;
  sessionId: string | undefined;
  method: string | undefined;
}

/**
 * A per-user upstream as SaaS vendors run them: an MCP server (the SDK's, stateful) that accepts only JWT access
 * tokens of its own authorization server (node-oidc-provider, RFC 8707 resource = the MCP URL), answers 401 with
 * RFC 9728 metadata otherwise, binds each MCP session to the token's subject, and whose `whoami` tool returns the
 * caller's identity.
 */
export interface UpstreamWithAs {
  url: string;
  issuer: string;
  /** Pre-registered confidential client (for `--client-id/--client-secret`). */
  clientId: string;
  clientSecret: string;
  /** Who signs in at the upstream's AS at its next authorization request. */
  nextAccount: string;
  seen: SeenRequest[];
  /** Session id → subject it was created for. */
  sessionOwners: Map<string, string>;
  /** Token endpoint answers 503 while true (its "outage"). */
  tokenEndpointDown: boolean;
  /** Requests that reached the token endpoint, by grant_type (and 'revocation'). */
  tokenRequests: string[];
  /** The `client_id` of every authorization request that reached the AS. */
  authorizeClientIds: string[];
  /** `grant_type` of every POST to the token endpoint, answered or refused. */
  tokenPosts: string[];
  /** Accepts redirect URIs on this origin (our app): tenants are created after the AS starts. */
  allowOrigin(origin: string): void;
  /** Refresh-token grant with this token, as the gateway would send it: the AS's verdict (status + error). */
  tryRefresh(refreshToken: string): Promise<{ status: number; error?: string }>;
  close(): Promise<void>;
}

/**
 * `idJag`: the AS is also an EMA resource authorization server (decision 0027's tests): it advertises the ID-JAG
 * profile and redeems ID-JAGs of the corporate IdP `idpIssuer` (keys from its `/jwks`) with the jwt-bearer grant:
 * `typ`, signature, `iss`, `aud` = this issuer, `client_id` = the authenticated client, `resource`, `exp`, single-use
 * `jti`. The access token's `sub` is the ID-JAG's.
 */
/**
 * `rfc9207: false`: a server without RFC 9207 — its metadata does not promise `iss` and its authorization responses
 * carry none (oidc-provider always does both, so they are taken out on the way).
 */
export async function startUpstreamWithAs(opts: { dcr?: boolean; accessTtl?: number; idJag?: { idpIssuer: string }; cimd?: boolean; rfc9207?: boolean } = {}): Promise<UpstreamWithAs> {
  const asServer = http.createServer();
  await new Promise<void>((r) => asServer.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(asServer.address() as AddressInfo).port}`;
  const mcpServer = http.createServer();
  await new Promise<void>((r) => mcpServer.listen(0, '127.0.0.1', r));
  const mcpOrigin = `http://127.0.0.1:${(mcpServer.address() as AddressInfo).port}`;
  const url = `${mcpOrigin}/mcp`;
  const prmUrl = `${mcpOrigin}/.well-known/oauth-protected-resource/mcp`;

  const key = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `up-${randomBytes(4).toString('hex')}`;
  const privateJwk = { ...key.privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  const publicJwks = createLocalJWKSet({ keys: [{ ...key.publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' } as JWK] });
  const allowedOrigins = new Set<string>();
  const clientId = 'gateway-preregistered';
  const clientSecret = randomBytes(24).toString('base64url');

  const config: Configuration = {
    jwks: { keys: [privateJwk as never] },
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: ['http://127.0.0.1/placeholder'],
        grant_types: ['authorization_code', 'refresh_token', ...(opts.idJag ? [JWT_BEARER] : [])],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    discovery: {
      ...(opts.idJag && { authorization_grant_profiles_supported: ['urn:ietf:params:oauth:grant-profile:id-jag'] }),
      // Advertised only (draft-ietf-oauth-client-id-metadata-document §4): this AS does not fetch documents.
      ...(opts.cimd && { client_id_metadata_document_supported: true }),
    },
    findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      registration: { enabled: opts.dcr ?? true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => url,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          if (resource !== url) throw new errors.InvalidTarget();
          return { scope: 'tools', audience: url, accessTokenTTL: opts.accessTtl ?? 3600, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
        },
      },
    },
    pkce: { required: () => true },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: ['upstream-as-cookie-key'] },
    loadExistingGrant: async (ctx) => {
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId! });
      grant.addResourceScope(url, 'tools');
      await grant.save();
      return grant;
    },
  };
  const provider = new Provider(issuer, config);
  if (opts.idJag) registerIdJagGrant(provider, opts.idJag.idpIssuer, issuer, url, opts.accessTtl ?? 3600);
  const proto = provider.Client.prototype as unknown as { redirectUriAllowed(v: string): boolean };
  const exact = proto.redirectUriAllowed;
  proto.redirectUriAllowed = function (this: unknown, v: string) {
    const u = URL.parse(v);
    // The admin registered the gateway's redirect URI for the pre-registered client (any of its tenants' and upstreams').
    if (u && allowedOrigins.has(u.origin) && /\/upstream-oauth\/callback(\/[^/]+)?$/.test(u.pathname) && (this as { clientId?: string }).clientId === clientId) return true;
    return exact.call(this, v);
  };

  const up: UpstreamWithAs = {
    url,
    issuer,
    clientId,
    clientSecret,
    nextAccount: '',
    seen: [],
    sessionOwners: new Map(),
    tokenEndpointDown: false,
    tokenRequests: [],
    authorizeClientIds: [],
    tokenPosts: [],
    allowOrigin: (origin) => void allowedOrigins.add(origin),
    async tryRefresh(refreshToken) {
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}` },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
      });
      const body = (await res.json().catch(() => ({}))) as { error?: string };
      return { status: res.status, error: body.error };
    },
    close: async () => {
      for (const tr of sessions.values()) void tr.close();
      for (const srv of [asServer, mcpServer]) srv.closeAllConnections();
      await Promise.all([asServer, mcpServer].map((srv) => new Promise<void>((r) => srv.close(() => r()))));
    },
  };

  const callback = provider.callback();
  asServer.on('request', async (req, res) => {
    if (opts.rfc9207 === false && withoutIss(req, res, issuer)) return;
    if (req.url?.startsWith('/auth?')) up.authorizeClientIds.push(new URL(req.url, issuer).searchParams.get('client_id') ?? '');
    if (req.url?.startsWith('/token')) {
      if (up.tokenEndpointDown) {
        res.writeHead(503, { 'content-type': 'text/plain' }).end('down for maintenance');
        return;
      }
      if (req.url.startsWith('/token/revocation')) up.tokenRequests.push('revocation');
      else if (req.method === 'POST') up.tokenPosts.push(await grantTypeOf(req));
    }
    if (req.url?.startsWith('/interaction/')) {
      try {
        const details = await provider.interactionDetails(req, res);
        if (details.prompt.name === 'login') await provider.interactionFinished(req, res, { login: { accountId: up.nextAccount } }, { mergeWithLastSubmission: false });
        else {
          // The user consents to whatever was asked (as a user clicking "Allow" at the SaaS would).
          const grant = details.grantId ? (await provider.Grant.find(details.grantId))! : new provider.Grant({ accountId: details.session!.accountId, clientId: String(details.params.client_id) });
          const d = details.prompt.details as { missingOIDCScope?: string[]; missingResourceScopes?: Record<string, string[]> };
          if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
          for (const [indicator, scopes] of Object.entries(d.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
          await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
        }
      } catch (err) {
        res.writeHead(500).end(String(err));
      }
      return;
    }
    callback(req, res);
  });
  provider.on('grant.success', (ctx) => up.tokenRequests.push(String((ctx.oidc.params as { grant_type?: string }).grant_type)));

  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const build = () => {
    const server = new McpServer({ name: 'per-user-upstream', version: '1.0.0' });
    server.registerTool('whoami', { description: 'Who the upstream thinks is calling' }, async (extra) => ({
      content: [{ type: 'text', text: `sub=${String(extra.authInfo?.extra?.sub)} session=${extra.sessionId}` }],
    }));
    server.registerTool('echo', { description: 'Echoes text', inputSchema: { text: z.string() } }, async ({ text }) => ({ content: [{ type: 'text', text }] }));
    return server;
  };
  const challenge = (error?: string) => `Bearer resource_metadata="${prmUrl}", scope="tools"${error ? `, error="${error}"` : ''}`;
  mcpServer.on('request', async (req, res) => {
    if (req.url === '/.well-known/oauth-protected-resource/mcp') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ resource: url, authorization_servers: [issuer], scopes_supported: ['tools'], bearer_methods_supported: ['header'] }));
      return;
    }
    const sid = req.headers['mcp-session-id'];
    const sessionId = typeof sid === 'string' ? sid : undefined;
    const auth = req.headers.authorization;
    let sub = '';
    if (auth?.startsWith('Bearer ')) {
      try {
        const { payload } = await jwtVerify(auth.slice(7), publicJwks, { issuer, audience: url });
        sub = String(payload.sub);
      } catch {
        sub = '';
      }
    }
    up.seen.push({ sub, sessionId, method: req.method });
    if (!sub) {
      res.writeHead(401, { 'www-authenticate': challenge(auth ? 'invalid_token' : undefined), 'content-type': 'application/json' }).end('{"error":"unauthorized"}');
      return;
    }
    (req as unknown as { auth: unknown }).auth = { token: auth!.slice(7), clientId: 'gateway', scopes: ['tools'], extra: { sub } };
    let transport = sessionId ? sessions.get(sessionId) : undefined;
    if (sessionId && !transport) return void res.writeHead(404).end();
    // A session belongs to the subject that opened it: another user's token on it is refused (as real servers do).
    if (sessionId && up.sessionOwners.get(sessionId) !== sub) return void res.writeHead(403).end('session of another user');
    if (!transport) {
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomBytes(12).toString('hex'),
        enableJsonResponse: true,
        onsessioninitialized: (id) => {
          sessions.set(id, created);
          up.sessionOwners.set(id, sub);
        },
      });
      await build().connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res);
  });
  return up;
}

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** The token request's grant_type, read without consuming the body oidc-provider parses next. */
async function grantTypeOf(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks);
  (req as unknown as { body: unknown }).body = Object.fromEntries(new URLSearchParams(body.toString()));
  return new URLSearchParams(body.toString()).get('grant_type') ?? '';
}

/**
 * RFC 9207 taken out: metadata requests are answered here without the promise, and every redirect loses its `iss`.
 * Returns true when the request was answered.
 */
function withoutIss(req: http.IncomingMessage, res: http.ServerResponse, issuer: string): boolean {
  const setHeader = res.setHeader.bind(res);
  res.setHeader = (name: string, value: number | string | readonly string[]) => {
    const u = name.toLowerCase() === 'location' && typeof value === 'string' ? new URL(value, issuer) : null;
    if (u?.searchParams.has('iss')) {
      u.searchParams.delete('iss');
      value = u.href;
    }
    return setHeader(name, value);
  };
  if (!req.url?.startsWith('/.well-known/') || req.headers['x-metadata-as-is']) return false;
  void (async () => {
    const metadata = (await (await fetch(`${issuer}${req.url}`, { headers: { 'x-metadata-as-is': '1' } })).json()) as Record<string, unknown>;
    delete metadata.authorization_response_iss_parameter_supported;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(metadata));
  })();
  return true;
}

/** The upstream AS's side of EMA: redeem an ID-JAG (RFC 7523 jwt-bearer) for an access token to its MCP server. */
function registerIdJagGrant(provider: Provider, idpIssuer: string, issuer: string, url: string, accessTtl: number): void {
  const idpKeys = createRemoteJWKSet(new URL(`${idpIssuer}/jwks`));
  const usedJti = new Set<string>();
  provider.registerGrantType(
    JWT_BEARER,
    async (ctx: KoaContextWithOIDC) => {
      const params = ctx.oidc.params as { assertion?: string; resource?: string };
      let payload;
      try {
        ({ payload } = await jwtVerify(String(params.assertion), idpKeys, { issuer: idpIssuer, audience: issuer, typ: 'oauth-id-jag+jwt', algorithms: ['RS256'] }));
      } catch (err) {
        throw new errors.InvalidGrant(`bad ID-JAG: ${(err as Error).message}`);
      }
      const client = ctx.oidc.client!;
      if (payload.client_id !== client.clientId) throw new errors.InvalidGrant('ID-JAG client_id is not the authenticated client');
      if (payload.resource !== undefined && payload.resource !== url) throw new errors.InvalidGrant('ID-JAG resource is not this server');
      if (!payload.jti || usedJti.has(payload.jti)) throw new errors.InvalidGrant('ID-JAG replayed');
      usedJti.add(payload.jti);
      const grant = new provider.Grant({ accountId: String(payload.sub), clientId: client.clientId });
      grant.addResourceScope(url, 'tools');
      await grant.save();
      const at = new provider.AccessToken({ accountId: String(payload.sub), client, grantId: grant.jti, gty: 'jwt-bearer', scope: 'tools' });
      at.resourceServer = new provider.ResourceServer(url, { scope: 'tools', audience: url, accessTokenTTL: accessTtl, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } });
      ctx.oidc.entity('AccessToken', at);
      ctx.body = { access_token: await at.save(), token_type: 'Bearer', expires_in: at.expiration, scope: 'tools' };
    },
    ['assertion', 'scope', 'resource'],
  );
}
