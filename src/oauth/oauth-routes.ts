import type { IncomingMessage, ServerResponse } from 'node:http';
import { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type Provider from 'oidc-provider';
import { formBody } from '../http/body.js';
import { classifyBodyError } from '../http/error-handler.js';
import { limitStarts } from '../http/limit-starts.js';
import { RateLimiter, tooManyRequests } from '../http/rate-limit.js';
import { tenantOf } from '../http/resolve-tenant.js';
import type { Services } from '../services.js';
import { currentSession } from '../sessions/session-cookie.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { escapeHtml, page } from '../consent/html.js';
import { PROVIDER_CLIENT_IP_HEADER } from './build-provider.js';
import { MCP_SCOPE, mcpResourceUrl, SCIM_SCOPE } from './oauth-urls.js';
import { registrationLimit } from './registration-limit.js';
import { consumePayload } from './payload-statements.js';
import { runWithGrantPrefetch } from './grant-prefetch.js';
import { planRefresh, releaseClaim, runWithRotationPlan, type RotationPlan } from './refresh-rotation.js';
import { tokenFailureLimits } from './token-failure-limit.js';

type Callback = (req: IncomingMessage, res: ServerResponse) => Promise<void>;
const callbacks = new WeakMap<Provider, Callback>();

/** PUBLIC_URL's parts the route adapter hands to the provider, parsed once (not a `new URL` per request). */
interface PublicParts {
  host: string;
  proto: string;
  /** PUBLIC_URL's path without its trailing slash ('' at the root). */
  base: string;
}
const publicParts = new Map<string, PublicParts>();
function publicPartsOf(publicUrl: string): PublicParts {
  let parts = publicParts.get(publicUrl);
  if (!parts) {
    const pub = new URL(publicUrl);
    publicParts.set(publicUrl, (parts = { host: pub.host, proto: pub.protocol.slice(0, -1), base: pub.pathname.replace(/\/$/, '') }));
  }
  return parts;
}

/**
 * Hands a request to the tenant's provider as if it had been mounted at `/t/{slug}`. Host and scheme come from
 * PUBLIC_URL, not from the request, so every URL the provider prints is the public one (behind any proxy).
 */
async function runProvider(s: Services, t: TenantCtx, req: Request, res: Response, relativeUrl: string): Promise<void> {
  const provider = await s.oauthProviders.get(t);
  let callback = callbacks.get(provider);
  if (!callback) callbacks.set(provider, (callback = provider.callback() as unknown as Callback));
  const pub = publicPartsOf(s.config.publicUrl);
  req.headers['x-forwarded-host'] = pub.host;
  req.headers['x-forwarded-proto'] = pub.proto;
  // Overwritten on every hand-off, so ctx.ip inside the provider is always req.ip (build-provider.ts).
  req.headers[PROVIDER_CLIENT_IP_HEADER] = req.ip ?? '';
  req.url = relativeUrl;
  req.originalUrl = `${pub.base}/t/${t.slug}${relativeUrl}`;
  await callback(req, res);
}

/** MCP clients often omit `scope` (claude-code #7744): the MCP baseline scope is what they are asking for. */
function withDefaultScope(s: Services, t: TenantCtx, url: string): string {
  const u = new URL(url, 'http://x');
  const resource = u.searchParams.getAll('resource');
  if (resource.length > 1 || (resource.length === 1 && resource[0] !== mcpResourceUrl(s.config.publicUrl, t))) return url;
  const scopes = (u.searchParams.get('scope') ?? '').split(' ').filter(Boolean);
  if (!scopes.includes(MCP_SCOPE)) u.searchParams.set('scope', [...scopes, MCP_SCOPE].join(' '));
  return u.pathname + u.search;
}

/** RFC 6749 §5.2 error body for failures before the provider sees the request (unreadable form). */
function tokenBodyError(err: unknown, _req: Request, res: Response, next: NextFunction) {
  const body = classifyBodyError(err);
  if (!body) return next(err);
  res.status(body.status).set('Cache-Control', 'no-store').json({ error: 'invalid_request', error_description: 'unreadable request body' });
}

/**
 * Failed requests at the endpoints that authenticate clients write rows (audit, revocations) or make the server fetch
 * a client metadata document: a network, or the tenant as a whole, that failed too often in the window is answered
 * 429 before anything runs (issue 8 §6). Failures are counted inside the provider, before their response is written
 * (token-failure-limit.ts), for the token, revocation and introspection endpoints together.
 */
function clientAuthLimit(s: Services): RequestHandler {
  // The node's view of the counters: no read while they are known to be below their limits (docs/decisions/0041).
  const limiter = new RateLimiter(s.db, s.clock, s.rateView);
  return async (req, res, next) => {
    const verdict = await limiter.check(tokenFailureLimits(tenantOf(res), req.ip));
    if (verdict.ok) return next();
    tooManyRequests(res, verdict).set('Cache-Control', 'no-store').json({ error: 'too_many_requests', error_description: 'Too many failed requests; try again later' });
  };
}

/** Token endpoint: refresh rotation is planned (and serialized in the database) before oidc-provider runs. */
function tokenEndpoint(s: Services): RequestHandler {
  return (req, res) => runWithGrantPrefetch(() => serveToken(s, tenantOf(res), req, res));
}

/** The token request after the failure limit: rotation planned, then oidc-provider, then the claim settled. */
async function serveToken(s: Services, t: TenantCtx, req: Request, res: Response): Promise<void> {
  const body = (req.body ?? {}) as Record<string, unknown>;
  let plan: RotationPlan = { kind: 'none' };
  if (body.grant_type === 'refresh_token') plan = await planRefresh(t, s.clock, body);
  // Entra's provisioning service may omit `scope`; the only scope a machine client can hold is `scim`.
  if (body.grant_type === 'client_credentials' && !body.scope) body.scope = SCIM_SCOPE;
  if (plan.kind === 'replay') {
    // RFC 9700 §4.14.2: reuse of a rotated refresh token means it may be stolen; oidc-provider now revokes the grant.
    await s.audit.record(t, {
      actor: { kind: 'oauth-client', id: typeof body.client_id === 'string' ? body.client_id : null },
      action: 'oauth.refresh.reuse',
      target: { kind: 'oauth-grant', id: plan.grantId },
      outcome: 'failure',
      request: { ip: req.ip, userAgent: req.get('user-agent'), requestId: String(req.id ?? '') },
    });
  }
  await runWithRotationPlan(plan, () => runProvider(s, t, req, res, req.url));
  if (plan.kind !== 'rotate') return;
  // oidc-provider consumed the token but no successor was saved with it (an error in between): write it now, so
  // the claim is kept and the token counts as used, as if it had been written at once.
  if (plan.pendingConsume) await consumePayload(t, 'RefreshToken', plan.id, plan.pendingConsume, false);
  if (res.statusCode !== 200) await releaseClaim(t, plan);
}

/** RFC 8628 §3.1: like /authorize, a device request without the MCP baseline scope asks for it. */
function deviceAuthorization(s: Services): RequestHandler {
  return async (req, res) => {
    const t = tenantOf(res);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const resource = body.resource;
    if (resource === undefined || resource === mcpResourceUrl(s.config.publicUrl, t)) {
      const scopes = typeof body.scope === 'string' ? body.scope.split(' ').filter(Boolean) : [];
      if (!scopes.includes(MCP_SCOPE)) body.scope = [...scopes, MCP_SCOPE].join(' ');
    }
    await runProvider(s, t, req, res, req.url);
  };
}

/** The tenant-space part: everything under /t/{slug}/oauth/ and the OIDC discovery document. */
export function oauthTenantRoutes(s: Services): Router {
  const router = Router({ mergeParams: true });
  const authLimit = clientAuthLimit(s);
  router.post('/oauth/token', authLimit, formBody('64kb'), tokenEndpoint(s), tokenBodyError);
  // Checked here, then handed to the provider below (it reads their bodies itself).
  router.post(['/oauth/revoke', '/oauth/introspect'], authLimit);
  const deviceLimit = limitStarts(s, (_req, res) => void res.json({ error: 'too_many_requests', error_description: 'Too many device authorization requests; try again later' }));
  router.post('/oauth/device_authorization', formBody('64kb'), deviceLimit, deviceAuthorization(s), tokenBodyError);
  router.post('/oauth/register', registrationLimit(s));
  // An authorization request writes an Interaction row before anyone signed in: counted unless the browser has an SSO
  // session of the tenant (issue 8 §6). Over the limit, a page on our origin — never a redirect to the client.
  router.get(
    '/oauth/authorize',
    limitStarts(
      s,
      (_req, res, verdict) => void res.type('html').send(page(tenantOf(res).name, 'Too many requests', `<div role="alert"><p>Too many sign-in requests from your network. Try again in ${escapeHtml(String(verdict.retryAfterS))} seconds.</p></div>`)),
      async (req, res) => (await currentSession(s, tenantOf(res), req)) !== null,
    ),
  );
  router.use(async (req, res, next) => {
    if (!req.path.startsWith('/oauth/') && req.path !== '/.well-known/openid-configuration') return next();
    const t = tenantOf(res);
    const url = req.path === '/oauth/authorize' && req.method === 'GET' ? withDefaultScope(s, t, req.url) : req.url;
    await runProvider(s, t, req, res, url);
  });
  return router;
}

/**
 * Root-level discovery for the tenant issuer `PUBLIC_URL/t/{slug}`: RFC 8414 §3.1 path-inserted metadata, and the
 * OIDC path-inserted form that clients probe second. Both serve the provider's own document.
 */
export function oauthRootRoutes(s: Services): Router {
  const router = Router();
  const serve: RequestHandler = async (req, res, next) => {
    const t = await s.tenants.findActive(String(req.params.slug ?? ''));
    if (!t) return next();
    await runProvider(s, t, req, res, '/.well-known/openid-configuration');
  };
  router.get('/.well-known/oauth-authorization-server/t/:slug', serve);
  router.get('/.well-known/openid-configuration/t/:slug', serve);
  return router;
}
