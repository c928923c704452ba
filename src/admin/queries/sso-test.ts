import type { Services } from '../../services.js';
import type { Mapping } from '../../sso/connections/connection-config.js';
import { findConnectionEvenDisabled } from '../../sso/connections/manage-connections.js';
import { profileOf } from '../../sso/login/received.js';
import { lastTestResult, type TestSignInResult } from '../../sso/login/test-sign-in.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';

const TRACE_WINDOW_MS = 60 * 60_000;
export const mappedFields = ['email', 'givenName', 'familyName', 'displayName', 'groups'] as const;
export type MappedField = (typeof mappedFields)[number];

/**
 * What each mapped field would become for the last test sign-in's claims under `mapping` — the mapping function real
 * logins use (`profileOf`), so the preview cannot drift from what a sign-in does.
 */
export function previewMapping(result: TestSignInResult, mapping: Mapping): Record<MappedField, string | string[] | null> {
  const p = profileOf(result.received, mapping);
  return { email: p.email ?? null, givenName: p.givenName ?? null, familyName: p.familyName ?? null, displayName: p.displayName ?? null, groups: p.groups ?? null };
}

/** Everything the connection's test page shows; null when the connection is not this tenant's. */
export async function connectionTest(s: Services, t: TenantCtx, adminSessionId: string, connectionId: string, traceId?: string) {
  const conn = await findConnectionEvenDisabled(t, connectionId);
  if (!conn) return null;
  const row = await t.db.idpConnection.findFirst({ where: { id: conn.id }, select: { enabled: true } });
  const last = await lastTestResult(s, t, adminSessionId);
  const result = last && last.connectionId === conn.id ? last : null;
  const since = new Date(s.clock.now().getTime() - TRACE_WINDOW_MS);
  const traceSelect = { id: true, stage: true, reason: true, createdAt: true, summary: true } as const;
  // Tenant-scoped and of this connection: a trace id from the URL shows nothing of another tenant or connection.
  const trace = traceId ? await t.db.ssoTrace.findFirst({ where: { id: traceId, connectionId: conn.id }, select: traceSelect }) : null;
  const traces = await t.db.ssoTrace.findMany({ where: { connectionId: conn.id, createdAt: { gte: since } }, orderBy: { createdAt: 'desc' }, take: 10, select: traceSelect });
  return { connection: { id: conn.id, name: conn.name, kind: conn.kind, issuer: conn.issuer, enabled: row?.enabled ?? false, mapping: conn.config.mapping }, result, trace, traces };
}
export type ConnectionTest = NonNullable<Awaited<ReturnType<typeof connectionTest>>>;
