import { audited, optionList, tenantArg, tenantOption as tenant, type Command, type OptionValue } from '../cli/command-table.js';
import { Lines } from '../cli/line-output.js';
import { AppError } from '../lib/errors.js';
import { AuditFilterSchema, exportAuditEvents, exportLines } from './export-events.js';
import { pruneAuditLog } from './prune-audit.js';
import { addSink, listSinks, removeSink, retrySink } from './sinks/manage-sinks.js';
import { verifyAuditChain } from './verify-chain.js';

const str = (v: OptionValue) => (typeof v === 'string' ? v : undefined);

export function exportFormat(v: string | undefined): 'jsonl' | 'csv' {
  if (v === undefined || v === 'jsonl' || v === 'csv') return v ?? 'jsonl';
  throw new AppError(400, 'bad_request', 'format must be jsonl or csv');
}

/** `audit …` admin commands (docs/operations.md#audit-append-only-verify-export-streaming). */
export const auditCommands: Command[] = [
  {
    name: 'audit export',
    summary: "stream a tenant's audit events on stdout, oldest first (JSON Lines or CSV; the one command that prints rows, not one JSON object)",
    options: {
      tenant,
      since: { type: 'string', description: 'ISO date or date-time: events at or after it' },
      until: { type: 'string', description: 'ISO date or date-time: events before it' },
      type: { type: 'string', multiple: true, description: "an action ('scim.user.create') or a prefix ('scim.*'); repeatable" },
      format: { type: 'string', description: 'jsonl (default) or csv' },
    },
    forwardable: true,
    run: async (s, o) => {
      const t = await tenantArg(s, o);
      const format = exportFormat(str(o.format));
      const filter = AuditFilterSchema.parse({ since: str(o.since), until: str(o.until), types: optionList(o.type) });
      return new Lines(exportLines(exportAuditEvents(t, filter), format));
    },
  },
  {
    name: 'audit verify',
    summary: "check a tenant's audit hash chain: a changed, removed or reordered row makes ok false and is listed",
    options: { tenant },
    forwardable: true,
    run: async (s, o) => {
      const t = await tenantArg(s, o);
      return { tenant: t.slug, ...(await verifyAuditChain(t)) };
    },
  },
  {
    name: 'audit prune',
    summary: "retention: delete a tenant's audit events older than --before (only a whole oldest prefix; recorded in the log)",
    options: { tenant, before: { type: 'string', required: true, description: 'ISO date or date-time' } },
    forwardable: true,
    run: async (s, o) => {
      const t = await tenantArg(s, o);
      const { since: before } = AuditFilterSchema.parse({ since: str(o.before) });
      return { tenant: t.slug, ...(await pruneAuditLog(t, before!, s.clock, { kind: 'admin-cli' })) };
    },
  },
  {
    name: 'audit sink add',
    summary: "stream a tenant's audit events to a SIEM: a webhook (HMAC-SHA256-signed POSTs; prints the signing secret once) or syslog over TLS (RFC 5424 + CEF), at least once, in order",
    options: {
      tenant,
      url: { type: 'string', required: true, description: 'https://… webhook (http only to localhost), or syslog+tls://host[:6514] (syslog://host:port only to localhost)' },
      secret: { type: 'string', secret: true, description: 'webhook HMAC key, at least 32 characters (default: generated and printed once)' },
      'from-start': { type: 'boolean', description: 'also deliver the events already in the log (default: from now on)' },
    },
    forwardable: true,
    run: audited('audit.sink.add', 'audit-sink', (s, t, o) => addSink(s, t, { url: str(o.url) ?? '', secret: str(o.secret), fromStart: o['from-start'] === true })),
  },
  {
    name: 'audit sink list',
    summary: "a tenant's audit sinks: status (active or dead-letter), last acknowledged event, failures, last error",
    options: { tenant },
    forwardable: true,
    run: async (s, o) => ({ sinks: await listSinks(await tenantArg(s, o)) }),
  },
  {
    name: 'audit sink remove',
    summary: 'stop streaming to a sink and delete it',
    options: { tenant, id: { type: 'string', required: true, description: 'sink id (snk_…)' } },
    forwardable: true,
    run: audited('audit.sink.remove', 'audit-sink', (s, t, o) => removeSink(s, t, str(o.id) ?? '')),
  },
  {
    name: 'audit sink retry',
    summary: 'take a sink out of dead-letter (or retry now): delivery resumes after its last acknowledged event',
    options: { tenant, id: { type: 'string', required: true, description: 'sink id (snk_…)' } },
    forwardable: true,
    run: audited('audit.sink.retry', 'audit-sink', (s, t, o) => retrySink(s, t, str(o.id) ?? '')),
  },
];
