import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { providerRequest } from '../audit-issuance.js';

export interface Redemption {
  action: 'oauth.id-jag.redeem' | 'oauth.token.exchange';
  outcome: 'success' | 'failure';
  userId?: string | null;
  connectionId?: string | null;
  iss?: string | null;
  jti?: string | null;
  /** Which check refused, or the OAuth error; never the token. */
  reason?: string;
}

/** One audit event per cross-app redemption, accepted or refused: client, user, IdP, jti, outcome. */
export function auditRedemption(s: Services, t: TenantCtx, ctx: KoaContextWithOIDC, r: Redemption): void {
  const clientId = ctx.oidc.client?.clientId ?? null;
  void s.audit.recordInBackground(t, {
    actor: { kind: 'oauth-client', id: clientId },
    action: r.action,
    target: { kind: 'user', id: r.userId ?? null },
    outcome: r.outcome,
    request: providerRequest(ctx),
    detail: { clientId, userId: r.userId ?? null, connectionId: r.connectionId ?? null, iss: r.iss ?? null, jti: r.jti ?? null, ...(r.reason && { reason: r.reason }) },
  });
}
