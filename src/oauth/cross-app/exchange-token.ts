import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { mcpResourceUrl } from '../oauth-urls.js';
import { auditRedemption } from './audit-redemption.js';
import { TOKEN_TYPE } from './grant-types.js';
import { issueMcpToken, narrowScope } from './issue-mcp-token.js';
import { RefusedToken } from './jwt-checks.js';
import { resolveSubject } from './resolve-subject.js';
import { verifyIdpToken } from './verify-idp-token.js';

const SUBJECT_TYPES = new Set<string>([TOKEN_TYPE.idToken, TOKEN_TYPE.accessToken, TOKEN_TYPE.jwt]);
const all = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const asString = (v: unknown) => (typeof v === 'string' && v ? v : undefined);

/** RFC 8693 §2.1 request shape; every problem here is `invalid_request` (§2.2.2). */
function readRequest(params: Record<string, unknown>) {
  const subjectToken = asString(params.subject_token);
  const subjectType = asString(params.subject_token_type);
  if (!subjectToken || !subjectType) throw new errors.InvalidRequest('subject_token and subject_token_type are required');
  if (!SUBJECT_TYPES.has(subjectType)) throw new errors.InvalidRequest('unsupported subject_token_type');
  const actorToken = asString(params.actor_token);
  const actorType = asString(params.actor_token_type);
  // §2.1: actor_token_type is REQUIRED when actor_token is present and MUST NOT be included otherwise.
  if (Boolean(actorToken) !== Boolean(actorType)) throw new errors.InvalidRequest('actor_token and actor_token_type go together');
  if (actorType && !SUBJECT_TYPES.has(actorType)) throw new errors.InvalidRequest('unsupported actor_token_type');
  const requested = params.requested_token_type;
  if (requested !== undefined && requested !== TOKEN_TYPE.accessToken) throw new errors.InvalidRequest('unsupported requested_token_type');
  return { subjectToken, subjectType, actorToken, actorType };
}

/** §4.4: a subject token naming who may act for it restricts the actor to that party. */
function checkMayAct(mayAct: unknown, actor: { sub: string; iss: string }): void {
  if (mayAct === undefined) return;
  const m = mayAct as Record<string, unknown> | null;
  if (!m || typeof m !== 'object' || m.sub !== actor.sub || (m.iss !== undefined && m.iss !== actor.iss)) {
    throw new RefusedToken('actor is not allowed by the subject token may_act claim');
  }
}

/**
 * `grant_type=urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693): an ID token (or JWT access token) the
 * client holds from the tenant's OIDC IdP → an MCP access token for the tenant's MCP resource. Enabled per client
 * (`client add --grant token-exchange`); oidc-provider has authenticated the client and checked that. `resource`
 * and `audience` may only name the MCP resource (`invalid_target`); anything wrong with the tokens is
 * `invalid_request` (§2.2.2). With an actor token, the issued token carries `act` (§4.1).
 */
export function exchangeToken(s: Services, t: TenantCtx) {
  const resource = mcpResourceUrl(s.config.publicUrl, t);
  return async (ctx: KoaContextWithOIDC): Promise<void> => {
    const params = ctx.oidc.params as Record<string, unknown>;
    const audit = { action: 'oauth.token.exchange' as const };
    if (ctx.oidc.client!.clientAuthMethod === 'none') {
      auditRedemption(s, t, ctx, { ...audit, outcome: 'failure', reason: 'public client' });
      throw new errors.InvalidClient('client authentication is required for this grant');
    }
    const req = readRequest(params);
    const targets = [...all(params.resource), ...all(params.audience)];
    if (targets.some((x) => x !== resource)) {
      auditRedemption(s, t, ctx, { ...audit, outcome: 'failure', reason: 'target is not this tenant MCP resource' });
      throw new errors.InvalidTarget('the only target this server issues tokens for is its MCP resource');
    }
    const now = s.clock.now();
    let seen: { userId?: string; connectionId?: string; iss?: string } = {};
    try {
      const subject = await verifyIdpToken(s, t, req.subjectToken, req.subjectType, now);
      seen = { connectionId: subject.conn.id, iss: subject.claims.iss };
      let act: Record<string, unknown> | undefined;
      if (req.actorToken) {
        const actor = await verifyIdpToken(s, t, req.actorToken, req.actorType!, now);
        checkMayAct(subject.claims.may_act, actor.claims);
        act = { sub: actor.claims.sub, iss: actor.claims.iss };
      }
      const user = await resolveSubject(t, subject.conn, subject.claims, now);
      seen.userId = user.id;
      const scope = narrowScope(params.scope, null);
      const issued = await issueMcpToken(ctx, { userId: user.id, resource, scope, gty: 'token_exchange', act });
      ctx.body = { ...issued, issued_token_type: TOKEN_TYPE.accessToken };
      auditRedemption(s, t, ctx, { ...audit, ...seen, outcome: 'success' });
    } catch (err) {
      auditRedemption(s, t, ctx, { ...audit, ...seen, outcome: 'failure', reason: err instanceof RefusedToken ? err.reason : String((err as { error?: string }).error ?? 'server_error') });
      // §2.2.2: "If … either the subject_token or actor_token are invalid for any reason … invalid_request".
      if (err instanceof RefusedToken) throw new errors.InvalidRequest(`subject_token or actor_token refused`);
      throw err;
    }
  };
}
