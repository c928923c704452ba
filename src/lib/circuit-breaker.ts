import type { Clock } from './clock.js';

export interface BreakerOptions {
  /** Consecutive failures that open the circuit. */
  failures: number;
  /** How long an open circuit refuses calls before letting one probe through (half-open). */
  openMs: number;
}

export const defaultBreakerOptions: BreakerOptions = { failures: 5, openMs: 30_000 };

/** Thrown instead of calling a dependency whose circuit is open. */
export class CircuitOpenError extends Error {
  constructor(
    readonly key: string,
    readonly retryAfterMs: number,
  ) {
    super(`${key} is unavailable (circuit open); retrying in ${Math.ceil(retryAfterMs / 1000)} s`);
    this.name = 'CircuitOpenError';
  }
}

interface State {
  failures: number;
  /** Set while open: calls are refused until this time, then one probe is let through. */
  openUntil: number;
  probing: boolean;
}

/**
 * One circuit breaker per key (an upstream MCP server, an IdP issuer): after `failures` consecutive failures calls
 * fail fast for `openMs` instead of each waiting for a timeout; then one call probes (half-open) — success closes
 * the circuit, failure opens it again. Keys are independent, so a dead dependency does not slow down healthy ones.
 * Time comes from the injected clock (tests advance it instead of sleeping).
 */
export class CircuitBreakers {
  readonly #states = new Map<string, State>();

  constructor(
    private readonly clock: Clock,
    private readonly opts: BreakerOptions = defaultBreakerOptions,
    private readonly onOpen: (key: string) => void = () => {},
  ) {}

  /** Runs `fn` through the key's circuit; `isFailure` decides which errors count (a caller's abort does not). */
  async run<T>(key: string, fn: () => Promise<T>, isFailure: (err: unknown) => boolean = () => true): Promise<T> {
    const s = this.#states.get(key);
    let probe = false;
    if (s && s.openUntil > 0) {
      const now = this.clock.now().getTime();
      if (now < s.openUntil || s.probing) throw new CircuitOpenError(key, Math.max(0, s.openUntil - now));
      s.probing = probe = true;
    }
    try {
      const result = await fn();
      this.#states.delete(key);
      return result;
    } catch (err) {
      if (isFailure(err)) this.#failed(key, probe);
      else if (probe) this.#states.get(key)!.probing = false;
      throw err;
    }
  }

  #failed(key: string, probe: boolean): void {
    const s = this.#states.get(key) ?? { failures: 0, openUntil: 0, probing: false };
    s.failures++;
    s.probing = false;
    if (probe || s.failures >= this.opts.failures) {
      if (s.openUntil === 0 || probe) this.onOpen(key);
      s.openUntil = this.clock.now().getTime() + this.opts.openMs;
    }
    this.#states.set(key, s);
  }

  /** Whether calls to `key` are refused right now (open and not yet due for a probe). */
  isOpen(key: string): boolean {
    const s = this.#states.get(key);
    return !!s && s.openUntil > this.clock.now().getTime();
  }

  /** Whether the key's circuit has opened since its last success (open now, or due for / running its probe). */
  tripped(key: string): boolean {
    return (this.#states.get(key)?.openUntil ?? 0) > 0;
  }

  /** Circuits open now (for /metrics). */
  get openCount(): number {
    let n = 0;
    for (const key of this.#states.keys()) if (this.isOpen(key)) n++;
    return n;
  }
}
