import type { TenantCtx } from '../tenants/tenant-context.js';
import { insertScimUsers, type ScimUserInsert } from './user-statements.js';

/** Creates of one tenant sent in one statement at most (bounds the statement's size and one batch's latency). */
export const MAX_CREATE_BATCH = 64;

type Outcome = 'created' | 'taken';

interface Pending {
  item: ScimUserInsert;
  resolve: (o: Outcome) => void;
  reject: (err: unknown) => void;
}

interface TenantQueue {
  t: TenantCtx;
  pending: Pending[];
  busy: boolean;
}

export type InsertUsers = (t: TenantCtx, items: ScimUserInsert[]) => Promise<Set<string>>;

/**
 * Group commit of SCIM creates per tenant (decision 0034). A tenant's audit chain lock is held until COMMIT, so its
 * creates commit one after another; here, while one statement of a tenant is in flight, the creates that arrive
 * queue, and the next statement carries all of them (up to {@link MAX_CREATE_BATCH}). At low load a batch is one
 * create, sent at once: nothing waits for a timer. Tenants never share a statement (the queue is per tenant id, and
 * the statement binds the tenant).
 *
 * - Two queued creates with the same userNameKey never share a batch: the later one waits for the next statement,
 *   where it meets the row the first one wrote (409) — exactly the one-by-one outcome.
 * - A batch of several that fails as a whole (anything but a conflict, which ON CONFLICT absorbs) is retried one by
 *   one, so one bad request cannot fail the others; a single create's failure is its own (as before batching).
 */
export class UserCreateBatcher {
  readonly #queues = new Map<string, TenantQueue>();

  constructor(
    private readonly insert: InsertUsers = insertScimUsers,
    private readonly maxBatch = MAX_CREATE_BATCH,
  ) {}

  /** Resolves 'created' once the user row and its audit event are committed, 'taken' if the userName was. */
  create(t: TenantCtx, item: ScimUserInsert): Promise<Outcome> {
    let q = this.#queues.get(t.id);
    if (!q) {
      q = { t, pending: [], busy: false };
      this.#queues.set(t.id, q);
    }
    const queue = q;
    const done = new Promise<Outcome>((resolve, reject) => queue.pending.push({ item, resolve, reject }));
    if (!queue.busy) void this.#drain(queue);
    return done;
  }

  async #drain(q: TenantQueue): Promise<void> {
    q.busy = true;
    try {
      while (q.pending.length) {
        const batch = takeBatch(q.pending, this.maxBatch);
        await this.#send(q.t, batch);
      }
    } finally {
      q.busy = false;
      if (!q.pending.length) this.#queues.delete(q.t.id);
    }
  }

  async #send(t: TenantCtx, batch: Pending[]): Promise<void> {
    let inserted: Set<string>;
    try {
      inserted = await this.insert(t, batch.map((p) => p.item));
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err);
        return;
      }
      for (const p of batch) await this.#send(t, [p]);
      return;
    }
    for (const p of batch) p.resolve(inserted.has(p.item.user.id) ? 'created' : 'taken');
  }
}

/** Takes up to `max` queued creates in arrival order, leaving a repeated userNameKey for the next batch. */
function takeBatch(pending: Pending[], max: number): Pending[] {
  const keys = new Set<string>();
  const batch: Pending[] = [];
  for (let i = 0; i < pending.length && batch.length < max; ) {
    const key = pending[i]!.item.user.cols.userNameKey;
    if (keys.has(key)) {
      i++;
      continue;
    }
    keys.add(key);
    batch.push(pending.splice(i, 1)[0]!);
  }
  return batch;
}
