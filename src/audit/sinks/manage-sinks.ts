import { randomBytes } from 'node:crypto';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import type { Db } from '../../db/open-database.js';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';

/**
 * A sink's destination and kind from its URL. Webhooks must be HTTPS; syslog must be TLS (`syslog+tls://host[:6514]`,
 * RFC 5425). Plain http and plain TCP syslog (`syslog://host:port`) only to this machine (a local collector, tests):
 * audit events must not cross a network in clear.
 */
export function checkSinkUrl(raw: string): { url: string; kind: 'webhook' | 'syslog' } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AppError(400, 'bad_request', '--url must be an absolute URL');
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.username || url.password) throw new AppError(400, 'bad_request', '--url must not carry credentials');
  if (url.protocol === 'syslog+tls:' || url.protocol === 'syslog:') {
    if (url.protocol === 'syslog:' && !loopback) throw new AppError(400, 'bad_request', '--url of a syslog sink must be syslog+tls:// (plain syslog:// only to localhost)');
    if (!url.hostname || (url.protocol === 'syslog:' && !url.port)) throw new AppError(400, 'bad_request', '--url of a syslog sink needs a host (and, for syslog://, a port)');
    if ((url.pathname && url.pathname !== '/') || url.search || url.hash) throw new AppError(400, 'bad_request', '--url of a syslog sink is only a host and a port');
    return { url: `${url.protocol}//${url.host}`, kind: 'syslog' };
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new AppError(400, 'bad_request', '--url must be https (http only to localhost) or syslog+tls://');
  }
  return { url: url.toString(), kind: 'webhook' };
}

const view = (sink: { id: string; kind: string; url: string; ackedSeq: bigint; status: string; failures: number; nextAttemptAt: Date; lastError: string | null; lastSuccessAt: Date | null; createdAt: Date }) => ({
  id: sink.id,
  kind: sink.kind,
  url: sink.url,
  status: sink.status,
  ackedSeq: Number(sink.ackedSeq),
  failures: sink.failures,
  nextAttemptAt: sink.nextAttemptAt.toISOString(),
  lastError: sink.lastError,
  lastSuccessAt: sink.lastSuccessAt?.toISOString() ?? null,
  createdAt: sink.createdAt.toISOString(),
});

/**
 * A sink, webhook or syslog by its URL. A webhook's HMAC key is generated here (32 random bytes) unless given, kept in
 * the vault, and shown once; a syslog sink has none (its URL must be TLS).
 * `fromStart`: deliver the whole retained log; by default only events appended from now on.
 */
export async function addSink(s: Services, t: TenantCtx, input: { url: string; secret?: string | undefined; fromStart?: boolean }): Promise<ReturnType<typeof view> & { secret?: string }> {
  const { url, kind } = checkSinkUrl(input.url);
  const id = newId('snk');
  const head = input.fromStart ? null : await t.db.auditEvent.findFirst({ orderBy: { seq: 'desc' }, select: { seq: true } });
  const row = { id, tenantId: t.id, kind, url, ackedSeq: head?.seq ?? 0n, nextAttemptAt: s.clock.now() };
  if (kind === 'syslog') {
    // TLS protects a syslog stream; there is no signature to key (secretId '' = no secret).
    if (input.secret !== undefined) throw new AppError(400, 'bad_request', '--secret applies to webhook sinks only');
    return view(await t.db.auditSink.create({ data: { ...row, secretId: '' } }));
  }
  if (input.secret !== undefined && input.secret.length < 32) throw new AppError(400, 'bad_request', '--secret must be at least 32 characters');
  const secret = input.secret ?? randomBytes(32).toString('base64url');
  const secretId = await s.vault.put(t, { kind: 'audit-sink', id }, secret);
  const sink = await t.db.auditSink.create({ data: { ...row, secretId } });
  return { ...view(sink), ...(input.secret === undefined && { secret }) };
}

export async function listSinks(t: TenantCtx) {
  return (await t.db.auditSink.findMany({ orderBy: { createdAt: 'asc' } })).map(view);
}

async function getSink(t: TenantCtx, id: string) {
  const sink = await t.db.auditSink.findFirst({ where: { id } });
  if (!sink) throw notFound(`No audit sink ${id} in tenant ${t.slug}`);
  return sink;
}

export async function removeSink(s: Services, t: TenantCtx, id: string) {
  const sink = await getSink(t, id);
  await t.db.auditSink.deleteMany({ where: { id } });
  if (sink.secretId) await s.vault.remove(t, sink.secretId).catch(() => undefined);
  return { id, removed: true };
}

/** Takes a sink out of dead-letter (or forces an early attempt): delivery resumes after its last acknowledged event. */
export async function retrySink(s: Services, t: TenantCtx, id: string) {
  await getSink(t, id);
  await t.db.auditSink.updateMany({ where: { id }, data: { status: 'active', failures: 0, nextAttemptAt: s.clock.now() } });
  return view(await getSink(t, id));
}

/** Across tenants, for /metrics: sinks by status and the largest number of events a sink is behind its chain's head. */
export async function auditSinkStats(db: Db): Promise<{ active: number; deadLetter: number; maxLagEvents: number }> {
  const [r] = await db.$queryRaw<{ active: bigint; dead: bigint; lag: bigint | null }[]>`
    SELECT count(*) FILTER (WHERE s."status" = 'active') AS "active", count(*) FILTER (WHERE s."status" = 'dead-letter') AS "dead",
           max(greatest(coalesce(c."lastSeq", 0) - s."ackedSeq", 0)) AS "lag"
      FROM "AuditSink" s LEFT JOIN "AuditChain" c ON c."chain" = s."tenantId"`;
  return { active: Number(r?.active ?? 0n), deadLetter: Number(r?.dead ?? 0n), maxLagEvents: Number(r?.lag ?? 0n) };
}
