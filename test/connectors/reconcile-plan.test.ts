import { describe, expect, it } from 'vitest';
import type { DirectoryGroup, DirectorySource, DirectoryUser } from '../../src/connectors/directory-source.js';
import { planReconcile, type LocalGroup, type LocalUser } from '../../src/connectors/reconcile/plan-reconcile.js';
import { readDirectory } from '../../src/connectors/reconcile/read-directory.js';
import { checkGuard } from '../../src/connectors/reconcile/reconcile-guard.js';

/** A directory held in memory; `failOn` makes one listing throw part-way (an IdP outage mid-run). */
function memorySource(users: DirectoryUser[], groups: (DirectoryGroup & { members: string[] })[], failOn?: 'users' | 'groups' | 'members'): DirectorySource {
  return {
    kind: 'memory',
    async *listUsers() {
      for (const [i, u] of users.entries()) {
        if (failOn === 'users' && i === 1) throw new Error('503 on page 2');
        yield u;
      }
    },
    async *listGroups() {
      if (failOn === 'groups') throw new Error('429 rate limited');
      yield* groups;
    },
    async *listMembers(id) {
      const g = groups.find((x) => x.externalId === id)!;
      yield g.members[0]!;
      if (failOn === 'members') throw new Error('connection reset');
      yield* g.members.slice(1);
    },
  };
}

const du = (externalId: string, email: string, over: Partial<DirectoryUser> = {}): DirectoryUser => ({ externalId, email, displayName: null, givenName: null, familyName: null, title: null, active: true, ...over });
const lu = (id: string, userNameKey: string, over: Partial<LocalUser> = {}): LocalUser => ({ id, userNameKey, email: userNameKey, externalId: null, active: true, source: 'scim', ...over });
const everyone = () => true;

