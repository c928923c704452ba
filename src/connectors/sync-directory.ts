import type { Prisma } from '../generated/prisma/client.js';
import { createGroup, deleteGroup, replaceGroup, scimGroups } from '../scim/group-store.js';
import type { ScimCtx } from '../scim/scim-context.js';
import { scimBaseUrl } from '../scim/scim-tokens.js';
import { createUser, deleteUser, replaceUser } from '../scim/user-store.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import type { DirectorySource, DirectoryUser } from './directory-source.js';
import { readDirectory } from './reconcile/read-directory.js';

export interface SyncChange {
  op: 'create' | 'update' | 'deactivate' | 'reactivate' | 'delete';
  kind: 'user' | 'group';
  /** E-mail of a user, display name of a group. */
  name: string;
  membersAdded?: number;
  membersRemoved?: number;
  error?: string;
}

export interface SyncReport {
  dryRun: boolean;
  source: string;
  users: number;
  groups: number;
  changes: SyncChange[];
  errors: number;
  /** The directory said nothing changed since the last run (every listing 304): nothing was compared or written. */
  unchanged?: true;
}

const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const domainOf = (email: string) => email.slice(email.lastIndexOf('@') + 1).toLowerCase();

/** The SCIM User document an IdP would push for this directory user (so the SCIM store applies it unchanged). */
export function userDoc(u: DirectoryUser) {
  return {
    schemas: [USER_SCHEMA],
    userName: u.email,
    externalId: u.externalId,
    active: u.active,
    ...(u.displayName && { displayName: u.displayName }),
    ...((u.givenName || u.familyName) && { name: { ...(u.givenName && { givenName: u.givenName }), ...(u.familyName && { familyName: u.familyName }) } }),
    emails: [{ value: u.email, primary: true, type: 'work' }],
    ...(u.title && { title: u.title }),
  };
}

/** Whether the stored user already says what the directory says (the fields directory sync maintains). */
function unchanged(local: { userNameKey: string; externalId: string | null; active: boolean; attributes: unknown }, u: DirectoryUser): boolean {
  const a = (local.attributes ?? {}) as { displayName?: string; title?: string; name?: { givenName?: string; familyName?: string } };
  return (
    local.userNameKey === u.email &&
    local.externalId === u.externalId &&
    local.active === u.active &&
    (a.displayName ?? null) === u.displayName &&
    (a.title ?? null) === u.title &&
    (a.name?.givenName ?? null) === u.givenName &&
    (a.name?.familyName ?? null) === u.familyName
  );
}

/**
 * Reconciles the tenant's users and groups with a directory, exactly as SCIM would change them: it calls the SCIM
 * store functions (src/scim), so a suspension deactivates through the same code that revokes sessions, grants and
 * tokens at once, and every write is audited like a SCIM write. The directory is read completely first: if any page
 * fails nothing changes, and an empty listing never deletes anyone. Only users of the connector's domains that the
 * directory created (an externalId) are deleted when they disappear. With `dryRun` the changes are only reported.
 */
