import type { RequestHandler, Response } from 'express';
import { tenantOf } from '../http/resolve-tenant.js';
import type { AccessTokenVerifier } from '../oauth/access-token.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { scimUnauthorized } from './scim-error.js';
import { hashToken } from '../lib/secrets.js';
import { scimBaseUrl } from './scim-tokens.js';

/** Who is calling the SCIM API: a tenant's SCIM bearer token, or an OAuth client holding a `scim` access token. */
export interface ScimPrincipal {
  /** 'system': directory sync (src/connectors) writing through the same store functions as a SCIM client. */
  kind: 'scim-token' | 'oauth-client' | 'system';
  id: string;
}

/** One way to accept a credential. Verifiers are tried in order; the first that recognises the token wins. */
export interface ScimCredentialVerifier {
  readonly name: string;
  verify(t: TenantCtx, token: string): Promise<ScimPrincipal | null>;
}

/**
 * The authorization-server work adds `accessTokens` to Services; SCIM picks it up without further wiring
 * (Entra's gallery requires OAuth 2.0 client-credentials tokens).
 */
type MaybeWithAccessTokens = Services & { readonly accessTokens?: AccessTokenVerifier };

export const SCIM_SCOPE = 'scim';

export function scimVerifiers(s: Services): ScimCredentialVerifier[] {
  const list: ScimCredentialVerifier[] = [
    {
      name: 'scim-token',
      async verify(t, token) {
        const row = await s.scimTokens.verify(t, token, hashToken(token));
        return row ? { kind: 'scim-token', id: row.id } : null;
      },
    },
  ];
  const accessTokens = (s as MaybeWithAccessTokens).accessTokens;
  if (accessTokens) {
    list.push({
      name: 'oauth-access-token',
      async verify(t, token) {
        // RFC 8707: the token must be bound to this tenant's SCIM base URL, and carry the `scim` scope.
        const info = await accessTokens.verify(t, token, scimBaseUrl(s.config.publicUrl, t));
        if (!info || info.tenantId !== t.id || !info.scopes.includes(SCIM_SCOPE)) return null;
        return { kind: 'oauth-client', id: info.clientId };
      },
    });
  }
  return list;
}

/**
 * `Authorization: Bearer <token>` (RFC 6750), or the bare token without a scheme (Okta's "HTTP Header" mode).
 * Any other scheme (Basic…) is not a SCIM credential.
 */
export function presentedToken(header: string | undefined): string | null {
  if (!header) return null;
  const value = header.trim();
  const bearer = /^Bearer\s+(\S+)$/i.exec(value);
  if (bearer) return bearer[1]!;
  if (/^\S+$/.test(value) && value.length <= 4096) return value;
  return null;
}

/**
 * Who presents `authorization` to tenant `t`'s SCIM API (framework-free: the Express middleware below and the
 * node:http hot path, scim-endpoint.ts, both call it); 401 as a ScimError when no verifier accepts it.
 */
export async function authenticateScim(verifiers: ScimCredentialVerifier[], t: TenantCtx, authorization: string | undefined): Promise<ScimPrincipal> {
  const token = presentedToken(authorization);
  if (!token) throw scimUnauthorized();
  for (const v of verifiers) {
    const principal = await v.verify(t, token);
    if (principal) return principal;
  }
  throw scimUnauthorized('Invalid or revoked token');
}

export function scimAuth(verifiers: ScimCredentialVerifier[]): RequestHandler {
  return async (req, res, next) => {
    res.locals.scimPrincipal = await authenticateScim(verifiers, tenantOf(res), req.headers.authorization);
    next();
  };
}

export function principalOf(res: Response): ScimPrincipal {
  const p = res.locals.scimPrincipal as ScimPrincipal | undefined;
  if (!p) throw new Error('principalOf() used before scimAuth');
  return p;
}