describe('reconciliation planner', () => {
  const directory = [
    du('00u1', 'ann@acme.com'),
    du('00u2', 'ben@acme.com', { active: false, status: 'SUSPENDED' }),
    du('00u3', 'cid@acme.com', { userName: 'cid.login' }),
    du('00u4', 'dee@acme.com'),
    du('00u5', 'new@acme.com'),
  ];
  const groups = [{ externalId: '00g1', displayName: 'Engineering', email: null, members: ['00u1', '00u3'] }];

  it('matches by externalId, then userName (including the IdP login), then e-mail, and plans what the IdP says', async () => {
    const listing = await readDirectory(memorySource(directory, groups));
    const users = [
      lu('a', 'ann.renamed@acme.com', { externalId: '00u1' }), // externalId wins over a renamed userName
      lu('b', 'ben@acme.com'), // by userName; suspended in the IdP
      lu('c', 'cid.login', { email: null }), // by the IdP login
      lu('d', 'dee-old', { email: 'DEE@acme.com' }), // by e-mail
      lu('e', 'eve@acme.com', { externalId: '00u9' }), // gone from the IdP
      lu('f', 'breakglass@acme.com', { source: 'manual' }), // created here by an admin: kept, reported
      lu('g', 'gil@acme.com', { active: false, externalId: '00u4x' }),
    ];
    const local: LocalGroup[] = [
      { id: 'G1', displayName: 'engineering', externalId: null, source: 'scim', members: ['a', 'b', 'd', 'e'] },
      { id: 'G2', displayName: 'Not in the IdP', externalId: 'x', source: 'scim', members: ['a'] },
      { id: 'G3', displayName: 'Admins', externalId: null, source: 'manual', members: ['a'] },
    ];
    const plan = planReconcile({ listing, users, groups: local, covers: everyone, createMissing: false });
    expect(plan.changes).toEqual([
      { op: 'deactivate', userId: 'b', userName: 'ben@acme.com', reason: 'inactive-in-directory', evidence: { directoryId: '00u2', matchedBy: 'userName', active: false, status: 'SUSPENDED' } },
      { op: 'deactivate', userId: 'e', userName: 'eve@acme.com', reason: 'not-in-directory', evidence: { listed: false, usersListed: 5, lookedFor: { externalId: '00u9', userName: 'eve@acme.com', email: 'eve@acme.com' } } },
      // Dee is matched (by e-mail) but no longer in Engineering; Ben and Eve are deactivated instead.
      { op: 'remove-membership', userId: 'd', userName: 'dee-old', groupId: 'G1', group: 'engineering', evidence: { directoryGroupId: '00g1', directoryGroup: 'Engineering', membersListed: 2, directoryUserId: '00u4', member: false } },
    ]);
    expect(plan.drift).toEqual({
      missingUsers: [{ userName: 'new@acme.com', directoryId: '00u5' }],
      inactiveHere: [],
      missingMemberships: [{ userName: 'cid.login', group: 'engineering' }],
      manualNotInDirectory: [{ userId: 'f', userName: 'breakglass@acme.com' }],
      notCovered: 0,
      unmatchedGroups: ['Not in the IdP'],
    });
    expect(plan.counts).toEqual({ directoryUsers: 5, directoryGroups: 1, localActive: 6, matched: 4 });
  });

  it('never reactivates, leaves users the directory does not cover alone, and creates only when the tenant opts in', async () => {
    const listing = await readDirectory(memorySource(directory, groups));
    const users = [lu('a', 'ann@acme.com', { active: false, externalId: '00u1' }), lu('x', 'pat@partner.example'), lu('c', 'cid@acme.com', { externalId: '00u3' })];
    const local: LocalGroup[] = [{ id: 'G1', displayName: 'Engineering', externalId: '00g1', source: 'scim', members: [] }];
    const covers = (email: string) => email.endsWith('@acme.com');
    const plan = planReconcile({ listing, users, groups: local, covers, createMissing: true });
    expect(plan.drift).toMatchObject({ inactiveHere: [{ userId: 'a', directoryId: '00u1' }], notCovered: 1, missingUsers: [] });
    expect(plan.changes.map((c) => [c.op, c.userName])).toEqual([
      ['add-membership', 'cid@acme.com'],
      ['create-user', 'dee@acme.com'],
      ['create-user', 'new@acme.com'],
    ]);
    // Ann is inactive here: never re-added, never recreated.
    expect(plan.changes.some((c) => c.userName === 'ann@acme.com')).toBe(false);
  });

  it('a key two directory users share ties neither (no guess), and SSO-assertion groups lose members but are never added to', async () => {
    const listing = await readDirectory(memorySource([du('1', 'dup@acme.com'), du('2', 'x@acme.com', { userName: 'dup@acme.com' })], [{ externalId: 'g', displayName: 'Ops', email: null, members: ['2'] }]));
    const plan = planReconcile({
      listing,
      users: [lu('u', 'dup@acme.com', { email: null }), lu('v', 'x@acme.com'), lu('w', 'y@acme.com', { externalId: '1' })],
      groups: [{ id: 'G', displayName: 'Ops', externalId: null, source: 'idp', members: ['w'] }],
      covers: everyone,
      createMissing: true,
    });
    expect(plan.changes.map((c) => [c.op, c.userName])).toEqual([
      ['deactivate', 'dup@acme.com'],
      ['remove-membership', 'y@acme.com'],
    ]);
  });

  it('a group carrying another id is never matched by name: a same-named directory group decides none of its memberships', async () => {
    // Anyone who may create directory groups can name one like a privileged group (here with themselves in it).
    const listing = await readDirectory(memorySource([du('00u1', 'ann@acme.com'), du('00u6', 'mal@acme.com')], [{ externalId: '00g9', displayName: 'Finance', email: null, members: ['00u6'] }]));
    const plan = planReconcile({
      listing,
      users: [lu('a', 'ann@acme.com', { externalId: '00u1' }), lu('m', 'mal@acme.com', { externalId: '00u6' })],
      groups: [{ id: 'F', displayName: 'Finance', externalId: 'entra-object-1', source: 'scim', members: ['a'] }],
      covers: everyone,
      createMissing: true,
    });
    expect(plan.changes).toEqual([]);
    expect(plan.drift.unmatchedGroups).toEqual(['Finance']);
  });

  it('an IdP failure part-way through any listing throws before anything is compared', async () => {
    for (const failOn of ['users', 'groups', 'members'] as const) {
      await expect(readDirectory(memorySource(directory, groups, failOn)), failOn).rejects.toThrow();
    }
  });

  it('the guard holds runs over min(count, ceil(percent of active)), every-user runs and mass membership losses', async () => {
    const listing = await readDirectory(memorySource([du('1', 'a@acme.com')], [{ externalId: 'g', displayName: 'All', email: null, members: ['1'] }]));
    const many = (n: number) => Array.from({ length: n }, (_, i) => lu(`u${i}`, `u${i}@acme.com`));
    const settings = { maxDeactivatePercent: 10, maxDeactivateCount: 50 };
    const verdict = (users: LocalUser[], s = settings, groups: LocalGroup[] = []) => checkGuard(planReconcile({ listing, users, groups, covers: everyone, createMissing: false }), s);
    // 21 active, 20 leave: limit ceil(2.1) = 3.
    expect(verdict([lu('k', 'a@acme.com'), ...many(20)])).toMatchObject({ limit: 3, deactivations: 20, held: true });
    // 30 active, 2 leave: limit 3, not held.
    expect(verdict([lu('k', 'a@acme.com'), ...many(2), ...Array.from({ length: 27 }, (_, i) => lu(`s${i}`, 'a@acme.com'))])).toMatchObject({ limit: 3, deactivations: 2, held: false });
    // 1,000 active: min(50, 100) = 50.
    expect(verdict([lu('k', 'a@acme.com'), ...many(999)])).toMatchObject({ limit: 50, held: true });
    // The only user of a tenant leaving: every active user.
    expect(verdict([lu('z', 'z@acme.com')])).toMatchObject({ deactivations: 1, held: true, reason: expect.stringMatching(/every active user/) });
    // Percent 0: every deactivation waits for --confirm.
    expect(verdict([lu('k', 'a@acme.com'), ...many(1)], { maxDeactivatePercent: 0, maxDeactivateCount: 50 })).toMatchObject({ limit: 0, held: true });
    // A group whose members came back short: 5 of 20 active users would lose it (limit 2).
    const listing2 = await readDirectory(memorySource(Array.from({ length: 20 }, (_, i) => du(`d${i}`, `m${i}@acme.com`)), [{ externalId: 'h', displayName: 'Short now', email: null, members: ['d0'] }]));
    const users2 = Array.from({ length: 20 }, (_, i) => lu(`m${i}`, `m${i}@acme.com`));
    const plan2 = planReconcile({ listing: listing2, users: users2, groups: [{ id: 'H', displayName: 'Short now', externalId: 'h', source: 'scim', members: users2.slice(0, 6).map((u) => u.id) }], covers: everyone, createMissing: false });
    expect(checkGuard(plan2, settings)).toMatchObject({ limit: 2, deactivations: 0, membershipLosses: 5, held: true, reason: expect.stringMatching(/memberships of 5 users/) });
  });
});