export async function syncDirectory(s: Services, t: TenantCtx, source: DirectorySource, opts: { dryRun: boolean; domains: string[] }): Promise<SyncReport> {
  const { users: dirUsers, groups: dirGroups, members } = await readDirectory(source);
  // Every listing equals the last run's, which applied it without errors: local drift is left to the periodic full read.
  if (source.unchanged?.()) return { dryRun: opts.dryRun, source: source.kind, users: dirUsers.length, groups: dirGroups.length, changes: [], errors: 0, unchanged: true };

  const locals = await t.db.user.findMany({ select: { id: true, userNameKey: true, externalId: true, active: true, email: true, attributes: true } });
  const managed = locals.filter((u) => u.externalId && opts.domains.includes(domainOf(u.userNameKey)));
  if (dirUsers.length === 0 && managed.length > 0) throw new Error(`The ${source.kind} directory listed no users: refusing to delete ${managed.length} (check the connector)`);

  const c: ScimCtx = { s, t, principal: { kind: 'system', id: `directory-sync:${source.kind}` }, baseUrl: scimBaseUrl(s.config.publicUrl, t), request: {} };
  const changes: SyncChange[] = [];
  const attempt = async (change: SyncChange, run: () => Promise<unknown>) => {
    changes.push(change);
    if (opts.dryRun) return;
    try {
      await run();
    } catch (err) {
      change.error = String((err as Error).message ?? err).slice(0, 200);
    }
  };

  // 1. Users: create, update (deactivation revokes at once), reactivate.
  const byExt = new Map(locals.filter((u) => u.externalId).map((u) => [u.externalId!, u]));
  const byKey = new Map(locals.map((u) => [u.userNameKey, u]));
  const inDirectory = new Set<string>();
  for (const du of dirUsers) {
    if (!opts.domains.includes(domainOf(du.email))) continue;
    inDirectory.add(du.externalId);
    const local = byExt.get(du.externalId) ?? byKey.get(du.email);
    const doc = userDoc(du);
    if (!local) {
      await attempt({ op: 'create', kind: 'user', name: du.email }, () => createUser(c, doc));
      continue;
    }
    if (unchanged(local, du)) continue;
    const op = local.active && !du.active ? 'deactivate' : !local.active && du.active ? 'reactivate' : 'update';
    await attempt({ op, kind: 'user', name: du.email }, () => replaceUser(c, local.id, doc));
  }

  // 2. Groups and their direct user members (by the users' directory ids).
  const fresh = await t.db.user.findMany({ where: { externalId: { in: [...inDirectory] } }, select: { id: true, externalId: true } });
  const localIdOf = new Map(fresh.map((u) => [u.externalId!, u.id]));
  // The groups SCIM manages (sync writes through it): groups made from SSO assertions stay the IdP's, apart.
  const groupsNow = await t.db.group.findMany({ where: scimGroups, select: { id: true, displayName: true, displayNameKey: true, externalId: true } });
  const sameName = new Map<string, number>();
  for (const dg of dirGroups) sameName.set(dg.displayName.toLowerCase(), (sameName.get(dg.displayName.toLowerCase()) ?? 0) + 1);
  const seenGroups = new Set<string>();
  for (const dg of dirGroups) {
    seenGroups.add(dg.externalId);
    const wantedExt = (members.get(dg.externalId) ?? []).filter((x) => inDirectory.has(x));
    const wanted = wantedExt.map((x) => localIdOf.get(x)).filter((x): x is string => !!x);
    const local = localGroupOf(dg, groupsNow, sameName);
    const body = (ids: string[]) => ({ schemas: [GROUP_SCHEMA], displayName: dg.displayName, externalId: dg.externalId, members: ids.map((value) => ({ value })) });
    if (!local) {
      await attempt({ op: 'create', kind: 'group', name: dg.displayName, membersAdded: wantedExt.length }, () => createGroup(c, body(wanted)));
      continue;
    }
    const current = new Set((await t.db.groupMembership.findMany({ where: { groupId: local.id }, select: { userId: true } })).map((m) => m.userId));
    const currentExt = new Set(fresh.filter((u) => current.has(u.id)).map((u) => u.externalId!));
    const added = wantedExt.filter((x) => !currentExt.has(x)).length;
    const removed = current.size - wanted.filter((id) => current.has(id)).length;
    if (added === 0 && removed === 0 && local.displayName === dg.displayName && local.externalId === dg.externalId) continue;
    await attempt({ op: 'update', kind: 'group', name: dg.displayName, membersAdded: added, membersRemoved: removed }, () => replaceGroup(c, local.id, body(wanted)));
  }
  for (const g of groupsNow.filter((x) => x.externalId && !seenGroups.has(x.externalId))) {
    await attempt({ op: 'delete', kind: 'group', name: g.displayName }, () => deleteGroup(c, g.id));
  }

  // 3. Users the directory no longer has (deleted in Google): deleted here, access revoked first.
  for (const u of managed.filter((x) => !inDirectory.has(x.externalId!))) {
    await attempt({ op: 'delete', kind: 'user', name: u.userNameKey }, () => deleteUser(c, u.id));
  }
  return { dryRun: opts.dryRun, source: source.kind, users: dirUsers.length, groups: dirGroups.length, changes, errors: changes.filter((x) => x.error).length };
}

/**
 * The local group a directory group is: the one carrying its id; else, adopted by name, the one local group of that
 * name that no directory owns (no externalId: made by Okta Group Push, which sends none, or by hand) — and only when no
 * other directory group has that name. Never a group carrying another id: anyone who may create directory groups could
 * otherwise name one like a privileged group and take over its members, its tool grants and an admin group made of it
 * (or, the other id being unseen, have it deleted). Such a directory group becomes a group of its own with the same
 * name, which SCIM allows (RFC 7643 §4.2 does not make displayName unique); a name that became ambiguous names no admin
 * group (src/sso/admin/tenant-admins.ts).
 */
function localGroupOf<G extends { externalId: string | null; displayNameKey: string }>(dg: { externalId: string; displayName: string }, groups: G[], sameName: Map<string, number>): G | undefined {
  const byId = groups.find((g) => g.externalId === dg.externalId);
  if (byId) return byId;
  const key = dg.displayName.toLowerCase();
  if (sameName.get(key) !== 1) return undefined;
  const unowned = groups.filter((g) => g.externalId === null && g.displayNameKey === key);
  return unowned.length === 1 ? unowned[0] : undefined;
}

/** Stores the last run's summary on the connector (shown by `connector list`), with the source's state for the next run. */
export async function recordSync(t: TenantCtx, connectorId: string, report: SyncReport, at: Date, state?: unknown): Promise<void> {
  const count = (op: string, kind: string) => report.changes.filter((x) => x.op === op && x.kind === kind).length;
  const summary = {
    users: report.users,
    groups: report.groups,
    created: count('create', 'user'),
    updated: count('update', 'user') + count('reactivate', 'user'),
    deactivated: count('deactivate', 'user'),
    deleted: count('delete', 'user'),
    groupChanges: report.changes.filter((x) => x.kind === 'group').length,
    errors: report.errors,
    ...(report.unchanged && { unchanged: true }),
    ...(state !== undefined && { state }),
  };
  await t.db.connector.updateMany({ where: { id: connectorId }, data: { lastSync: summary as Prisma.InputJsonValue, lastSyncAt: at } });
}
