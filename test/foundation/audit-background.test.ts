import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKGROUND_LINGER_MS, MAX_BATCH, RETRY_FIRST_MS, type Schedule } from '../../src/audit/audit-batches.js';
import { AuditLog, type AuditInput, type AuditRow } from '../../src/audit/audit-log.js';
import { insertAuditBatches, insertAuditRows } from '../../src/audit/insert-audit-rows.js';
import type { Db } from '../../src/db/open-database.js';
import { verifyAuditChain } from '../../src/audit/verify-chain.js';
import { loadConfig } from '../../src/config/config.js';
import { startServer } from '../../src/http/start-server.js';
import { createServices } from '../../src/services.js';
import { findTenantBySlug } from '../../src/tenants/find-tenant.js';
import { createTenant } from '../../src/tenants/manage-tenants.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { openTestDatabase, testDbKinds } from '../support/databases.js';
import { freePort, startTestApp, testMasterKey, type TestApp } from '../support/test-app.js';

/** Linger timers that fire only when the test says so. */
function manualTimers() {
  const timers: { run: () => void; ms: number; cancelled: boolean }[] = [];
  const schedule: Schedule = (run, ms) => {
    const timer = { run, ms, cancelled: false };
    timers.push(timer);
    return () => void (timer.cancelled = true);
  };
  const armed = () => timers.filter((x) => !x.cancelled);
  return {
    schedule,
    /** Delays of the timers still armed. */
    armed: () => armed().map((x) => x.ms),
    fire() {
      const due = armed();
      timers.length = 0;
      for (const x of due) x.run();
    },
  };
}

/**
 * The real INSERTs — one tenant's batch (insertRows), several tenants' (insertBatches) — counted per statement,
 * optionally held before they run; tests await their progress, never sleep.
 */
function countedInserts(db: Db) {
  const batches: { tenantId: string; size: number }[] = [];
  /** Statements that wrote several tenants' batches: each batch's tenant and size, in the order sent. */
  const shared: { tenantId: string; size: number }[][] = [];
  let committed = 0;
  let gate: { promise: Promise<void>; open: () => void } | undefined;
  const wake: (() => void)[] = [];
  const changed = () => wake.splice(0).forEach((w) => w());
  const until = async (ready: () => boolean) => {
    while (!ready()) await new Promise<void>((resolve) => wake.push(resolve));
  };
  /** A statement once the gate (if any) opens, counted as settled whether it commits or fails. */
  const counted = async (write: () => Promise<void>) => {
    await gate?.promise;
    try {
      await write();
    } finally {
      committed++;
      changed();
    }
  };
  return {
    batches,
    insertRows: async (t: TenantCtx, rows: AuditRow[]) => {
      batches.push({ tenantId: t.id, size: rows.length });
      await counted(() => insertAuditRows(t, rows));
    },
    insertBatches: async (parts: { t: TenantCtx; rows: AuditRow[] }[]) => {
      shared.push(parts.map((p) => ({ tenantId: p.t.id, size: p.rows.length })));
      await counted(() => insertAuditBatches(db, parts));
    },
    shared,
    hold() {
      let open!: () => void;
      gate = { promise: new Promise<void>((resolve) => (open = resolve)), open };
    },
    release() {
      gate?.open();
      gate = undefined;
    },
    committed: (n: number) => until(() => committed >= n),
  };
}

/** One turn of the event loop: a write AuditLog decided on (setImmediate) has begun, or has been settled after its commit. */
const settled = () => new Promise((resolve) => setImmediate(resolve));

function capturedLogs() {
  const lines: string[] = [];
  return { lines, logger: pino({ level: 'error' }, { write: (line: string) => void lines.push(line) }) };
}

const event = (requestId: string, detail: Record<string, unknown> = {}): AuditInput => ({
  actor: { kind: 'user', id: 'usr_1' },
  action: 'mcp.tool.call',
  target: { kind: 'tool', id: 'tool_1' },
  outcome: 'success',
  request: { requestId },
  detail,
});

