import type Provider from 'oidc-provider';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { exchangeToken } from './exchange-token.js';
import { ID_JAG_PROFILE, JWT_BEARER, TOKEN_EXCHANGE } from './grant-types.js';
import { redeemIdJag } from './redeem-id-jag.js';

const TOKEN_EXCHANGE_PARAMS = ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'requested_token_type', 'resource', 'audience', 'scope'];

/**
 * Adds the cross-app grants to a tenant's provider. Registered whatever the tenant switch says, so that a client
 * holding one of them in `grant_types` stays a valid client while the switch is off; the switch decides whether the
 * metadata advertises them and whether a request is served (`unsupported_grant_type` when off).
 */
export function registerCrossAppGrants(s: Services, t: TenantCtx, provider: Provider): void {
  const on = t.settings.crossAppAccess;
  const gate = (handler: (ctx: KoaContextWithOIDC) => Promise<void>) => async (ctx: KoaContextWithOIDC) => {
    if (!on) throw new errors.UnsupportedGrantType();
    await handler(ctx);
  };
  provider.registerGrantType(JWT_BEARER, gate(redeemIdJag(s, t)), ['assertion', 'scope', 'resource']);
  // RFC 8693 §2.1: resource and audience may repeat (each must still name our MCP resource).
  provider.registerGrantType(TOKEN_EXCHANGE, gate(exchangeToken(s, t)), TOKEN_EXCHANGE_PARAMS, ['resource', 'audience']);
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.oidc?.route !== 'discovery' || !ctx.body || typeof ctx.body !== 'object') return;
    const body = ctx.body as Record<string, unknown>;
    const grants = (body.grant_types_supported as string[] | undefined) ?? [];
    if (on) {
      // IDJAG §6: advertising the profile requires jwt-bearer in grant_types_supported (it is).
      body.authorization_grant_profiles_supported = [ID_JAG_PROFILE];
    } else {
      body.grant_types_supported = grants.filter((g) => g !== JWT_BEARER && g !== TOKEN_EXCHANGE);
    }
  });
}

/** Claims a cross-app token carries into its JWT besides the usual ones: RFC 8693 §4.1 `act`. */
export function carriedClaims(token: { extra?: Record<string, unknown> }): Record<string, unknown> {
  const act = token.extra?.act;
  return act ? { act } : {};
}
