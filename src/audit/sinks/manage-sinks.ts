import { randomBytes } from 'node:crypto';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';

/** Webhooks must be HTTPS; plain http only to this machine (a local collector, tests). */
export function checkSinkUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AppError(400, 'bad_request', '--url must be an absolute URL');
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new AppError(400, 'bad_request', '--url must be https (http only to localhost)');
  }
  if (url.username || url.password) throw new AppError(400, 'bad_request', '--url must not carry credentials');
  return url.toString();
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
 * A webhook sink. The HMAC key is generated here (32 random bytes) unless given, kept in the vault, and shown once.
 * `fromStart`: deliver the whole retained log; by default only events appended from now on.
 */
export async function addSink(s: Services, t: TenantCtx, input: { url: string; secret?: string | undefined; fromStart?: boolean }) {
  const url = checkSinkUrl(input.url);
  if (input.secret !== undefined && input.secret.length < 32) throw new AppError(400, 'bad_request', '--secret must be at least 32 characters');
  const secret = input.secret ?? randomBytes(32).toString('base64url');
  const id = newId('snk');
  const secretId = await s.vault.put(t, { kind: 'audit-sink', id }, secret);
  const head = input.fromStart ? null : await t.db.auditEvent.findFirst({ orderBy: { seq: 'desc' }, select: { seq: true } });
  const sink = await t.db.auditSink.create({ data: { id, tenantId: t.id, url, secretId, ackedSeq: head?.seq ?? 0n, nextAttemptAt: s.clock.now() } });
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
  await s.vault.remove(t, sink.secretId).catch(() => undefined);
  return { id, removed: true };
}

/** Takes a sink out of dead-letter (or forces an early attempt): delivery resumes after its last acknowledged event. */
export async function retrySink(s: Services, t: TenantCtx, id: string) {
  await getSink(t, id);
  await t.db.auditSink.updateMany({ where: { id }, data: { status: 'active', failures: 0, nextAttemptAt: s.clock.now() } });
  return view(await getSink(t, id));
}
