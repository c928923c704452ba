import type { IncomingMessage } from 'node:http';
import type { Request, Response } from 'express';
import { tenantOf } from '../http/resolve-tenant.js';
import type { AuditInput } from '../audit/audit-log.js';
import type { Services } from '../services.js';
import type { ScopedDb } from '../tenants/scoped-db.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { principalOf, type ScimPrincipal } from './scim-auth.js';
import { scimBaseUrl } from './scim-tokens.js';

/** Everything a SCIM operation needs, handed from the thin route adapters to framework-free functions. */
export interface ScimCtx {
  s: Services;
  t: TenantCtx;
  principal: ScimPrincipal;
  baseUrl: string;
  request: { ip?: string | undefined; userAgent?: string | undefined; requestId?: string | undefined };
  /**
   * Writers other than an IdP's SCIM client (directory reconciliation) using the same store functions: extra audit
   * detail on every event the write records (e.g. the IdP's evidence), and the revocation reason a deactivation logs.
   */
  origin?: { detail: Record<string, unknown>; revocationReason: string };
}

export function scimCtx(s: Services, req: Request, res: Response): ScimCtx {
  return scimCtxOf(s, tenantOf(res), principalOf(res), req, req.ip);
}

/** The same context without Express (scim-endpoint.ts): `ip` as clientIp computes Express's `req.ip`. */
export function scimCtxOf(s: Services, t: TenantCtx, principal: ScimPrincipal, req: IncomingMessage, ip: string | undefined): ScimCtx {
  return {
    s,
    t,
    principal,
    baseUrl: scimBaseUrl(s.config.publicUrl, t),
    request: { ip, userAgent: req.headers['user-agent'], requestId: String(req.id ?? '') },
  };
}

type AuditFacts = { action: string; target: { kind: 'user' | 'group'; id: string }; detail: Record<string, unknown> };

/** The audit event of a SCIM write: the caller (token or client), the request, and the origin's extra detail. */
export function auditInput(c: ScimCtx, f: AuditFacts): AuditInput {
  return { actor: { kind: c.principal.kind, id: c.principal.id }, outcome: 'success', request: c.request, ...f, detail: { ...f.detail, ...c.origin?.detail } };
}

/**
 * Runs `write` and records its audit event (`facts(result)`, or none when it returns null) in ONE transaction: a
 * process killed between the two can leave neither a change without its event nor an event without its change.
 */
export async function writeAudited<T>(c: ScimCtx, write: (db: ScopedDb) => Promise<T>, facts: (result: T) => AuditFacts | null): Promise<T> {
  return c.t.db.$transaction(async (tx) => {
    const db = tx as unknown as ScopedDb;
    const result = await write(db);
    const f = facts(result);
    if (f) {
      await c.s.audit.recordIn(db, c.t, auditInput(c, f));
    }
    return result;
  });
}

/** One audit event per SCIM write: who (token), what (action), which resource, and the NAMES of what changed. */
export async function auditWrite(
  c: ScimCtx,
  action: string,
  target: { kind: 'user' | 'group'; id: string },
  detail: Record<string, unknown>,
): Promise<void> {
  await c.s.audit.record(c.t, {
    actor: { kind: c.principal.kind, id: c.principal.id },
    action,
    target,
    outcome: 'success',
    request: c.request,
    detail: { ...detail, ...c.origin?.detail },
  });
}
