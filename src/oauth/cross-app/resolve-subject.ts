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
 * for one client is not a directory update). Inactive users are refused.
 */
export async function resolveSubject(t: TenantCtx, conn: Connection, claims: Claims, now: Date) {
  const noJit: Connection = { ...conn, config: { ...conn.config, jitEnabled: false } };
  const profile = mapProfile(String(claims.sub), claims, defaultOidcMapping, conn.config.mapping);
  delete profile.groups;
  try {
    return await resolveSsoUser(t, noJit, profile, now);
  } catch (err) {
    if (err instanceof SsoError) throw new RefusedToken(`subject refused: ${err.code}`);
    throw err;
  }
}
