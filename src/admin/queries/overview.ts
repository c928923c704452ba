import type { Services } from '../../services.js';
import { listConnectors } from '../../connectors/connector-store.js';
import { listConnections } from '../../sso/connections/manage-connections.js';
import { ensureBuiltinTools } from '../../tools/ensure-builtin-tools.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { tenantCertificates } from './certificates.js';
import { lastReconcileRun } from '../../connectors/reconcile/reconcile-runs.js';

const DAY = 86_400_000;
/** Certificates closer than this to expiry raise an alert (IdP rollovers are usually announced 30 days ahead). */
export const CERT_ALERT_DAYS = 30;
export const SCIM_TOKEN_UNUSED_DAYS = 30;

export interface Alert {
  severity: 'warning' | 'critical';
  text: string;
  /** Console section where it is fixed. */
  section: 'sso' | 'provisioning' | 'tools' | 'settings';
  /** The place on that page (an element id), when the page has one for it. */
  anchor?: string;
}

/** Statuses of the last reconciliation run that leave the directory's view unapplied (decision 0022). */
const UNAPPLIED_RUNS: Record<string, string> = {
  held: 'was held by the mass-deactivation guard: its changes wait for your confirmation',
  failed: 'failed: nothing was changed',
  abandoned: 'did not finish: nothing more was changed',
};

