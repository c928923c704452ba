import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/open-database.js';
import { cleanupExpired } from '../../src/jobs/cleanup-expired.js';
import { JobRunner } from '../../src/jobs/job-runner.js';
import { ManualClock } from '../../src/lib/clock.js';
import { openTestDatabase, testDbKinds } from '../support/databases.js';

describe.each(testDbKinds)('job runner (%s)', (kind) => {
  let database: Database;
  beforeAll(async () => {
    database = await openTestDatabase(kind);
  });
  afterAll(() => database?.close());

  it('runs each job on one node per period, and on another once the lease lapses', async () => {
    const clock = new ManualClock('2026-05-01T00:00:00Z');
    const logger = pino({ level: 'silent' });
    const runs: string[] = [];
    const nodes = ['node-a', 'node-b'].map((owner) => {
      const r = new JobRunner(database.prisma, clock, logger, owner);
      r.add({ name: 'report', everyMs: 60_000, run: async () => runs.push(owner) });
      return r;
    });
    const first = await Promise.all(nodes.map((n) => n.tick('report')));
    expect(first.filter(Boolean)).toHaveLength(1);
    expect(runs).toHaveLength(1);
    // Still inside the lease: nobody runs it again.
    clock.advance(30_000);
    expect((await Promise.all(nodes.map((n) => n.tick('report')))).filter(Boolean)).toHaveLength(0);
    clock.advance(31_000);
    expect(await nodes[1]!.tick('report')).toBe(true);
    expect(await nodes[0]!.tick('report')).toBe(false);
    expect(runs).toHaveLength(2);
  });

  it('never runs a job twice at once: a run outlasting its period keeps the lease, here and on other nodes, until it ends', async () => {
    const clock = new ManualClock('2026-05-02T00:00:00Z');
    const logger = pino({ level: 'silent' });
    let running = 0;
    let most = 0;
    let runs = 0;
    let finish!: () => void;
    const nodes = ['node-a', 'node-b'].map((owner) => {
      const r = new JobRunner(database.prisma, clock, logger, owner);
      r.add({
        name: 'slow-sync',
        everyMs: 60_000,
        run: async () => {
          runs++;
          most = Math.max(most, ++running);
          await new Promise<void>((resolve) => (finish = resolve));
          running--;
        },
      });
      return r;
    });
    const first = nodes[0]!.tick('slow-sync'); // runs, and does not end yet
    await expect.poll(() => runs).toBe(1);
    for (let i = 0; i < 8; i++) {
      clock.advance(60_000); // eight periods: each tick of the running node renews its lease
      expect(await nodes[0]!.tick('slow-sync')).toBe(false);
      expect(await nodes[1]!.tick('slow-sync')).toBe(false);
    }
    expect(most).toBe(1);
    finish();
    await expect(first).resolves.toBe(true);
    // Over: the lease was released to one period after the start, long past; the next tick anywhere runs it.
    const second = nodes[1]!.tick('slow-sync');
    await expect.poll(() => runs).toBe(2);
    finish();
    await expect(second).resolves.toBe(true);
    expect(most).toBe(1);
  });

  it('survives an unreachable database: the tick is skipped and logged, never an unhandled rejection', async () => {
    const clock = new ManualClock('2026-05-03T00:00:00Z');
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line).msg as string) });
    const down = new Error('DatabaseNotReachable');
    // The lease query fails as Prisma does while PostgreSQL restarts (P1001); the job must not run.
    const unreachable = { jobLease: { updateMany: () => Promise.reject(down), createMany: () => Promise.reject(down) } } as unknown as Database['prisma'];
    let ran = 0;
    const runner = new JobRunner(unreachable, clock, logger, 'node-a');
    runner.add({ name: 'report', everyMs: 5_000, run: async () => ran++ });
    await expect(runner.tick('report')).resolves.toBe(false);
    expect(ran).toBe(0);
    expect(warnings.some((m) => m.startsWith('job lease not taken'))).toBe(true);
    // The lease was taken, the job ran, but recording its run failed (the database went away meanwhile).
    let calls = 0;
    const flaky = { jobLease: { updateMany: () => (calls++ === 0 ? Promise.resolve({ count: 1 }) : Promise.reject(down)) } } as unknown as Database['prisma'];
    const second = new JobRunner(flaky, clock, logger, 'node-b');
    second.add({ name: 'report', everyMs: 5_000, run: async () => ran++ });
    await expect(second.tick('report')).resolves.toBe(true);
    expect(ran).toBe(1);
    expect(warnings.some((m) => m.startsWith('job ran, but its last run time was not recorded'))).toBe(true);
  });

  it('cleans up expired rows and keeps live ones', async () => {
    const clock = new ManualClock('2026-05-02T00:00:00Z');
    const now = clock.now().getTime();
    await database.prisma.replayGuard.createMany({
      data: [
        { scope: 'saml-assertion', key: 'old', expiresAt: new Date(now - 1000) },
        { scope: 'saml-assertion', key: 'live', expiresAt: new Date(now + 60_000) },
      ],
    });
    const result = await cleanupExpired(database.prisma, clock);
    expect(result.replay).toBeGreaterThanOrEqual(1);
    const left = await database.prisma.replayGuard.findMany({ where: { scope: 'saml-assertion' } });
    expect(left.map((r) => r.key)).toEqual(['live']);
  });
});
