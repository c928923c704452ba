import type { Logger } from 'pino';
import type { Db } from '../db/open-database.js';
import type { Clock } from '../lib/clock.js';

export interface Job {
  name: string;
  everyMs: number;
  run(): Promise<unknown>;
}

/**
 * How long a running job's lease lasts past the owner's last sign of life: a run holds its lease while it lasts (each
 * tick of its node during the run renews it), so no node starts a second copy; a node that dies mid-run is replaced
 * this long after its last renewal.
 */
export const RUNNING_LEASE_MS = 5 * 60_000;

/**
 * Periodic tasks with a cross-node lease in the database (JobLease): on each tick a node runs a job only if it takes
 * the lease, so one node runs each job per period however many are up — and never while a run of it is still going,
 * here or on another node.
 */
export class JobRunner {
  readonly #jobs = new Map<string, Job>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #running = new Set<Promise<unknown>>();
  /** Jobs this node is running now. */
  readonly #busy = new Set<string>();

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
    if (this.#busy.has(name)) {
      // Still running from an earlier tick: keep its lease alive instead of starting a second copy.
      await this.db.jobLease
        .updateMany({ where: { name, owner: this.owner }, data: { leasedUntil: new Date(this.clock.now().getTime() + RUNNING_LEASE_MS) } })
        .catch((err: unknown) => this.logger.warn({ err, job: name }, 'running job lease not renewed'));
      return false;
    }
    this.#busy.add(name);
    const started = this.clock.now().getTime();
    let leased = false;
    try {
      leased = await this.tryLease(name);
    } catch (err) {
      this.logger.warn({ err, job: name }, 'job lease not taken (database unreachable?); the next tick tries again');
    }
    if (!leased) {
      this.#busy.delete(name);
      return false;
    }
    // Slightly less than one period after the start, so the next tick anywhere can take it again once the run is over.
    const release = new Date(started + Math.max(job.everyMs - 1000, job.everyMs / 2));
    const run = job
      .run()
      .then(
        (result) => (this.logger.debug({ job: name, result }, 'job ran'), true),
        (err: unknown) => (this.logger.error({ err, job: name }, 'job failed'), false),
      )
      .then((ok) => this.db.jobLease.updateMany({ where: { name, owner: this.owner }, data: { leasedUntil: release, ...(ok && { lastRunAt: this.clock.now() }) } }))
      .catch((err: unknown) => this.logger.warn({ err, job: name }, 'job ran, but its last run time was not recorded'));
    this.#running.add(run);
    await run.finally(() => {
      this.#running.delete(run);
      this.#busy.delete(name);
    });
    return true;
  }

  /** Takes the lease for a run: held until the run ends (then released to one period after its start). */
  async tryLease(name: string): Promise<boolean> {
    const now = this.clock.now();
    const leasedUntil = new Date(now.getTime() + RUNNING_LEASE_MS);
    const { count } = await this.db.jobLease.updateMany({
      where: { name, leasedUntil: { lte: now } },
      data: { owner: this.owner, leasedUntil },
    });
    if (count === 1) return true;
    const created = await this.db.jobLease.createMany({ data: [{ name, owner: this.owner, leasedUntil }], skipDuplicates: true });
    return created.count === 1;
  }
}
