import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { openDatabase, type Database, type DatabaseTarget } from '../../src/db/open-database.js';
import { verifyAuditChain } from '../../src/audit/verify-chain.js';
import { createScimToken } from '../../src/scim/scim-tokens.js';
import { tenantContext } from '../../src/tenants/tenant-context.js';
import { createTenant } from '../../src/tenants/manage-tenants.js';
import { findTenantBySlug } from '../../src/tenants/find-tenant.js';
import { startAppProcess, waitReady, type AppProcess } from '../support/app-process.js';
import { testDbKinds } from '../support/databases.js';
import { adminQuery, withDatabase } from '../support/global-setup.js';
import { freePort, testMasterKey } from '../support/test-app.js';
import { GROUP, PATCH_OP, USER } from './scim-client.js';

const USERS = 2_300; // 2,300 creates + 2,300 user PATCHes + 575 group PATCHes = 5,175 writes
const CONCURRENCY = 16;
const GROUPS = 4;

interface Acked {
  created: Map<string, string>; // userName → id, from a 2xx
  renamed: Map<string, string>; // id → displayName of the last 2xx PATCH
  joined: Map<string, string>; // id → group id, from a 2xx group PATCH
}

/**
 * A SCIM burst against a real server process that is killed with SIGKILL in the middle and started again on the
 * same database, while the "IdP" (16 concurrent workers) retries what failed the way Okta and Entra do: the same
 * request again, and after a 409 on create, a lookup by userName. Afterwards every acknowledged write is in the
 * database, nothing is half-applied, and the retries converged on the intended state.
 */
