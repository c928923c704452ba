import { createHmac } from 'node:crypto';
import type { AuditSink } from '../../generated/prisma/client.js';
import type { Services } from '../../services.js';
import { tenantContext, type TenantCtx } from '../../tenants/tenant-context.js';
import { auditEventsAfter, toExported } from '../export-events.js';
import { sendSyslog, syslogFrame } from './syslog-sink.js';
import { EGRESS_REFUSED_MESSAGE, isEgressRefusal, type Egress } from '../../http/egress.js';

/** Events per POST. */
export const SINK_BATCH = 100;
/** A receiver slower than this counts as failed (the batch is sent again later). */
export const SINK_TIMEOUT_MS = 10_000;
/** Consecutive failures after which a sink is dead-lettered (about 4 hours of doubling delays). */
export const SINK_MAX_FAILURES = 10;
/** How long a claim outlives the receiver's timeout: a node that died while sending is replaced after this. */
export const SINK_CLAIM_MARGIN_MS = 5_000;
/** Batches per sink per run, so that one busy sink does not hold the job forever. */
const MAX_ROUNDS = 20;

/** Delay before the n-th retry (n ≥ 1): 1 s, 2 s, 4 s… capped at 1 hour. */
export const sinkBackoffMs = (failures: number) => Math.min(1000 * 2 ** (failures - 1), 3_600_000);

