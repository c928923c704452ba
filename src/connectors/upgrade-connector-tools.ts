import type { Services } from '../services.js';
import { tenantContext } from '../tenants/tenant-context.js';
import { syncConnectorTools } from './connector-store.js';
import { toolProviders } from './tool-providers.js';

/**
 * At start: every tenant's connector tools match this version's code. Tool rows are created when a connector is
 * added, so without this a tool added in a later version would never be approvable, a removed one would stay listed,
 * and a changed description or annotation would keep its old text in approvals and consent. New tools join
 * unapproved (as at `connector add-*`); approvals and grants of the others are kept. One query when no tenant has a
 * connector.
 */
export async function upgradeConnectorTools(s: Services): Promise<{ tenants: number; changed: number }> {
  const rows = await s.db.connector.findMany({ select: { tenantId: true, kind: true } });
  const byTenant = new Map<string, Set<string>>();
  for (const r of rows) byTenant.set(r.tenantId, (byTenant.get(r.tenantId) ?? new Set()).add(r.kind));
  let changed = 0;
  for (const [tenantId, kinds] of byTenant) {
    const row = await s.db.tenant.findUnique({ where: { id: tenantId } });
    if (!row) continue;
    const t = tenantContext(s.db, row);
    let any = false;
    try {
      for (const provider of toolProviders.filter((p) => kinds.has(p.kind))) any = (await syncConnectorTools(t, provider)).changed || any;
    } catch (err) {
      // E.g. another node starting at the same moment created the same row first: its update stands.
      s.logger.warn({ tenantId, err: String(err).slice(0, 300) }, 'connector tools not updated at start');
    }
    if (any) {
      changed++;
      await s.bus.publish({ type: 'tools.changed', tenantId });
    }
  }
  return { tenants: byTenant.size, changed };
}
