import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hotQuery } from '../../src/db/hot-sql.js';
import { newId } from '../../src/lib/ids.js';
import { TOKEN_AND_CATALOGUE } from '../../src/mcp/cold-read.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { ensureBuiltinTools } from '../../src/tools/ensure-builtin-tools.js';
import { CallableToolsCache, decide, toolsOf, type ApprovedToolRow } from '../../src/tools/callable-tools-cache.js';
import { listCallableTools } from '../../src/tools/list-callable-tools.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { createUser } from './support.js';
import { seededRandom } from '../support/seeded-random.js';

/**
 * The MCP endpoint decides which tools a user may call from two reads (decision 0058): the tenant's catalogue (approved,
 * not held, for everyone) and the user's own row (the grants of their groups, whether they are active), combined in
 * memory by `decide`. The consent page decides with one Prisma query (listCallableTools). Both must give the same
 * answer, in the same order, for every user: here for a random tenant of tools, groups, grants and IdP-group grants,
 * next to a second tenant with the same names and other grants, through both statements that read the user's part —
 * the cache's own (`granted_tool_ids`) and the MCP request's cold read (`mcp_cold_token_catalogue`).
 */
describe.each(testDbKinds)('the permission decision, made in memory, equals the Prisma rule (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(async () => {
    await app?.close();
  });

  /** Tools, groups (some with an IdP external id), grants, IdP-group grants by id and by name, and users. */
  async function seed(t: TenantCtx, seedNo: number, round: number) {
    // The same tenant on every run, so a failure can be replayed.
    const rnd = seededRandom(seedNo);
    const pick = <T>(xs: readonly T[]) => xs.filter(() => rnd() < 0.3);
    await ensureBuiltinTools(t);
    // Names whose order depends on the database's collation (case, punctuation): the order must be the database's.
    const names = Array.from({ length: 24 }, (_, i) => `${['a', 'B', 'b', '_c', 'C-', 'z'][i % 6]}tool${i}r${round}`);
    const tools = [];
    for (const name of names) {
      const approved = rnd() < 0.8;
      const tool = await t.db.tool.create({
        data: { id: newId('tl'), tenantId: t.id, name, kind: 'upstream', approved, everyone: approved && rnd() < 0.25, held: approved && rnd() < 0.15 },
      });
      tools.push(tool.id);
    }
    const groups = [];
    for (let i = 0; i < 6; i++) {
      const displayName = `Team ${i} r${round}`;
      const externalId = i % 2 === 0 ? `00g${i}r${round}` : null;
      groups.push(await t.db.group.create({ data: { id: newId('grp'), tenantId: t.id, displayName, displayNameKey: displayName.toLowerCase(), externalId } }));
    }
    for (const g of groups) for (const toolId of pick(tools)) await t.db.toolGrant.create({ data: { tenantId: t.id, toolId, groupId: g.id } });
    // IdP-group grants: by the external id a group carries, by the name of a group without one, and ones matching no
    // group — among them another directory's group of the same name as a group that carries an external id.
    const idp = [
      ...groups.map((g) => ({ id: g.externalId ?? `00gx${g.id}`, name: g.displayName })),
      ...groups.filter((g) => g.externalId).map((g) => ({ id: `00gother${g.id}`, name: g.displayName })),
      { id: '00gnone', name: 'Nobody here' },
    ];
    for (const g of idp) {
      for (const toolId of pick(tools)) {
        await t.db.idpGroupGrant.create({ data: { tenantId: t.id, toolId, source: 'okta', idpGroupId: g.id, idpGroupName: g.name, idpGroupNameKey: g.name.toLowerCase() } });
      }
    }
    const users = [];
    for (let i = 0; i < 12; i++) {
      const id = await createUser(t, `u${i}-${seedNo}@example.com`);
      for (const g of pick(groups)) await t.db.groupMembership.create({ data: { tenantId: t.id, groupId: g.id, userId: id } });
      if (i % 5 === 4) await t.db.user.update({ where: { id }, data: { active: false } });
      users.push(id);
    }
    return users;
  }

  /** The MCP request's cold read for a user's grant: what it reads, decided in memory. */
  async function coldDecision(t: TenantCtx, userId: string): Promise<string[]> {
    const gid = newId('grt');
    await t.db.oidcPayload.create({ data: { tenantId: t.id, model: 'Grant', id: gid, payload: {}, accountId: userId, expiresAt: null } });
    const [row] = await hotQuery<{ grantUserActive: boolean; grantedToolIds: string[] | null; catalogue: ApprovedToolRow[] }>(t.db, TOKEN_AND_CATALOGUE, [t.id, gid, userId, 'jti_x']);
    if (!row!.grantedToolIds) return [];
    const approved = toolsOf(row!.catalogue);
    return decide(approved, row!.grantedToolIds).map((id) => approved.byId.get(id)!.name);
  }

  it('for every user of a random tenant, next to a tenant of the same names: the same tools in the same order', async () => {
    const a = await app.createTenant();
    const b = await app.createTenant();
    for (const [t, seedNo, round] of [[a, 17, 0], [b, 18, 0], [a, 19, 1]] as const) {
      const users = await seed(t, seedNo, round);
      const cache = new CallableToolsCache(app.services);
      let someCallable = 0;
      for (const user of users) {
        const expected = (await listCallableTools(app.services, t, user)).map((x) => x.name);
        someCallable += expected.length > 1 ? 1 : 0;
        expect((await cache.list(t, user)).map((x) => x.name)).toEqual(expected);
        expect(await coldDecision(t, user)).toEqual(expected);
      }
      // The generated tenant exercises the rule: several of its users may call more than the built-in tools.
      expect(someCallable).toBeGreaterThan(3);
    }
  });
});