/** The Overview page and `GET …/api/admin/overview`: the tenant's state at a glance, with alerts. */
export async function consoleOverview(s: Services, t: TenantCtx) {
  await ensureBuiltinTools(t);
  const now = s.clock.now();
  const dayAgo = new Date(now.getTime() - DAY);
  const connections = await Promise.all(
    (await listConnections(t)).map(async (c) => {
      const last = await t.db.userIdentity.findFirst({ where: { connectionId: c.id, lastLoginAt: { not: null } }, orderBy: { lastLoginAt: 'desc' }, select: { lastLoginAt: true } });
      const failures24h = await t.db.ssoTrace.count({ where: { connectionId: c.id, createdAt: { gte: dayAgo } } });
      return { id: c.id, name: c.name, kind: c.kind, enabled: c.enabled, lastLoginAt: last?.lastLoginAt ?? null, failures24h };
    }),
  );
  const tokens = await t.db.scimToken.findMany({ where: { revokedAt: null }, select: { id: true, label: true, createdAt: true, lastUsedAt: true } });
  const lastScim = await t.db.auditEvent.findFirst({ where: { action: { startsWith: 'scim.' } }, orderBy: { seq: 'desc' }, select: { createdAt: true, action: true } });
  const scimErrors24h = await t.db.auditEvent.count({ where: { action: { startsWith: 'scim.' }, outcome: { not: 'success' }, createdAt: { gte: dayAgo } } });
  const [usersActive, toolsApproved, toolsTotal, clients, grants, upstreams] = await Promise.all([
    t.db.user.count({ where: { active: true } }),
    t.db.tool.count({ where: { approved: true } }),
    t.db.tool.count(),
    t.db.oidcPayload.count({ where: { model: 'Client' } }),
    t.db.oidcPayload.count({ where: { model: 'Grant' } }),
    t.db.upstream.findMany({ select: { name: true, lastRefreshedAt: true, unavailableSince: true, lastError: true }, orderBy: { name: 'asc' } }),
  ]);
  const heldTools = await t.db.tool.count({ where: { held: true } });
  const lastRun = await lastReconcileRun(t);
  const connectors = await listConnectors(t);
  const certificates = await tenantCertificates(s, t);

  const alerts: Alert[] = [];
  if (connections.length === 0) alerts.push({ severity: 'critical', section: 'sso', text: 'No single sign-on connection: nobody can sign in yet.' });
  for (const c of certificates.filter((x) => x.daysLeft <= CERT_ALERT_DAYS)) {
    const whose = c.owner.kind === 'idp' ? `IdP "${c.owner.name}" signing certificate` : `Our SAML ${c.owner.use} certificate`;
    alerts.push({ severity: c.daysLeft <= 7 ? 'critical' : 'warning', section: 'sso', text: c.daysLeft < 0 ? `${whose} expired on ${c.notAfter.slice(0, 10)}.` : `${whose} expires in ${c.daysLeft} days (${c.notAfter.slice(0, 10)}).` });
  }
  for (const c of connections.filter((x) => x.failures24h >= 5)) {
    alerts.push({ severity: 'warning', section: 'sso', text: `${c.failures24h} failed sign-ins through "${c.name}" in the last 24 hours.` });
  }
  for (const tok of tokens) {
    const since = tok.lastUsedAt ?? tok.createdAt;
    if (now.getTime() - since.getTime() > SCIM_TOKEN_UNUSED_DAYS * DAY) {
      alerts.push({ severity: 'warning', section: 'provisioning', text: `SCIM token ${tok.label ? `"${tok.label}"` : tok.id} has not been used for ${SCIM_TOKEN_UNUSED_DAYS} days: revoke it if provisioning moved.` });
    }
  }
  for (const c of connectors) {
    const sync = c.lastSync as { errors?: unknown[] } | null | undefined;
    if (sync?.errors && Array.isArray(sync.errors) && sync.errors.length > 0) alerts.push({ severity: 'warning', section: 'settings', text: `The last ${c.kind} directory sync reported ${sync.errors.length} errors.` });
  }
  if (heldTools > 0) {
    alerts.push({ severity: 'warning', section: 'tools', anchor: 'held', text: heldTools === 1 ? '1 tool change awaits review: the tool is held (nobody can call it) until you decide.' : `${heldTools} tool changes await review: the tools are held (nobody can call them) until you decide.` });
  }
  for (const u of upstreams.filter((x) => x.unavailableSince)) {
    alerts.push({ severity: 'critical', section: 'tools', text: `Upstream server "${u.name}" is down since ${u.unavailableSince!.toISOString().slice(0, 16).replace('T', ' ')} UTC${u.lastError ? `: ${u.lastError}` : ''}. Its tools fail until it answers; refresh it when fixed.` });
  }
  if (lastRun && Object.hasOwn(UNAPPLIED_RUNS, lastRun.status)) {
    alerts.push({ severity: 'warning', section: 'settings', anchor: 'connectors', text: `The last reconciliation with the ${lastRun.source} directory ${UNAPPLIED_RUNS[lastRun.status]}.` });
  } else if (lastRun?.status === 'applied') {
    // Applied runs only deactivate and remove (by default); what the directory has and we lack stays as drift.
    const sum = lastRun.summary as { drift?: { missingUsers?: number; inactiveHere?: number; missingMemberships?: number }; errors?: number } | null;
    const drift = (sum?.drift?.missingUsers ?? 0) + (sum?.drift?.inactiveHere ?? 0) + (sum?.drift?.missingMemberships ?? 0);
    if ((sum?.errors ?? 0) > 0) alerts.push({ severity: 'warning', section: 'settings', anchor: 'connectors', text: `The last reconciliation with the ${lastRun.source} directory could not apply ${sum!.errors} changes.` });
    if (drift > 0) alerts.push({ severity: 'warning', section: 'settings', anchor: 'connectors', text: `Reconciliation drift: the ${lastRun.source} directory has ${drift} users or memberships that are missing or inactive here (check provisioning).` });
  }
  return {
    connections,
    provisioning: { mode: t.settings.provisioning, activeTokens: tokens.length, lastScimCallAt: lastScim?.createdAt ?? null, lastScimAction: lastScim?.action ?? null, scimErrors24h },
    connectors: connectors.map((c) => ({ id: c.id, kind: c.kind, lastSyncAt: c.lastSyncAt ?? null })),
    tools: { approved: toolsApproved, total: toolsTotal, upstreams: upstreams.length, held: heldTools, upstreamsDown: upstreams.filter((u) => u.unavailableSince).map((u) => u.name) },
    reconciliation: lastRun && { status: lastRun.status, source: lastRun.source, finishedAt: lastRun.finishedAt },
    users: { active: usersActive },
    clients: { registered: clients, activeGrants: grants },
    certificates,
    alerts,
  };
}
