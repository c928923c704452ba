// The population of the MCP population benchmark (bench/mcp-population.ts), deterministic for a seed: who is in which
// group, which group may call which tool, which user sends the next request and which tool they call, and the
// gateway's caches replayed over the requests sent (their hit rates).

/** mulberry32: a small seeded PRNG, so every run (and both paths of one run) sees the same population and requests. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const toolName = (i: number) => `t${String(i + 1).padStart(3, '0')}`;

export interface TenantDesign {
  /** Per group (index 0…groups-1; the last one is "platform"): the tool indices granted to it. */
  groupTools: number[][];
  /** Per user (index in the tenant): the group indices they belong to. */
  userGroups: number[][];
  /** Per user: the tool indices they may call (sorted). */
  userTools: number[][];
}

/**
 * One tenant: `everyone` tools approved for everyone, every other tool approved for 3 of the first groups-1 groups
 * (chosen at random); users in 1–3 of those groups, skewed so a few departments are large (index ⌊(g−1)·r²⌋); the
 * last group ("platform", 1 user in 100) is granted every tool, so its members list them all.
 */
export function designTenant(seed: number, users: number, groups: number, tools: number, everyone: number): TenantDesign {
  const r = prng(seed);
  const depts = groups - 1;
  const groupTools: number[][] = Array.from({ length: groups }, () => []);
  for (let tool = everyone; tool < tools; tool++) {
    const chosen = new Set<number>();
    while (chosen.size < Math.min(3, depts)) chosen.add(Math.floor(r() * depts));
    for (const g of chosen) groupTools[g]!.push(tool);
    groupTools[depts]!.push(tool);
  }
  const userGroups: number[][] = [];
  const userTools: number[][] = [];
  for (let u = 0; u < users; u++) {
    const mine = new Set<number>();
    const count = 1 + (r() < 0.5 ? 1 : 0) + (r() < 0.2 ? 1 : 0);
    while (mine.size < count) mine.add(Math.floor(depts * r() ** 2));
    if (u % 100 === 0) mine.add(depts);
    userGroups.push([...mine]);
    const visible = new Set<number>(Array.from({ length: everyone }, (_, i) => i));
    for (const g of mine) for (const tool of groupTools[g]!) visible.add(tool);
    userTools.push([...visible].sort((a, b) => a - b));
  }
  return { groupTools, userGroups, userTools };
}

/**
 * Picks users (0…n−1) by Zipf's law with exponent `s` (s = 0: uniform); which user has which rank is shuffled, so the
 * heavy users are spread over the tenants.
 */
export function userSampler(n: number, s: number, seed: number): () => number {
  const r = prng(seed);
  const rankToUser = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [rankToUser[i], rankToUser[j]] = [rankToUser[j]!, rankToUser[i]!];
  }
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) cdf[k] = sum += 1 / (k + 1) ** s;
  return () => {
    const x = r() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return rankToUser[lo]!;
  };
}

/**
 * A per-node cache as the gateway keeps it (insertion-ordered Map, the oldest entry out at `bound`, entries older than
 * `maxAgeMs` reloaded), replayed over the keys the load generator sent, at the times it sent them. The gateway's
 * caches have no counters, and with no events on the bus during the benchmark this replay is exact up to the moment
 * each request reaches the gateway.
 */
export class CacheReplay {
  readonly #loadedAt = new Map<number, number>();
  hits = 0;
  misses = 0;

  constructor(
    private readonly bound: number,
    private readonly maxAgeMs = Infinity,
  ) {}

  touch(key: number, now: number, count = true): void {
    const at = this.#loadedAt.get(key);
    if (at !== undefined && now - at < this.maxAgeMs) {
      if (count) this.hits++;
      return;
    }
    if (count) this.misses++;
    if (at !== undefined) this.#loadedAt.delete(key);
    if (this.#loadedAt.size >= this.bound) this.#loadedAt.delete(this.#loadedAt.keys().next().value!);
    this.#loadedAt.set(key, now);
  }

  reset(): void {
    this.hits = 0;
    this.misses = 0;
  }

  get rate(): number {
    return this.hits / Math.max(1, this.hits + this.misses);
  }
}