describe.each(testDbKinds)('audit events recorded in the background (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(async () => {
    await app?.close();
  });

  const setUp = (opts: { maxPendingBackground?: number; maxSharedRows?: number } = {}) => {
    const timers = manualTimers();
    const inserts = countedInserts(app.services.db);
    const logs = capturedLogs();
    const audit = new AuditLog(app.services.db, app.services.clock, { logger: logs.logger, schedule: timers.schedule, insertRows: inserts.insertRows, insertBatches: inserts.insertBatches, ...opts });
    return { audit, timers, inserts, logs };
  };
  const requestIds = async (t: TenantCtx) => (await t.db.auditEvent.findMany({ orderBy: { requestId: 'asc' } })).map((e) => e.requestId);

  it('stores the clock\'s time as createdAt, to the millisecond, with rows serialised as a Date would be', async () => {
    const t = await app.createTenant();
    const { audit, timers, inserts } = setUp();
    const at = app.services.clock.now(); // a manual clock: it stands still during the test
    const row = audit.rowOf(event('req_time'));
    expect(JSON.stringify(row)).toBe(JSON.stringify({ ...row, createdAt: at }));
    await audit.recordInBackground(t, event('req_stored'));
    timers.fire();
    await inserts.committed(1);
    const stored = await t.db.auditEvent.findFirstOrThrow({ where: { requestId: 'req_stored' } });
    expect(stored.createdAt.getTime()).toBe(at.getTime());
  });

  it('holds a tenant’s background events for the linger window, then writes them in one INSERT', async () => {
    const t = await app.createTenant();
    const { audit, timers, inserts } = setUp();
    for (let i = 0; i < 5; i++) await audit.recordInBackground(t, event(`req_${i}`));
    expect(timers.armed()).toEqual([BACKGROUND_LINGER_MS]);
    await settled();
    expect(inserts.batches).toEqual([]);
    expect(await t.db.auditEvent.count()).toBe(0);

    timers.fire();
    await settled();
    expect(inserts.batches).toEqual([{ tenantId: t.id, size: 5 }]);
    await inserts.committed(1);
    expect(await requestIds(t)).toEqual(['req_0', 'req_1', 'req_2', 'req_3', 'req_4']);
    expect(timers.armed()).toEqual([]);
  });

  it('costs one statement per window whatever the number of tenants: their batches share it (issue 17 §1, decision 0055)', async () => {
    const statementsFor = async (tenants: TenantCtx[], calls: number) => {
      const { audit, timers, inserts } = setUp();
      for (let i = 0; i < calls; i++) await audit.recordInBackground(tenants[i % tenants.length]!, event(`req_${i}`));
      expect(timers.armed()).toEqual([BACKGROUND_LINGER_MS]); // one window for the node, not one per tenant
      timers.fire();
      await audit.flush();
      return { single: inserts.batches.length, shared: inserts.shared };
    };
    const one = [await app.createTenant()];
    const ten = await Promise.all(Array.from({ length: 10 }, () => app.createTenant()));
    // 100 calls in one window: one tenant's rows go in one statement of its own, ten tenants' in ONE statement too
    // (each chain head locked in turn inside it), not ten — a statement's fixed cost is paid once per window.
    expect(await statementsFor(one, 100)).toEqual({ single: 1, shared: [] });
    const { single, shared } = await statementsFor(ten, 100);
    expect(single).toBe(0);
    expect(shared).toHaveLength(1);
    expect(shared[0]!.map((b) => b.tenantId).sort()).toEqual(ten.map((t) => t.id).sort());
    expect(shared[0]!.every((b) => b.size === 10)).toBe(true);
    for (const t of ten) expect(await verifyAuditChain(t)).toMatchObject({ ok: true, rows: 10 });
  });

  it('a window’s statement holds at most maxSharedRows rows of whole batches; a tenant beyond writes at once on its own', async () => {
    const tenants = await Promise.all(Array.from({ length: 3 }, () => app.createTenant()));
    const { audit, timers, inserts } = setUp({ maxSharedRows: 10 }); // two batches of 4 fit, the third does not
    for (const t of tenants) for (let i = 0; i < 4; i++) void audit.recordInBackground(t, event(`req_${i}`));
    timers.fire();
    await audit.flush();
    expect(inserts.shared).toEqual([expect.arrayContaining(tenants.slice(0, 2).map((t) => ({ tenantId: t.id, size: 4 })))]);
    expect(inserts.shared[0]).toHaveLength(2);
    expect(inserts.batches).toEqual([{ tenantId: tenants[2]!.id, size: 4 }]);
    for (const t of tenants) expect(await requestIds(t)).toEqual(['req_0', 'req_1', 'req_2', 'req_3']);
  });

  it('one tenant’s batch that cannot be written fails only its own rows: the others of the window are written', async () => {
    const [a, b] = [await app.createTenant(), await app.createTenant()];
    const gone = { ...(await app.createTenant()), id: 'tnt_does_not_exist' };
    const { audit, timers, inserts, logs } = setUp();
    for (const [t, id] of [[a, 'a_1'], [gone, 'gone_1'], [b, 'b_1'], [a, 'a_2']] as const) void audit.recordInBackground(t, event(id));
    timers.fire();
    await audit.flush();
    // The shared statement failed as a whole (the foreign key), then each batch went on its own.
    expect(inserts.shared).toHaveLength(1);
    expect(inserts.batches.map((x) => x.tenantId).sort()).toEqual([a.id, b.id, gone.id].sort());
    expect(await requestIds(a)).toEqual(['a_1', 'a_2']);
    expect(await requestIds(b)).toEqual(['b_1']);
    expect(audit.failedBackgroundEvents).toBe(1);
    expect(logs.lines.map((l) => JSON.parse(l) as { tenantId: string; events: number })).toEqual([expect.objectContaining({ tenantId: gone.id, events: 1 })]);
  });

  it('strings PostgreSQL refuses (a lone surrogate a client sent, a pair a cut split, NUL) are stored well-formed, and cost no event', async () => {
    const t = await app.createTenant();
    const { audit, timers } = setUp();
    const emojiCut = `${'a'.repeat(511)}😀tail`; // redactDetail cuts at 512 code units: between the pair's halves
    const hostile: AuditInput = {
      actor: { kind: 'user', id: 'usr_\ud800' },
      action: 'mcp.tool.call',
      target: { kind: 'tool', id: 'x\udfff' },
      outcome: 'denied',
      request: { requestId: 'req_hostile', userAgent: 'agent\ud83d', ip: '203.0.113.9' },
      detail: { tool: 'x\ud800', long: emojiCut, ['k\udc00']: ['\ud800\u0000'] },
    };
    for (const id of ['req_a', 'req_b']) await audit.recordInBackground(t, event(id, { tool: 'up__echo' }));
    await audit.recordInBackground(t, hostile);
    timers.fire();
    await audit.flush();
    expect(audit.failedBackgroundEvents).toBe(0);
    expect(await requestIds(t)).toEqual(['req_a', 'req_b', 'req_hostile']);
    const row = await t.db.auditEvent.findFirstOrThrow({ where: { requestId: 'req_hostile' } });
    expect(row).toMatchObject({ actorId: 'usr_\ufffd', targetId: 'x\ufffd', userAgent: 'agent\ufffd' });
    expect(row.detail).toEqual({ tool: 'x\ufffd', long: `${'a'.repeat(511)}\ufffd…`, ['k\ufffd']: ['\ufffd'] });
    // An awaited event with the same strings is written, and its caller is answered.
    await expect(audit.record(t, { ...hostile, request: { requestId: 'req_awaited' } })).resolves.toEqual(expect.any(String));
    expect(await verifyAuditChain(t)).toMatchObject({ ok: true, rows: 4 });
  });

  it('a row the database refuses while it is up costs only itself: the other events of its window are written', async () => {
    const t = await app.createTenant();
    const timers = manualTimers();
    const logs = capturedLogs();
    const insertRows = async (tc: TenantCtx, rows: AuditRow[]) => {
      if (rows.some((r) => r.requestId === 'req_poison')) throw new Error('refused by the database');
      await insertAuditRows(tc, rows);
    };
    const audit = new AuditLog(app.services.db, app.services.clock, { logger: logs.logger, schedule: timers.schedule, insertRows });
    for (const id of ['req_1', 'req_poison', 'req_2', 'req_3']) void audit.recordInBackground(t, event(id));
    timers.fire();
    await audit.flush();
    expect(await requestIds(t)).toEqual(['req_1', 'req_2', 'req_3']);
    expect(audit.failedBackgroundEvents).toBe(1);
    expect(logs.lines).toHaveLength(1);
  });

  it('writes at once, without waiting for the window, when a batch is full', async () => {
    const t = await app.createTenant();
    const { audit, timers, inserts } = setUp();
    for (let i = 0; i <= MAX_BATCH; i++) void audit.recordInBackground(t, event(`req_${String(i).padStart(4, '0')}`));
    await settled();
    expect(inserts.batches).toEqual([{ tenantId: t.id, size: MAX_BATCH }]);
    await inserts.committed(1);
    expect(await t.db.auditEvent.count()).toBe(MAX_BATCH);
    await settled();
    // The one event past the bound lingers in a new window.
    expect(timers.armed()).toEqual([BACKGROUND_LINGER_MS]);
    timers.fire();
    await settled();
    expect(inserts.batches[1]).toEqual({ tenantId: t.id, size: 1 });
    await inserts.committed(2);
  });

  it('an awaited event is written at once, takes pending background events along, and resolves only after its commit', async () => {
    const t = await app.createTenant();
    const { audit, timers, inserts } = setUp();
    void audit.recordInBackground(t, event('bg_1'));
    void audit.recordInBackground(t, event('bg_2'));
    inserts.hold();
    let resolved = false;
    const awaited = audit.record(t, event('awaited')).then((id) => ((resolved = true), id));
    await settled();
    expect(inserts.batches).toEqual([{ tenantId: t.id, size: 3 }]);
    expect(resolved).toBe(false);

    inserts.release();
    const id = await awaited;
    expect(await t.db.auditEvent.findUnique({ where: { id } })).toMatchObject({ requestId: 'awaited' });
    // The node's window, opened by bg_1, ends with nothing left to write.
    timers.fire();
    await audit.flush();
    expect(inserts.batches).toHaveLength(1);
    expect(inserts.shared).toEqual([]);
    expect(await requestIds(t)).toEqual(['awaited', 'bg_1', 'bg_2']);
  });

  it('an awaited event is written on its own: it never waits for other tenants’ lingering rows', async () => {
    const [a, b] = [await app.createTenant(), await app.createTenant()];
    const { audit, timers, inserts } = setUp();
    void audit.recordInBackground(a, event('a_bg'));
    await audit.record(b, event('b_awaited'));
    expect(inserts.batches).toEqual([{ tenantId: b.id, size: 1 }]);
    expect(await requestIds(a)).toEqual([]);
    expect(timers.armed()).toEqual([BACKGROUND_LINGER_MS]); // a's row still lingers in the window
    timers.fire();
    await audit.flush();
    expect(await requestIds(a)).toEqual(['a_bg']);
  });

  it('flush() writes everything pending of every tenant and resolves when it is committed', async () => {
    const a = await app.createTenant();
    const b = await app.createTenant();
    const { audit, timers, inserts } = setUp();
    await audit.flush(); // nothing pending: resolves at once
    void audit.recordInBackground(a, event('a_1'));
    void audit.recordInBackground(b, event('b_1'));
    void audit.recordInBackground(a, event('a_2'));
    await audit.flush();
    expect(await requestIds(a)).toEqual(['a_1', 'a_2']);
    expect(await requestIds(b)).toEqual(['b_1']);
    // The window ended early: both tenants' batches in its one statement.
    expect(inserts.shared).toEqual([expect.arrayContaining([{ tenantId: a.id, size: 2 }, { tenantId: b.id, size: 1 }])]);
    expect(inserts.batches).toEqual([]);
    expect(timers.armed()).toEqual([]);
  });

  it('binds every batch to its own tenant: each tenant reads exactly its own events, never the other’s', async () => {
    const a = await app.createTenant();
    const b = await app.createTenant();
    const { audit, timers, inserts } = setUp();
    for (const [t, id] of [[a, 'a_1'], [b, 'b_1'], [a, 'a_2'], [b, 'b_2'], [b, 'b_3']] as const) void audit.recordInBackground(t, event(id));
    expect(timers.armed()).toHaveLength(1);
    timers.fire();
    await settled();
    expect(inserts.shared).toEqual([expect.arrayContaining([{ tenantId: a.id, size: 2 }, { tenantId: b.id, size: 3 }])]);
    await inserts.committed(1);
    expect(await requestIds(a)).toEqual(['a_1', 'a_2']);
    expect(await requestIds(b)).toEqual(['b_1', 'b_2', 'b_3']);
    expect(await a.db.auditEvent.count({ where: { requestId: { startsWith: 'b_' } } })).toBe(0);
    expect(await b.db.auditEvent.count({ where: { requestId: { startsWith: 'a_' } } })).toBe(0);
  });

  it('logs a failed background write without the event’s contents, and never rejects', async () => {
    const gone = { ...(await app.createTenant()), id: 'tnt_does_not_exist' };
    const { audit, logs } = setUp();
    // tenantId references Tenant: a foreign-key violation fails the whole INSERT.
    await audit.recordInBackground(gone, event('req_secret', { note: 'contents-marker' }));
    await audit.flush();
    expect(logs.lines).toHaveLength(1);
    expect(JSON.parse(logs.lines[0]!)).toMatchObject({ msg: 'could not write background audit events', tenantId: gone.id, events: 1, actions: ['mcp.tool.call'] });
    expect(logs.lines[0]).not.toMatch(/contents-marker|req_secret/);
  });

  it('over the pending cap: writes at once and holds every caller back until the backlog drains; nothing is dropped', async () => {
    const t = await app.createTenant();
    const { audit, timers, inserts, logs } = setUp({ maxPendingBackground: 4 });
    inserts.hold(); // a slow database
    const accepted = new Set<number>();
    const record = (i: number) => audit.recordInBackground(t, event(`req_${String(i).padStart(2, '0')}`)).then(() => void accepted.add(i));
    const calls = [0, 1, 2, 3, 4].map(record);
    await settled();
    expect(inserts.batches).toEqual([{ tenantId: t.id, size: 5 }]); // over the cap: no lingering
    // Sustained overload: far past twice the cap, every producer waits, none is turned away.
    calls.push(...[5, 6, 7, 8, 9, 10, 11, 12, 13, 14].map(record));
    await Promise.resolve();
    expect([...accepted].sort((a, b) => a - b)).toEqual([0, 1, 2, 3]);
    expect(audit.pendingBackgroundEvents).toBe(15);

    inserts.release();
    await Promise.all(calls); // every batch committed as room came back
    await settled();
    expect(timers.armed().every((ms) => ms === BACKGROUND_LINGER_MS)).toBe(true);
    await audit.flush();
    expect(await requestIds(t)).toEqual([...Array(15).keys()].map((i) => `req_${String(i).padStart(2, '0')}`));
    expect(audit.failedBackgroundEvents).toBe(0);
    expect(logs.lines).toEqual([]);
  });

  it('keeps background events while the database is unreachable and writes them, in order, once it is back', async () => {
    const t = await app.createTenant();
    const timers = manualTimers();
    const logs = capturedLogs();
    let down = true;
    const attempts: number[] = [];
    const audit = new AuditLog(app.services.db, app.services.clock, {
      logger: logs.logger,
      schedule: timers.schedule,
      isAvailable: async () => !down,
      insertRows: async (tenant, rows) => {
        attempts.push(rows.length);
        if (down) throw new Error('connection refused');
        await insertAuditRows(tenant, rows);
      },
    });
    for (let i = 0; i < 3; i++) await audit.recordInBackground(t, event(`req_${i}`));
    timers.fire(); // the linger window ends: the write fails
    while (attempts.length < 1 || timers.armed().length === 0) await settled();
    expect(timers.armed()).toEqual([RETRY_FIRST_MS]);
    // An awaited event fails for its caller (it answers an error), and takes nothing down with it.
    await expect(audit.record(t, event('req_awaited'))).rejects.toThrow(/connection refused/);
    while (timers.armed().length === 0) await settled();
    expect(timers.armed()).toEqual([RETRY_FIRST_MS * 2]); // it was tried at once, failed again: backing off
    timers.fire();
    while (timers.armed().length === 0) await settled();
    expect(timers.armed()).toEqual([RETRY_FIRST_MS * 4]);
    expect(logs.lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['database unreachable: keeping background audit events to retry']);

    down = false;
    timers.fire();
    await audit.flush();
    expect(await requestIds(t)).toEqual(['req_0', 'req_1', 'req_2']);
    expect(audit.pendingBackgroundEvents).toBe(0);
    expect(await verifyAuditChain(t)).toMatchObject({ ok: true, rows: 3 });
  });

  it('two nodes’ windows over the same tenants, in opposite orders, at the same moment: no deadlock, every chain whole', async () => {
    const tenants = await Promise.all(Array.from({ length: 3 }, () => app.createTenant()));
    const nodes = [setUp(), setUp()];
    for (let w = 0; w < 5; w++) {
      // Node 0 queues a, b, c; node 1 c, b, a: their statements list the batches in opposite orders.
      for (const [k, node] of nodes.entries()) {
        for (const t of k === 0 ? tenants : [...tenants].reverse()) for (let i = 0; i < 3; i++) void node.audit.recordInBackground(t, event(`n${k}_w${w}_${i}`));
      }
      for (const node of nodes) node.timers.fire();
      await Promise.all(nodes.map((node) => node.audit.flush()));
    }
    // Every window's shared statement committed: none failed over to writing its batches alone (a deadlock would).
    for (const node of nodes) expect(node.inserts.shared).toHaveLength(5);
    for (const node of nodes) expect(node.inserts.batches).toEqual([]);
    for (const node of nodes) expect(node.audit.failedBackgroundEvents).toBe(0);
    for (const t of tenants) {
      expect(await t.db.auditEvent.count()).toBe(30);
      expect(await verifyAuditChain(t)).toMatchObject({ ok: true, rows: 30 });
    }
  });

  it('a window’s shared statement while the database is unreachable: every tenant keeps its rows and writes them once it is back', async () => {
    const [a, b] = [await app.createTenant(), await app.createTenant()];
    const timers = manualTimers();
    const logs = capturedLogs();
    let down = true;
    const tried = { shared: 0, alone: 0 };
    const audit = new AuditLog(app.services.db, app.services.clock, {
      logger: logs.logger,
      schedule: timers.schedule,
      isAvailable: async () => !down,
      insertRows: async (tenant, rows) => {
        tried.alone++;
        if (down) throw new Error('connection refused');
        await insertAuditRows(tenant, rows);
      },
      insertBatches: async (parts) => {
        tried.shared++;
        if (down) throw new Error('connection refused');
        await insertAuditBatches(app.services.db, parts);
      },
    });
    for (const [t, id] of [[a, 'a_0'], [b, 'b_0'], [a, 'a_1'], [b, 'b_1']] as const) await audit.recordInBackground(t, event(id));
    timers.fire(); // the window ends: the shared statement fails, then each tenant's own, and each backs off
    while (timers.armed().length < 2) await settled();
    expect(timers.armed()).toEqual([RETRY_FIRST_MS, RETRY_FIRST_MS]);
    expect(tried).toEqual({ shared: 1, alone: 2 });
    void audit.recordInBackground(a, event('a_2')); // queued behind the retry, in order
    down = false;
    timers.fire();
    await audit.flush();
    expect(await requestIds(a)).toEqual(['a_0', 'a_1', 'a_2']);
    expect(await requestIds(b)).toEqual(['b_0', 'b_1']);
    expect(audit.pendingBackgroundEvents).toBe(0);
    expect(audit.failedBackgroundEvents).toBe(0);
    for (const t of [a, b]) expect(await verifyAuditChain(t)).toMatchObject({ ok: true });
  });

  it('a clean server stop writes the pending background events before the database closes', async () => {
    const database = await openTestDatabase(kind);
    const port = await freePort();
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sso-bridge-audit-'));
    const config = loadConfig({ PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, DATA_DIR: dataDir, MASTER_KEY: testMasterKey(), NODE_ENV: 'test' });
    const steps: string[] = [];
    const insertRows = async (t: TenantCtx, rows: AuditRow[]) => {
      await insertAuditRows(t, rows);
      steps.push(`${rows.length} rows committed`);
    };
    // Linger timers that never fire: only the stop can write these events.
    const services = await createServices(config, { logger: pino({ level: 'silent' }), database, audit: { schedule: manualTimers().schedule, insertRows } });
    const server = await startServer(services, { port, host: '127.0.0.1', adminEndpoint: false });
    await createTenant(services.db, { slug: 'stopping', name: 'Stopping' });
    const t = (await findTenantBySlug(services.db, 'stopping'))!;
    void services.audit.recordInBackground(t, event('req_1'));
    void services.audit.recordInBackground(t, event('req_2'));
    const close = database.close.bind(database);
    database.close = async () => {
      steps.push(`database closed with ${await t.db.auditEvent.count()} rows`);
      await close();
    };
    await server.close(1000);
    expect(steps).toEqual(['2 rows committed', 'database closed with 2 rows']);
  });
});
