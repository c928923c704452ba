import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { Services } from '../../services.js';
import { findConnectionByIssuer } from '../../sso/connections/manage-connections.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { ID_JAG_IDPS } from '../client-policy.js';
import { issuerUrl, mcpResourceUrl } from '../oauth-urls.js';
import { auditRedemption } from './audit-redemption.js';
import { idpKeys } from './idp-keys.js';
import { issueMcpToken, narrowScope } from './issue-mcp-token.js';
import { MAX_JWT_LENGTH, RefusedToken } from './jwt-checks.js';
import { rememberJti } from './remember-jti.js';
import { resolveSubject } from './resolve-subject.js';
import { ID_JAG_SKEW_S, verifyIdJag, type TrustedIdp } from './verify-id-jag.js';

/** `client add --id-jag-idp`: a client may restrict which of the tenant's trusted IdPs can vouch for it. */
function checkClientIdp(client: object, connectionId: string): void {
  const allowed = (client as Record<string, unknown>)[ID_JAG_IDPS];
  if (Array.isArray(allowed) && allowed.length && !allowed.includes(connectionId)) throw new RefusedToken('this IdP may not vouch for this client');
}

/** The tenant's enabled OIDC connection for `iss`, if the admin marked it as an ID-JAG issuer (`idp update --id-jag on`). */
export function trustedIdJagIssuer(s: Services, t: TenantCtx) {
  return async (iss: string): Promise<TrustedIdp | null> => {
    const conn = await findConnectionByIssuer(t, 'oidc', iss);
    if (!conn?.config.idJag) return null;
    return { conn, keys: await idpKeys(s, t, conn) };
  };
}

/**
 * `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` with an ID-JAG (draft-ietf-oauth-identity-assertion-authz-grant
 * §5; MCP extension enterprise-managed-authorization). oidc-provider has already authenticated the client and checked
 * that its registration allows this grant. Every outcome is audited; refusals answer `invalid_grant` (RFC 7521 §5.2).
 */
export function redeemIdJag(s: Services, t: TenantCtx) {
  const resource = mcpResourceUrl(s.config.publicUrl, t);
  const trustedIdp = trustedIdJagIssuer(s, t);
  return async (ctx: KoaContextWithOIDC): Promise<void> => {
    const params = ctx.oidc.params as Record<string, unknown>;
    const audit = { action: 'oauth.id-jag.redeem' as const };
    const client = ctx.oidc.client!;
    // EMA §7.5.1, IDJAG §5: only a client that proved who it is may redeem an assertion naming it.
    if (client.clientAuthMethod === 'none') {
      auditRedemption(s, t, ctx, { ...audit, outcome: 'failure', reason: 'public client' });
      throw new errors.InvalidClient('client authentication is required for this grant');
    }
    const assertion = params.assertion;
    if (typeof assertion !== 'string' || !assertion) throw new errors.InvalidRequest('missing required parameter(s) (assertion)');
    if (assertion.length > MAX_JWT_LENGTH) throw new errors.InvalidRequest('assertion too large');
    if (params.resource !== undefined && params.resource !== resource) {
      auditRedemption(s, t, ctx, { ...audit, outcome: 'failure', reason: 'resource parameter is not this tenant MCP resource' });
      throw new errors.InvalidTarget();
    }
    const now = s.clock.now();
    let seen: { userId?: string; connectionId?: string; iss?: string; jti?: string } = {};
    try {
      const jag = await verifyIdJag(assertion, { issuer: issuerUrl(s.config.publicUrl, t), resource, clientId: client.clientId, now, trustedIdp });
      const { iss, sub, jti, exp } = jag.claims;
      seen = { connectionId: jag.conn.id, iss, jti };
      checkClientIdp(client, jag.conn.id);
      const keepUntil = new Date((exp + ID_JAG_SKEW_S) * 1000);
      if (!(await rememberJti(s, t, iss, sub, jti, keepUntil))) throw new RefusedToken('jti already used');
      const user = await resolveSubject(t, jag.conn, jag.claims, now);
      seen.userId = user.id;
      const scope = narrowScope(params.scope, jag.scopes);
      ctx.body = await issueMcpToken(ctx, { userId: user.id, resource, scope, gty: 'id_jag' });
      auditRedemption(s, t, ctx, { ...audit, ...seen, outcome: 'success' });
    } catch (err) {
      auditRedemption(s, t, ctx, { ...audit, ...seen, outcome: 'failure', reason: err instanceof RefusedToken ? err.reason : String((err as { error?: string }).error ?? 'server_error') });
      if (err instanceof RefusedToken) throw new errors.InvalidGrant(err.reason);
      throw err;
    }
  };
}
