import type { DirectoryUser } from '../directory-source.js';
import type { DirectoryListing } from './read-directory.js';

/** A local user as reconciliation compares it. */
export interface LocalUser {
  id: string;
  userNameKey: string;
  email: string | null;
  externalId: string | null;
  active: boolean;
  source: string;
}

/** A local group with its members' user ids. */
export interface LocalGroup {
  id: string;
  displayName: string;
  externalId: string | null;
  /** scim | idp (from SSO assertions) | manual */
  source: string;
  members: string[];
}

/** How a local user was tied to a directory user (docs/reconciliation.md "Matching"). */
export type MatchedBy = 'externalId' | 'userName' | 'email';

export type ReconcileChange =
  | { op: 'deactivate'; userId: string; userName: string; reason: 'inactive-in-directory' | 'not-in-directory'; evidence: Record<string, unknown> }
  | { op: 'remove-membership'; userId: string; userName: string; groupId: string; group: string; evidence: Record<string, unknown> }
  | { op: 'add-membership'; userId: string; userName: string; groupId: string; group: string; evidence: Record<string, unknown> }
  | { op: 'create-user'; userName: string; directoryId: string; user: DirectoryUser; groupIds: string[]; evidence: Record<string, unknown> };

/** Drift reported and never acted on (or acted on only when the tenant opts in: `createMissing`). */
export interface ReconcileDrift {
  /** Active in the directory, absent here. */
  missingUsers: { userName: string; directoryId: string }[];
  /** Active in the directory, inactive here: never reactivated by reconciliation (the IdP's push does that). */
  inactiveHere: { userId: string; userName: string; directoryId: string }[];
  /** Members in the directory, not here. */
  missingMemberships: { userName: string; group: string }[];
  /** Users created here by an admin that the directory does not list: kept (break-glass accounts), reported. */
  manualNotInDirectory: { userId: string; userName: string }[];
  /** Local users outside what the directory covers (e.g. another domain than a Google connector's): left alone. */
  notCovered: number;
  /** Local SCIM/SSO groups with no directory group of that id or (unique) name: their members are left alone. */
  unmatchedGroups: string[];
}

export interface ReconcilePlan {
  changes: ReconcileChange[];
  drift: ReconcileDrift;
  counts: { directoryUsers: number; directoryGroups: number; localActive: number; matched: number };
}

const lower = (x: string | null | undefined) => (x ? x.toLowerCase() : null);

/** Directory users by every key that may tie one to a local user; a key two directory users share ties neither. */
function directoryIndex(users: DirectoryUser[]) {
  const byId = new Map(users.map((u) => [u.externalId, u]));
  const byName = new Map<string, DirectoryUser | null>();
  for (const u of users) {
    for (const key of new Set([lower(u.email), lower(u.userName)].filter((k): k is string => !!k))) {
      byName.set(key, byName.has(key) && byName.get(key) !== u ? null : u);
    }
  }
  return { byId, byName };
}

/** The directory user a local user is, and by which key: externalId first, then userName, then e-mail. */
function matchUser(u: LocalUser, idx: ReturnType<typeof directoryIndex>): { du: DirectoryUser; by: MatchedBy } | null {
  const byId = u.externalId ? idx.byId.get(u.externalId) : undefined;
  if (byId) return { du: byId, by: 'externalId' };
  const byName = idx.byName.get(u.userNameKey);
  if (byName) return { du: byName, by: 'userName' };
  const byEmail = u.email ? idx.byName.get(u.email.toLowerCase()) : undefined;
  return byEmail ? { du: byEmail, by: 'email' } : null;
}

/**
 * Compares the tenant with a complete directory listing and says what reconciliation changes — a pure function, so
 * the rules are testable without a database or an IdP:
 * - an active user the directory lists as inactive, or (for users it covers) does not list at all, is deactivated;
 *   users an admin created here (`manual`) are reported instead (break-glass accounts the IdP may not know);
 * - a membership of an active user in a group matched to a directory group that does not list them is removed
 *   (groups from SSO assertions included: a removed member must not keep the group's tools until they next sign in);
 * - the other direction (users and memberships the directory has and we lack) is drift, planned as changes only
 *   with `createMissing`; a user inactive here is never reactivated.
 */
