import type { ScopedDb } from '../../tenants/scoped-db.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import type { Connection } from '../connections/manage-connections.js';
import { SsoError } from '../sso-error.js';
import { resolveSsoUser } from '../users/resolve-sso-user.js';
import type { SsoProfile } from '../users/map-profile.js';

export type DryRunOutcome =
  | { kind: 'existing' | 'linked' | 'created'; user: { id: string; userName: string; email: string | null; displayName: string | null; source: string }; groups: string[] }
  | { kind: 'refused'; code: string; message: string; detail: string };

class Rollback extends Error {}

/**
 * What a real sign-in with `profile` would do to the local users — the very `resolveSsoUser` the login runs, inside a
 * transaction that is always rolled back: the user it finds, links or would create (JIT) and the groups it would end up
 * in, or the refusal with its real reason. Nothing is written ("Test sign-in" creates and changes no user, like
 * WorkOS's and Okta's connection tests; docs/decisions/0030).
 */
export async function dryRunSsoUser(t: TenantCtx, conn: Connection, profile: SsoProfile, now: Date): Promise<DryRunOutcome> {
  const existing = await t.db.userIdentity.findUnique({ where: { connectionId_subject: { connectionId: conn.id, subject: profile.subject } }, select: { userId: true } });
  let outcome: DryRunOutcome | null = null;
  try {
    await t.db.$transaction(async (tx) => {
      const inTx: TenantCtx = { ...t, db: tx as unknown as ScopedDb };
      try {
        const user = await resolveSsoUser(inTx, conn, profile, now);
        const memberships = await inTx.db.groupMembership.findMany({ where: { userId: user.id }, select: { group: { select: { displayName: true } } } });
        outcome = {
          kind: existing ? 'existing' : 'linked', // or 'created': known once rolled back (below)
          user: { id: user.id, userName: user.userName, email: user.email, displayName: user.displayName, source: user.source },
          groups: memberships.map((m) => m.group.displayName).sort(),
        };
      } catch (err) {
        if (!(err instanceof SsoError)) throw err;
        outcome = { kind: 'refused', code: err.code, message: err.message, detail: err.detail ?? '' };
      }
      throw new Rollback();
      // A loaded database must not turn a test into a 500 for the interactive transaction's default 5 s.
    }, { timeout: 30_000 });
  } catch (err) {
    if (!(err instanceof Rollback)) throw err;
  }
  const o = outcome as DryRunOutcome | null;
  if (o && o.kind === 'linked' && !(await t.db.user.findFirst({ where: { id: o.user.id }, select: { id: true } }))) return { ...o, kind: 'created' };
  return o!;
}
