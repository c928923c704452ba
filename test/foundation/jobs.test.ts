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
