import type { z } from 'zod';
import { AppError } from '../../lib/errors.js';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';

/**
 * Who performs an admin action: the server's CLI (`admin-cli`), or a tenant admin signed in to the console (`user`,
 * with the request facts the audit row keeps). The same action code runs for both; only the actor differs.
 */
export type AdminActor =
  | { kind: 'admin-cli' }
  | { kind: 'user'; id: string; request?: { ip?: string | undefined; userAgent?: string | undefined; requestId?: string | undefined } };

export const cliActor: AdminActor = { kind: 'admin-cli' };

/**
 * One state-changing admin operation, shared by the CLI, the console's forms and its JSON API (issue 15: "one set of
 * framework-free functions underneath"). `input` is the one validation every caller goes through; `sensitive`
 * actions need a fresh SSO sign-in in the console (src/admin/http/admin-session.ts); the CLI runs on the server, whose
 * operator is trusted already. Sensitivity follows the effect, not the action's name: an action that edits many
 * things says which of its inputs are sensitive (who administers, who signs in, how identities link).
 */
export interface AdminAction<I, R extends { id: string }> {
  /** The audit action, e.g. `scim-token.create`. */
  name: string;
  targetKind: string;
  sensitive: boolean | ((input: I, t: TenantCtx) => boolean | Promise<boolean>);
  input: z.ZodType<I>;
  run(s: Services, t: TenantCtx, input: I, actor: AdminActor): Promise<R>;
  /** Small, secret-free facts for the audit row (never the token or secret just created). */
  detail?(input: I, result: R): Record<string, unknown>;
}

export const defineAction = <I, R extends { id: string }>(a: AdminAction<I, R>): AdminAction<I, R> => a;

/** Whether this request of the action needs a fresh sign-in (input the action refuses is left to the action). */
export async function isSensitive<I, R extends { id: string }>(action: AdminAction<I, R>, t: TenantCtx, raw: unknown): Promise<boolean> {
  if (typeof action.sensitive === 'boolean') return action.sensitive;
  const parsed = action.input.safeParse(raw);
  return parsed.success && (await action.sensitive(parsed.data, t));
}

/**
 * Validates `raw`, runs the action and records it in the tenant's audit log before returning: "audited before
 * answered", so a response never precedes its audit row. A console admin's refused or failed attempt is recorded too
 * (outcome `failure`, the public reason only), then the error is rethrown for the caller's error handler.
 */
export async function runAdminAction<I, R extends { id: string }>(s: Services, t: TenantCtx, actor: AdminActor, action: AdminAction<I, R>, raw: unknown): Promise<R> {
  const who = actor.kind === 'user' ? { kind: 'user' as const, id: actor.id } : { kind: 'admin-cli' as const };
  const request = actor.kind === 'user' ? actor.request : undefined;
  let result: R;
  try {
    const input = action.input.parse(raw);
    result = await action.run(s, t, input, actor);
    await s.audit.record(t, {
      actor: who,
      action: action.name,
      target: { kind: action.targetKind, id: result.id },
      outcome: 'success',
      ...(request && { request }),
      ...(action.detail && { detail: action.detail(input, result) }),
    });
  } catch (err) {
    // The CLI's operator sees a failure on stderr and has changed nothing; a console admin's failed attempt is a fact
    // the tenant's security team may need (probing, mistakes), so it is kept.
    if (actor.kind !== 'user') throw err;
    const reason = err instanceof AppError && err.expose ? err.message : (err as { name?: string })?.name === 'ZodError' ? 'invalid input' : 'internal error';
    await s.audit.record(t, { actor: who, action: action.name, target: { kind: action.targetKind }, outcome: 'failure', ...(request && { request }), detail: { reason } });
    throw err;
  }
  return result;
}
