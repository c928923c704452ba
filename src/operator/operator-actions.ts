import type { AuditInput } from '../audit/audit-log.js';
import { tenantArg } from '../cli/command-table.js';
import { conflict } from '../lib/errors.js';
import { approveSignup, decideSignup } from '../onboarding/onboarding-commands.js';
import { createSetupLink } from '../onboarding/setup-links.js';
import type { Services } from '../services.js';
import { changeTenantStatus } from '../tenants/change-tenant-status.js';

type Actor = AuditInput['actor'];

export interface OperatorActor {
  id: string;
  name: string;
}

/**
 * The operator view's state changes, by form name. Each runs the same function as its CLI command and records the
 * same audit event in the same chain, with the operator as actor (kind `operator`, the token's id and name).
 */
export const operatorActions: Record<string, (s: Services, slug: string, op: OperatorActor) => Promise<{ id: string } & Record<string, unknown>>> = {
  'tenant-disable': (s, slug, op) => changeTenantStatus(s, slug, 'disable', actorOf(op), { operator: op.name }),
  'tenant-enable': async (s, slug, op) => {
    const row = await s.db.tenant.findUnique({ where: { slug }, select: { settings: true } });
    // In the view, a pending sign-up is decided by approval (which records the verdict), not by enabling it.
    if ((row?.settings as { signup?: { status?: string } } | null)?.signup?.status === 'pending') throw conflict(`Tenant "${slug}" awaits sign-up approval: approve or decline it`);
    return changeTenantStatus(s, slug, 'enable', actorOf(op), { operator: op.name });
  },
  'setup-link': async (s, slug, op) => {
    const t = await tenantArg(s, { tenant: slug });
    const link = await createSetupLink(s, t, 'operator');
    await s.audit.record(t, { actor: actorOf(op), action: 'setup-link.create', target: { kind: 'setup-link', id: link.id }, outcome: 'success', detail: { operator: op.name } });
    return link;
  },
  'signup-approve': async (s, slug, op) => {
    const t = await tenantArg(s, { tenant: slug });
    const result = await approveSignup(s, t);
    await s.audit.record(t, { actor: actorOf(op), action: 'signup.approve', target: { kind: 'tenant', id: result.id }, outcome: 'success', detail: { operator: op.name } });
    return result;
  },
  'signup-reject': async (s, slug, op) => {
    const t = await tenantArg(s, { tenant: slug });
    const result = await decideSignup(s, t, 'rejected');
    await s.audit.record(t, { actor: actorOf(op), action: 'signup.reject', target: { kind: 'tenant', id: result.id }, outcome: 'success', detail: { operator: op.name } });
    return result;
  },
};

export const actorOf = (op: OperatorActor): Actor => ({ kind: 'operator', id: op.id });
