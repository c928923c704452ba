import { newId } from '../../lib/ids.js';
import { notFound } from '../../lib/errors.js';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import type { SsoError } from '../sso-error.js';
import { redactSummary, safeText } from './redact-trace.js';

export { maskEmail } from './redact-trace.js';

/**
 * Stores a failed login (issue 4 §8): when, which connection, the stage, the private reason, and a redacted summary
 * of what the IdP sent. The user sees only the trace id and quotes it to an admin (`sso-trace show ID`).
 */
export async function recordSsoTrace(s: Services, t: TenantCtx, err: SsoError): Promise<string> {
  const id = newId('trc');
  await t.db.ssoTrace.create({
    data: {
      id,
      tenantId: t.id,
      connectionId: err.connectionId,
      stage: err.stage,
      // Masked and escaped here, whatever the caller put in: a trace never holds an e-mail or subject in clear.
      reason: safeText(`${err.code}: ${err.detail ?? err.message}`, 2000),
      summary: redactSummary(JSON.parse(JSON.stringify(err.summary))) as object,
      createdAt: s.clock.now(),
    },
  });
  return id;
}

/** `sso-trace show ID` (or `--id ID`): trace ids are globally unique, so no tenant is needed to find one. */
export async function showSsoTrace(s: Services, id: string) {
  const row = await s.db.ssoTrace.findUnique({ where: { id } });
  if (!row) throw notFound(`No SSO trace ${id}`);
  const tenant = await s.db.tenant.findUnique({ where: { id: row.tenantId }, select: { slug: true } });
  return { id: row.id, tenant: tenant?.slug ?? null, connectionId: row.connectionId, stage: row.stage, reason: row.reason, summary: row.summary, createdAt: row.createdAt };
}
