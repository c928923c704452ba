import type { AuditInput } from '../audit/audit-log.js';
import type { Services } from '../services.js';
import { setTenantStatus } from './manage-tenants.js';

/** A tenant's status change, shared by `tenant disable|enable` and the operator view; audited in the global chain. */
export async function changeTenantStatus(s: Services, slug: string, verb: 'disable' | 'enable', actor: AuditInput['actor'], detail?: Record<string, unknown>) {
  const t = await setTenantStatus(s.db, slug, verb === 'disable' ? 'disabled' : 'active');
  await s.bus.publish({ type: 'tenant.changed', tenantId: t.id });
  await s.audit.record(null, { actor, action: `tenant.${verb}`, target: { kind: 'tenant', id: t.id }, outcome: 'success', ...(detail && { detail }) });
  return t;
}