describe.each(testDbKinds)('SCIM burst with the server killed mid-run (%s)', (kind) => {
  it('keeps every acknowledged write and converges through retries', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sso-crash-'));
    // PGlite starts from the run's migrated snapshot, unpacked into the data directory the server will own.
    let target: DatabaseTarget = { kind: 'pglite', dataDir: path.join(dataDir, 'pglite'), loadDataDir: new Blob([await readFile(inject('pgliteSnapshot'))]) };
    let dropDb = async () => {};
    if (kind === 'postgres') {
      const name = `ssob_crash_${process.pid}_${Date.now().toString(36)}`;
      await adminQuery(process.env.TEST_DATABASE_URL!, `CREATE DATABASE "${name}"`);
      target = { kind: 'postgres', url: withDatabase(process.env.TEST_DATABASE_URL!, name) };
      dropDb = async () => void (await adminQuery(process.env.TEST_DATABASE_URL!, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    }
    const port = await freePort();
    const env = {
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      DATA_DIR: dataDir,
      MASTER_KEY: testMasterKey(),
      LOG_LEVEL: 'warn',
      ...(target.kind === 'postgres' && { DATABASE_URL: target.url }),
    };

    // Setup with the server down (PGlite allows one process per data directory).
    let db: Database = await openDatabase(target);
    await db.migrate();
    await createTenant(db.prisma, { slug: 'burst', name: 'Burst' });
    const t = (await findTenantBySlug(db.prisma, 'burst'))!;
    const { token, baseUrl } = await createScimToken(t, env.PUBLIC_URL);
    await db.close();

    const acked: Acked = { created: new Map(), renamed: new Map(), joined: new Map() };
    let server: AppProcess = startAppProcess(env);
    try {
      await waitReady(server);
      const call = async (method: string, p: string, body?: unknown) => {
        const res = await fetch(`${baseUrl}${p}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/scim+json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return { status: res.status, body: (res.status === 204 ? null : await res.json()) as Record<string, unknown> & { id?: string; Resources?: { id: string }[] } };
      };
      /** The IdP's retry loop: the same request until it is answered; a dead server is retried after a pause. */
      const retrying = async (method: string, p: string, body: unknown, done: (status: number) => boolean) => {
        for (;;) {
          const res = await call(method, p, body).catch(() => null);
          if (res && done(res.status)) return res;
          await new Promise((r) => setTimeout(r, res ? 20 : 100));
        }
      };

      const groups: string[] = [];
      for (let g = 0; g < GROUPS; g++) {
        const res = await retrying('POST', '/Groups', { schemas: [GROUP], displayName: `Crew ${g}` }, (s) => s === 201);
        groups.push(res.body.id!);
      }

      let writes = 0;
      let killed: Promise<void> | undefined;
      const killAt = Math.floor(USERS * 0.8); // about a third of all writes
      const provision = async (i: number) => {
        const userName = `u${i}@crash.example`;
        const created = await retrying('POST', '/Users', { schemas: [USER], userName, externalId: `ext-${i}`, displayName: `User ${i}`, active: true }, (s) => s === 201 || s === 409);
        let id = created.body.id;
        if (created.status === 201) acked.created.set(userName, id!);
        else {
          // Created before the crash, answer lost: the IdP finds it by userName (Okta's and Entra's behaviour).
          const found = await retrying('GET', `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`, undefined, (s) => s === 200);
          id = found.body.Resources![0]!.id;
        }
        writes++;
        const name = `User ${i} v2`;
        await retrying('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'displayName', value: name }] }, (s) => s === 200);
        acked.renamed.set(id!, name);
        writes++;
        if (i % 4 === 0) {
          const group = groups[i % GROUPS]!;
          await retrying('PATCH', `/Groups/${group}`, { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: id }] }] }, (s) => s === 200 || s === 204);
          acked.joined.set(id!, group);
          writes++;
        }
        if (writes >= killAt && !killed) {
          const dying = server;
          dying.child.kill('SIGKILL');
          killed = dying.exited.then(async () => {
            server = startAppProcess(env);
            await waitReady(server);
          });
        }
      };
      let next = 0;
      await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
        while (next < USERS) await provision(next++);
      }));
      await killed;
      expect(killed).toBeDefined();
      expect(writes).toBeGreaterThanOrEqual(5_000);

      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    } finally {
      server.child.kill('SIGKILL');
    }

    db = await openDatabase(target.kind === 'pglite' ? { kind: 'pglite', dataDir: target.dataDir } : target);
    try {
      const users = await db.prisma.user.findMany({ where: { tenantId: t.id }, select: { id: true, userName: true, displayName: true } });
      const byId = new Map(users.map((u) => [u.id, u]));
      // Converged: exactly one user per intended user, each in its final state.
      expect(users).toHaveLength(USERS);
      for (const [userName, id] of acked.created) expect(byId.get(id)?.userName).toBe(userName);
      for (const [id, name] of acked.renamed) expect(byId.get(id)?.displayName).toBe(name);
      const memberships = await db.prisma.groupMembership.findMany({ where: { tenantId: t.id } });
      expect(memberships).toHaveLength(acked.joined.size);
      for (const m of memberships) {
        expect(byId.has(m.userId)).toBe(true);
        expect(acked.joined.get(m.userId)).toBe(m.groupId);
      }
      // Nothing half-applied: every user has its creation audited, every acknowledged rename its patch.
      const audits = await db.prisma.auditEvent.findMany({ where: { tenantId: t.id }, select: { action: true, targetId: true } });
      const createdAudited = new Set(audits.filter((a) => a.action === 'scim.user.create').map((a) => a.targetId));
      const patchAudited = new Set(audits.filter((a) => a.action === 'scim.user.patch').map((a) => a.targetId));
      expect(users.filter((u) => !createdAudited.has(u.id)).map((u) => u.userName)).toEqual([]);
      expect([...acked.renamed.keys()].filter((id) => !patchAudited.has(id))).toEqual([]);
      // The kill cut no audit batch in half: the tenant's hash chain is whole.
      expect(await verifyAuditChain(tenantContext(db.prisma, t))).toMatchObject({ ok: true, problems: [] });
    } finally {
      await db.close();
      await dropDb();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 900_000);
});