/** `sha256=` + hex HMAC-SHA256 over `timestamp.body`: the receiver recomputes it and rejects stale timestamps (replay). */
export const signSinkBody = (secret: string, timestamp: number, body: string) =>
  `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;

export interface DeliveryOptions {
  timeoutMs?: number;
  maxFailures?: number;
}

const running = new WeakSet<Services>();

/**
 * Runs every due sink (the `audit-sinks` job; its lease makes one node run it at a time): sends the events after the
 * sink's cursor, oldest first, in batches — a signed POST to a webhook, CEF records over syslog (syslog-sink.ts) —;
 * an acknowledgement (a 2xx; the syslog receiver's clean close) moves the cursor (`ackedSeq`) past the batch, anything else
 * (status, network error, timeout) leaves it and schedules a retry with a doubling delay, and after too many the sink
 * is dead-lettered until `audit sink retry`. At least once and in order: a batch is only ever followed by the next
 * once acknowledged, and a node that crashes after the POST and before the cursor moved sends that batch again.
 */
export async function deliverAuditSinks(s: Services, opts: DeliveryOptions = {}): Promise<{ sinks: number; delivered: number; failed: number }> {
  const totals = { sinks: 0, delivered: 0, failed: 0 };
  if (running.has(s)) return totals; // the previous tick of this node is still delivering
  running.add(s);
  try {
    const due = await s.db.auditSink.findMany({
      where: { status: 'active', nextAttemptAt: { lte: s.clock.now() } },
      include: { tenant: true },
      orderBy: { nextAttemptAt: 'asc' },
      take: 100,
    });
    for (const { tenant, ...sink } of due) {
      if (tenant.status !== 'active') continue;
      totals.sinks++;
      const t = tenantContext(s.db, tenant);
      // Anything unexpected (a secret the vault cannot open, a failed query) is this sink's failure, with its back-off
      // and dead letter: never a stop of the loop, which would leave every other tenant's sink behind it undelivered.
      const r = await deliverSink(s, t, sink, opts).catch(async (err: unknown) => {
        const error = `internal error: ${err instanceof Error ? err.name : 'unknown'}`;
        s.logger.error({ err, tenantId: t.id, sinkId: sink.id }, 'audit sink delivery failed unexpectedly');
        await recordFailure(s, t, sink, { id: sink.id, status: 'active' }, error, opts);
        return { delivered: 0, failed: true };
      });
      totals.delivered += r.delivered;
      if (r.failed) totals.failed++;
    }
    return totals;
  } finally {
    running.delete(s);
  }
}

async function deliverSink(s: Services, t: TenantCtx, sink: AuditSink, opts: DeliveryOptions): Promise<{ delivered: number; failed: boolean }> {
  const secret = sink.kind === 'webhook' ? await s.vault.getString(t, sink.secretId) : '';
  const timeoutMs = opts.timeoutMs ?? SINK_TIMEOUT_MS;
  let acked = sink.ackedSeq;
  let delivered = 0;
  // The sink's claim: `nextAttemptAt` as last written by us. Compare-and-set on it (with the cursor) makes this node the
  // only sender until the claim expires, even when a slow receiver outlasts the job's lease and another node's job
  // runs meanwhile — two senders could otherwise deliver batches out of order.
  let claim = sink.nextAttemptAt;
  const owned = () => ({ id: sink.id, ackedSeq: acked, status: 'active', nextAttemptAt: claim });
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const until = new Date(s.clock.now().getTime() + timeoutMs + SINK_CLAIM_MARGIN_MS);
    if ((await t.db.auditSink.updateMany({ where: owned(), data: { nextAttemptAt: until } })).count === 0) break;
    claim = until;
    const events = await auditEventsAfter(t, { types: [] }, acked, SINK_BATCH);
    if (events.length === 0) {
      await t.db.auditSink.updateMany({ where: owned(), data: { nextAttemptAt: s.clock.now() } });
      break;
    }
    const last = events.at(-1)!.seq;
    let error: string | undefined;
    if (sink.kind === 'syslog') {
      error = await sendSyslog(s.egress, sink.url, events.map((e) => syslogFrame(t.slug, toExported(e))), timeoutMs);
    } else {
      const body = JSON.stringify({ tenant: t.slug, sink: sink.id, events: events.map(toExported) });
      const timestamp = Math.floor(s.clock.now().getTime() / 1000);
      error = await post(s.egress, sink.url, body, {
        'x-sso-bridge-timestamp': String(timestamp),
        'x-sso-bridge-signature': signSinkBody(secret, timestamp, body),
        'x-sso-bridge-delivery': `${sink.id}:${events[0]!.seq}-${last}`,
      }, timeoutMs);
    }
    if (error) {
      await recordFailure(s, t, sink, owned(), error, opts);
      return { delivered, failed: true };
    }
    // Conditional on our claim and the cursor we read: if either moved meanwhile, stop rather than go back.
    const released = s.clock.now();
    const { count } = await t.db.auditSink.updateMany({
      where: owned(),
      data: { ackedSeq: last, failures: 0, lastError: null, lastSuccessAt: released, nextAttemptAt: released },
    });
    delivered += events.length;
    sink.failures = 0;
    if (count === 0) break;
    acked = last;
    claim = released;
  }
  return { delivered, failed: false };
}

/** A failed delivery: counted, retried after a doubling delay, dead-lettered after too many; `error` names no secret. */
async function recordFailure(s: Services, t: TenantCtx, sink: AuditSink, where: { id: string; status: string }, error: string, opts: DeliveryOptions) {
  const failures = sink.failures + 1;
  const dead = failures >= (opts.maxFailures ?? SINK_MAX_FAILURES);
  await t.db.auditSink.updateMany({
    where,
    data: { failures, status: dead ? 'dead-letter' : 'active', lastError: error, nextAttemptAt: new Date(s.clock.now().getTime() + sinkBackoffMs(failures)) },
  });
  s.logger.warn({ tenantId: t.id, sinkId: sink.id, failures, deadLetter: dead, error }, 'audit sink delivery failed');
}

/**
 * One POST; the failure as a short message (never the body), or undefined on a 2xx. Redirects are not followed, and
 * the connection goes where the egress policy admits only (a sink's URL is a tenant admin's choice: src/http/egress.ts).
 */
async function post(egress: Egress, url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<string | undefined> {
  try {
    const res = await egress.fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body?.cancel();
    return res.status >= 200 && res.status < 300 ? undefined : `HTTP ${res.status}`;
  } catch (err) {
    const e = err as Error;
    if (isEgressRefusal(e)) return EGRESS_REFUSED_MESSAGE;
    return e.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : `${e.name}: ${(e.cause as Error | undefined)?.message ?? e.message}`.slice(0, 300);
  }
}
