import { MCP_SCOPE } from './oauth-urls.js';

export const ACCESS_TOKEN_TTL_S = 3600; // user tokens ≤ 1 h (issue 5); revocation reaches them sooner via the verifier

/** The access token every user grant gets for the tenant's MCP endpoint: RFC 9068 JWT, `aud` the resource, 1 h. */
export const mcpResourceServer = (mcp: string) =>
  ({ scope: MCP_SCOPE, audience: mcp, accessTokenTTL: ACCESS_TOKEN_TTL_S, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }) as const;
