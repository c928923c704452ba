import type { Connection } from '../../sso/connections/manage-connections.js';
import { defaultOidcMapping } from '../../sso/connections/connection-config.js';
import { SsoError } from '../../sso/sso-error.js';
import { mapProfile } from '../../sso/users/map-profile.js';
import { resolveSsoUser } from '../../sso/users/resolve-sso-user.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { RefusedToken, type Claims } from './jwt-checks.js';

/**
 * The local user an IdP subject stands for, by the same key and linking rules as an SSO login through that connection
 * (src/sso/users): (connection, `sub`) first, else the connection's matching rule. Two differences, both because no
 * person is present: no JIT creation (the user must exist — SSO or SCIM made them), and no group sync (an assertion
 * for one client is not a directory update). Inactive users are refused, and so is an assertion issued before the
 * user's access was last revoked (`revokedBefore`: Universal Logout, a Shared Signals event, the admin's "revoke
 * everything", deprovisioning): it would mint a fresh grant after the revocation, again and again until it expired.
 * As the access-token verifier counts it, an `iat` in the very second of the revocation counts as before it.
 */
export async function resolveSubject(t: TenantCtx, conn: Connection, claims: Claims, now: Date) {
  const noJit: Connection = { ...conn, config: { ...conn.config, jitEnabled: false } };
  const profile = mapProfile(String(claims.sub), claims, defaultOidcMapping, conn.config.mapping);
  delete profile.groups;
  let user: Awaited<ReturnType<typeof resolveSsoUser>>;
  try {
    user = await resolveSsoUser(t, noJit, profile, now);
  } catch (err) {
    if (err instanceof SsoError) throw new RefusedToken(`subject refused: ${err.code}`);
    throw err;
  }
  const issuedMs = typeof claims.iat === 'number' ? claims.iat * 1000 : -Infinity;
  if (user.revokedBefore && user.revokedBefore.getTime() >= issuedMs) throw new RefusedToken('subject refused: assertion issued before the user\'s access was revoked');
  return user;
}
