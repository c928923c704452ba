import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';

/**
 * Assertion-ID replay cache in the database, so it holds across nodes (SAML profiles §4.1.4.5: the SP must not
 * accept a bearer assertion twice). Insert-or-fail on the primary key: the second use of an ID loses the race.
 * Rows are kept until the assertion could no longer validate anyway, then the cleanup job removes them.
 */
export async function rememberAssertion(s: Services, t: TenantCtx, issuer: string, assertionId: string, keepUntil: Date): Promise<boolean> {
  return rememberOnce(s, t, 'saml-assertion', `${issuer}|${assertionId}`, keepUntil);
}

/** The same single-use guard for any IdP-issued id (e.g. an OIDC logout token's `jti`): false when already seen. */
export async function rememberOnce(s: Services, t: TenantCtx, scope: string, key: string, keepUntil: Date): Promise<boolean> {
  try {
    await s.db.replayGuard.create({
      data: { scope, key: `${t.id}|${key}`, tenantId: t.id, expiresAt: keepUntil, createdAt: s.clock.now() },
    });
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === 'P2002') return false;
    throw err;
  }
}