export function planReconcile(input: { listing: DirectoryListing; users: LocalUser[]; groups: LocalGroup[]; covers: (email: string) => boolean; createMissing: boolean }): ReconcilePlan {
  const { listing, covers } = input;
  const idx = directoryIndex(listing.users);
  const changes: ReconcileChange[] = [];
  const drift: ReconcileDrift = { missingUsers: [], inactiveHere: [], missingMemberships: [], manualNotInDirectory: [], notCovered: 0, unmatchedGroups: [] };
  const matchOf = new Map<string, { du: DirectoryUser; by: MatchedBy }>();
  const claimed = new Set<string>();
  const deactivated = new Set<string>();

  for (const u of input.users) {
    const m = matchUser(u, idx);
    if (m) {
      matchOf.set(u.id, m);
      claimed.add(m.du.externalId);
    }
    if (!u.active) {
      if (m?.du.active) drift.inactiveHere.push({ userId: u.id, userName: u.userNameKey, directoryId: m.du.externalId });
      continue;
    }
    if (m && !m.du.active) {
      deactivated.add(u.id);
      changes.push({ op: 'deactivate', userId: u.id, userName: u.userNameKey, reason: 'inactive-in-directory', evidence: { directoryId: m.du.externalId, matchedBy: m.by, active: false, ...(m.du.status && { status: m.du.status }) } });
    } else if (!m) {
      if (!covers(u.email ?? u.userNameKey)) drift.notCovered++;
      else if (u.source === 'manual') drift.manualNotInDirectory.push({ userId: u.id, userName: u.userNameKey });
      else {
        deactivated.add(u.id);
        changes.push({ op: 'deactivate', userId: u.id, userName: u.userNameKey, reason: 'not-in-directory', evidence: { listed: false, usersListed: listing.users.length, lookedFor: { externalId: u.externalId, userName: u.userNameKey, email: u.email } } });
      }
    }
  }

  // Groups: by the directory's id, else — for a group no directory owns (no externalId) — by a name only one directory
  // group has. A group carrying another id is never matched by name: a same-named directory group anyone may create
  // would otherwise decide its memberships (sync-directory.ts, localGroupOf).
  const groupById = new Map(listing.groups.map((g) => [g.externalId, g]));
  const groupByName = new Map<string, (typeof listing.groups)[number] | null>();
  for (const g of listing.groups) {
    const key = g.displayName.toLowerCase();
    groupByName.set(key, groupByName.has(key) ? null : g);
  }
  const activeIds = new Set(input.users.filter((u) => u.active).map((u) => u.id));
  const localIdOfDirectoryUser = new Map([...matchOf].filter(([id]) => activeIds.has(id)).map(([id, m]) => [m.du.externalId, id]));
  const userNameOf = new Map(input.users.map((u) => [u.id, u.userNameKey]));
  const newUserGroups = new Map<string, string[]>();
  for (const g of input.groups) {
    if (g.source === 'manual') continue;
    const dg = (g.externalId ? groupById.get(g.externalId) : groupByName.get(g.displayName.toLowerCase())) ?? null;
    if (!dg) {
      drift.unmatchedGroups.push(g.displayName);
      continue;
    }
    const listed = listing.members.get(dg.externalId) ?? [];
    const listedSet = new Set(listed);
    const evidence = { directoryGroupId: dg.externalId, directoryGroup: dg.displayName, membersListed: listed.length };
    const have = new Set(g.members);
    for (const userId of g.members) {
      const m = matchOf.get(userId);
      // Unmatched members are deactivated above or outside the directory's reach; inactive ones hold nothing.
      if (!m || deactivated.has(userId) || !activeIds.has(userId)) continue;
      if (!listedSet.has(m.du.externalId)) {
        changes.push({ op: 'remove-membership', userId, userName: userNameOf.get(userId)!, groupId: g.id, group: g.displayName, evidence: { ...evidence, directoryUserId: m.du.externalId, member: false } });
      }
    }
    // SSO-assertion groups are rewritten at each sign-in; only groups SCIM (or sync) manages are added to.
    if (g.source !== 'scim') continue;
    for (const directoryUserId of listed) {
      const localId = localIdOfDirectoryUser.get(directoryUserId);
      if (localId && have.has(localId)) continue;
      if (localId) {
        if (deactivated.has(localId)) continue;
        if (input.createMissing) changes.push({ op: 'add-membership', userId: localId, userName: userNameOf.get(localId)!, groupId: g.id, group: g.displayName, evidence: { ...evidence, directoryUserId, member: true } });
        else drift.missingMemberships.push({ userName: userNameOf.get(localId)!, group: g.displayName });
      } else if (!claimed.has(directoryUserId)) {
        newUserGroups.set(directoryUserId, [...(newUserGroups.get(directoryUserId) ?? []), g.id]);
      }
    }
  }

  for (const du of listing.users) {
    if (claimed.has(du.externalId) || !du.active || !covers(du.email)) continue;
    if (input.createMissing) {
      const groupIds = newUserGroups.get(du.externalId) ?? [];
      changes.push({ op: 'create-user', userName: du.email, directoryId: du.externalId, user: du, groupIds, evidence: { directoryId: du.externalId, active: true, ...(du.status && { status: du.status }), groups: groupIds.length } });
    } else drift.missingUsers.push({ userName: du.email, directoryId: du.externalId });
  }

  return {
    changes,
    drift,
    counts: { directoryUsers: listing.users.length, directoryGroups: listing.groups.length, localActive: activeIds.size, matched: matchOf.size },
  };
}
