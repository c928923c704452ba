import type { IncomingMessage } from 'node:http';
import type { AccessTokenInfo, AccessTokenVerifier, VerifyHooks } from '../oauth/access-token.js';
import type { Clock } from '../lib/clock.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { MCP_SCOPE, MCP_SCOPES } from './mcp-resource.js';

export type BearerOutcome =
  | { ok: true; info: AccessTokenInfo & { userId: string } }
  | { ok: false; status: 400 | 401 | 403; challenge: string; body: { error: string; error_description: string } };

interface Challenge {
  resourceMetadataUrl: string;
  error?: 'invalid_token' | 'invalid_request' | 'insufficient_scope';
  description?: string;
  scopes?: readonly string[];
}

// RFC 6750 §3: auth-param values are quoted-strings; our values never contain quotes or backslashes, strip anyway.
const q = (v: string) => `"${v.replace(/["\\]/g, '')}"`;

/** `WWW-Authenticate: Bearer resource_metadata=…, scope=…[, error=…]` (RFC 6750 §3, RFC 9728 §5.1). */
export function bearerChallenge(c: Challenge): string {
  const parts = [`resource_metadata=${q(c.resourceMetadataUrl)}`, `scope=${q((c.scopes ?? MCP_SCOPES).join(' '))}`];
  if (c.error) parts.push(`error=${q(c.error)}`);
  if (c.description) parts.push(`error_description=${q(c.description)}`);
  return `Bearer ${parts.join(', ')}`;
}

// RFC 6750 §2.1: `Bearer` SP b64token (the scheme case-insensitive, RFC 9110 §11.1); trailing spaces tolerated.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** The token of an `Authorization: Bearer …` header, or undefined when there is none or it is malformed. */
export const bearerTokenOf = (header: string | undefined): string | undefined => (header === undefined ? undefined : BEARER.exec(header)?.[1]);

function fail(status: 400 | 401 | 403, c: Challenge) {
  const error = c.error ?? 'invalid_token';
  const description = c.description ?? 'An access token is required';
  return { ok: false as const, status, challenge: bearerChallenge(c), body: { error, error_description: description } };
}

/**
 * The resource server's token check, on every request (MCP 2025-11-25 authorization; OAuth 2.1 §5.2):
 * header only (a token in the query string is refused, RFC 6750 §2.3 is not supported), issued by this tenant's AS
 * for exactly this resource (RFC 8707 audience), for a user, unexpired, with the baseline scope.
 */
export async function checkBearer(
  req: IncomingMessage,
  t: TenantCtx,
  verifier: AccessTokenVerifier | undefined,
  opts: {
    resource: string;
    resourceMetadataUrl: string;
    clock: Clock;
    hooks?: VerifyHooks;
    /**
     * `bearerTokenOf(req.headers.authorization)` when the caller has taken it already (the MCP endpoint, for its cold
     * read): the token, ~1 kB, is then matched and hashed for the verifier's cache once per request instead of twice.
     */
    token?: string;
  },
): Promise<BearerOutcome> {
  const base = { resourceMetadataUrl: opts.resourceMetadataUrl };
  // Parsed only when a query string could carry one: this check runs on every MCP request.
  const url = req.url ?? '/';
  if (url.includes('access_token') && new URL(url, 'http://x').searchParams.has('access_token')) {
    // RFC 6750 §3.1: invalid_request is a 400.
    return fail(400, { ...base, error: 'invalid_request', description: 'Send the access token in the Authorization header, never in the URL' });
  }
  const header = req.headers.authorization;
  // No credentials at all: a bare challenge without `error` (RFC 6750 §3.1).
  if (!header) return fail(401, base);
  const token = 'token' in opts ? opts.token : bearerTokenOf(header);
  if (!token || !verifier) return fail(401, { ...base, error: 'invalid_token', description: 'The access token is malformed or not accepted' });
  const info = await verifier.verify(t, token, opts.resource, opts.hooks);
  // Defence in depth: the verifier promises all of this; a resource server re-checks what it relies on.
  if (!info || info.tenantId !== t.id || info.audience !== opts.resource || info.expiresAt.getTime() <= opts.clock.now().getTime()) {
    return fail(401, { ...base, error: 'invalid_token', description: 'The access token is invalid, expired, revoked, or not for this resource' });
  }
  if (!info.userId) {
    return fail(401, { ...base, error: 'invalid_token', description: 'This endpoint needs a token issued to a user' });
  }
  if (!info.scopes.includes(MCP_SCOPE)) {
    // The SDK client replaces its scope with the challenge's: send the union of held and needed scopes.
    const scopes = [...new Set([...info.scopes, ...MCP_SCOPES])];
    return fail(403, { ...base, error: 'insufficient_scope', description: `The access token lacks the ${MCP_SCOPE} scope`, scopes });
  }
  return { ok: true, info: { ...info, userId: info.userId } };
}
