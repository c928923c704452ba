import type { EventBus } from '../revocation/event-bus.js';

const MAX_KEYS = 10_000;

type Known = { exhausted: true } | { exhausted: false; loadedAt: number };

/**
 * What this node knows of the rate-limit counters it has read (issue 17 §5, docs/decisions/0041): the token endpoint
 * checked the failure counters with a database read on every request, though a counter only grows within its window
 * and refusing needs just "has it reached its limit". A counter read below its limit is taken as still below until
 * the bus says otherwise: whichever node's count brings a counter to its limit publishes 'rate.exhausted' (all nodes
 * then refuse from memory until that window ends); 'bus.resumed' forgets everything; and a "below" entry is trusted
 * only as `EventBus.trusts` allows (so with the bus down, at most its trust bound). Each window is its own key, so a
 * new window is read once per node. Bounded: an entry dropped is read again, never assumed.
 */
export class RateView {
  readonly #keys = new Map<string, Known>();

  constructor(private readonly bus: EventBus) {
    bus.subscribe((event) => {
      if (event.type === 'rate.exhausted') this.#set(event.key, { exhausted: true });
      else if (event.type === 'bus.resumed') this.#keys.clear();
    });
  }

  /** true: at its limit; false: below it as far as this node may assume; undefined: the database must be read. */
  exhausted(key: string): boolean | undefined {
    const k = this.#keys.get(key);
    if (!k) return undefined;
    if (k.exhausted) return true;
    return this.bus.trusts(k.loadedAt) ? false : undefined;
  }

  /** Taken before a read: the instant its answers are "loaded at". */
  now(): number {
    return this.bus.now();
  }

  /** What a read found. A key marked exhausted meanwhile (an event during the read) stays exhausted. */
  read(key: string, atLimit: boolean, loadedAt: number): void {
    if (atLimit) this.#set(key, { exhausted: true });
    else if (!this.#keys.get(key)?.exhausted) this.#set(key, { exhausted: false, loadedAt });
  }

  /** This node's count brought the counter to its limit: every node refuses from now on (within the bus latency). */
  async reached(key: string): Promise<void> {
    if (this.#keys.get(key)?.exhausted) return;
    this.#set(key, { exhausted: true });
    await this.bus.publish({ type: 'rate.exhausted', key });
  }

  #set(key: string, k: Known) {
    this.#keys.delete(key);
    if (this.#keys.size >= MAX_KEYS) this.#keys.delete(this.#keys.keys().next().value!);
    this.#keys.set(key, k);
  }
}
