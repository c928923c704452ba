import type { Logger } from 'pino';
import type { Db } from '../db/open-database.js';
import type { Clock } from '../lib/clock.js';

export interface Job {
  name: string;
  everyMs: number;
  run(): Promise<unknown>;
}

/**
 * Periodic tasks with a cross-node lease in the database (JobLease): on each tick a node runs a job only if it takes
 * the lease, so one node runs each job per period however many are up.
 */
export class JobRunner {
  readonly #jobs = new Map<string, Job>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #running = new Set<Promise<unknown>>();

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly owner: string,
  ) {}

  add(job: Job): void {
    if (this.#jobs.has(job.name)) throw new Error(`Job ${job.name} added twice`);
    this.#jobs.set(job.name, job);
  }

  start(): void {
    for (const job of this.#jobs.values()) {
      const timer = setInterval(() => void this.tick(job.name), job.everyMs);
      timer.unref();
      this.#timers.add(timer);
    }
  }

  async stop(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    this.#timers.clear();
    await Promise.allSettled([...this.#running]);
  }

  /**
   * Runs the job if this node gets its lease; returns whether it ran. Never throws: it runs from a timer, where a
   * rejection would be unhandled and end the process — and the database being unreachable for a moment (a restart, a
   * failover) must cost one tick, not the node.
   */
  async tick(name: string): Promise<boolean> {
    const job = this.#jobs.get(name);
    if (!job) return false;
    try {
      if (!(await this.tryLease(name, job.everyMs))) return false;
    } catch (err) {
      this.logger.warn({ err, job: name }, 'job lease not taken (database unreachable?); the next tick tries again');
      return false;
    }
    const run = job.run().then(
      async (result) => {
        this.logger.debug({ job: name, result }, 'job ran');
        await this.db.jobLease.updateMany({ where: { name, owner: this.owner }, data: { lastRunAt: this.clock.now() } });
      },
      (err: unknown) => this.logger.error({ err, job: name }, 'job failed'),
    ).catch((err: unknown) => this.logger.warn({ err, job: name }, 'job ran, but its last run time was not recorded'));
    this.#running.add(run);
    await run.finally(() => this.#running.delete(run));
    return true;
  }

  /** Takes (or renews) the lease for slightly less than one period, so the next tick anywhere can take it again. */
  async tryLease(name: string, periodMs: number): Promise<boolean> {
    const now = this.clock.now();
    const leasedUntil = new Date(now.getTime() + Math.max(periodMs - 1000, periodMs / 2));
    const { count } = await this.db.jobLease.updateMany({
      where: { name, leasedUntil: { lte: now } },
      data: { owner: this.owner, leasedUntil },
    });
    if (count === 1) return true;
    const created = await this.db.jobLease.createMany({ data: [{ name, owner: this.owner, leasedUntil }], skipDuplicates: true });
    return created.count === 1;
  }
}
