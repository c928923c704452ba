import type { AuditInput } from '../../../src/audit/audit-log.js';
import { deliverAuditSinks } from '../../../src/audit/sinks/deliver-sinks.js';
import { listSinks } from '../../../src/audit/sinks/manage-sinks.js';
import type { TenantCtx } from '../../../src/tenants/tenant-context.js';
import type { TestApp } from '../../support/test-app.js';

/** The i-th test event: numbered through its target id, so a receiver can check order and completeness. */
export const sinkEvent = (i: number): AuditInput => ({ actor: { kind: 'system' }, action: 'test.event', target: { kind: 'n', id: String(i) }, outcome: 'success' });

/** What every sink test does against its app: record numbered events, deliver once, read a sink's state. */
export function sinkKit(app: () => TestApp) {
  return {
    record: async (t: TenantCtx, from: number, count: number) => {
      for (let i = from; i < from + count; i++) void app().services.audit.recordInBackground(t, sinkEvent(i));
      await app().services.audit.flush();
    },
    deliver: (timeoutMs = 5000) => deliverAuditSinks(app().services, { timeoutMs, maxFailures: 4 }),
    sinkOf: async (t: TenantCtx, id: string) => (await listSinks(t)).find((x) => x.id === id)!,
  };
}
