import { isIP } from 'node:net';
import type { Response } from 'express';
import { hotQuery, statement } from '../db/hot-sql.js';
import type { Db } from '../db/open-database.js';
import type { Clock } from '../lib/clock.js';
import type { RateView } from './rate-view.js';

/** At most `limit` counted events per fixed window of `windowMs`, per key. */
export interface RateRule {
  name: string;
  limit: number;
  windowMs: number;
}

export type RateVerdict = { ok: true } | { ok: false; rule: string; retryAfterS: number };

const MIN = 60_000;

/**
 * The limits on unauthenticated endpoints that write rows (issue 8 §6). `net` rules count per (tenant, client
 * network), `tenant` rules per tenant: one network cannot fill a tenant's tables, and many networks together are
 * bounded by the tenant-wide cap (a short window, so a flood only delays the tenant's own failures briefly).
 */
export const rateRules = {
  dcrNet: { name: 'dcr.net', limit: 20, windowMs: 10 * MIN },
  dcrTenant: { name: 'dcr.tenant', limit: 100, windowMs: 10 * MIN },
  tokenFailNet: { name: 'token-fail.net', limit: 60, windowMs: 10 * MIN },
  tokenFailTenant: { name: 'token-fail.tenant', limit: 600, windowMs: MIN },
  ssoFailNet: { name: 'sso-fail.net', limit: 30, windowMs: 10 * MIN },
  ssoFailTenant: { name: 'sso-fail.tenant', limit: 300, windowMs: MIN },
  // Starts of a browser or device flow by someone not signed in: each writes a row (LoginState for an SSO login,
  // oidc-provider's Interaction for /authorize, a DeviceCode). Generous per network (an office behind one NAT address
  // signs in through it), and the tenant-wide cap above what one network may do in its window.
  startNet: { name: 'start.net', limit: 600, windowMs: 10 * MIN },
  startTenant: { name: 'start.tenant', limit: 3000, windowMs: MIN },
  // Universal Logout and Shared Signals requests that fail authentication: each writes a row of the tenant's
  // append-only audit chain (and its SIEM stream), and anyone who knows a slug can send them.
  idpSignalFailNet: { name: 'idp-signal-fail.net', limit: 30, windowMs: 10 * MIN },
  idpSignalFailTenant: { name: 'idp-signal-fail.tenant', limit: 300, windowMs: MIN },
  // Operator sign-in (/operator): failed attempts per client network, and across all networks (deployment-wide).
  operatorFailNet: { name: 'operator-fail.net', limit: 10, windowMs: 10 * MIN },
  operatorFailAll: { name: 'operator-fail.all', limit: 100, windowMs: 10 * MIN },
  // Self-service sign-up (/signup, SIGNUP_POLICY open or approval): each creates a tenant with its keys, per client
  // network and deployment-wide (no tenant exists yet to count under).
  signupNet: { name: 'signup.net', limit: 10, windowMs: 60 * MIN },
  signupAll: { name: 'signup.all', limit: 200, windowMs: 60 * MIN },
  // Catalog install starts (Entra "Add to Entra", Google Marketplace launch): each stores a state row for 10 minutes,
  // before anyone signed in; per client network, and deployment-wide as a bound on the table.
  installStartNet: { name: 'install-start.net', limit: 60, windowMs: 10 * MIN },
  installStartAll: { name: 'install-start.all', limit: 6000, windowMs: 10 * MIN },
} satisfies Record<string, RateRule>;

/**
 * The network a client address is counted under: an IPv4 address as is (IPv4-mapped IPv6 unwrapped), an IPv6
 * address by its /64 — one host or site usually holds a whole /64, so counting single addresses would let it rotate
 * through 2^64 keys.
 */
export function clientNetwork(ip: string | undefined): string {
  if (!ip) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (isIP(ip) !== 6) return ip;
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => parseInt(g || '0', 16).toString(16)).join(':')}::/64`;
}

/** The counters of one check, on the driver (src/db/hot-sql.ts): the token endpoint reads them on every request. */
const COUNTERS = statement('rate_counters', `SELECT "key", "count" FROM "RateLimitCounter" WHERE "key" = ANY($1::text[])`);

/**
 * Fixed-window counters in the database (`RateLimitCounter`, docs/decisions/0013): every node counts against the same
 * row, so a limit holds across nodes; the embedded database has one process, where the same code is simply local.
 * One read per check (all its rules at once); a counted event adds one upsert per rule (INSERT … ON CONFLICT DO
 * UPDATE, atomic).
 */
export class RateLimiter {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    /** Lets `check` answer from what this node knows (rate-view.ts); `hit` always reads and teaches it. */
    private readonly view?: RateView,
  ) {}

  #window(rule: RateRule, scope: string) {
    const now = this.clock.now().getTime();
    const index = Math.floor(now / rule.windowMs);
    const end = (index + 1) * rule.windowMs;
    return { key: `${rule.name}|${scope}|${index}`, expiresAt: new Date(end), retryAfterS: Math.max(1, Math.ceil((end - now) / 1000)) };
  }

  /**
   * Whether the next event would be within every rule (counts nothing). With a view, from memory when it knows every
   * counter (no statement); otherwise one read for all the rules' counters.
   */
  async check(checks: [RateRule, string][]): Promise<RateVerdict> {
    const windows = checks.map(([rule, scope]) => ({ rule, w: this.#window(rule, scope) }));
    if (this.view) {
      const known = windows.map(({ w }) => this.view!.exhausted(w.key));
      if (!known.includes(undefined)) return verdict(windows, (_, i) => known[i] === true);
    }
    return this.#read(windows);
  }

  async #read(windows: { rule: RateRule; w: { key: string; retryAfterS: number } }[]): Promise<RateVerdict> {
    const loadedAt = this.view?.now();
    const rows = await hotQuery<{ key: string; count: number }>(this.db, COUNTERS, [windows.map((x) => x.w.key)]);
    const counts = new Map(rows.map((r) => [r.key, r.count]));
    const atLimit = ({ rule, w }: (typeof windows)[number]) => (counts.get(w.key) ?? 0) >= rule.limit;
    if (this.view) for (const x of windows) this.view.read(x.w.key, atLimit(x), loadedAt!);
    return verdict(windows, atLimit);
  }

  /**
   * Counts one event, rules in the caller's order — narrowest scope first (client network, then tenant) — and refuses
   * when a rule is over its limit. A refused event counts nowhere and writes nothing: a rule already at its limit is
   * seen by one read before any write, and a rule pushed over its limit stops the counting of the broader rules after
   * it. Otherwise one network's refused requests would use up its tenant's budget (a single source could then lock
   * every other network out), and a flood from ever new networks would write a counter row per network after the
   * tenant-wide cap was reached. A count that reaches a limit is told to the view (every node's, through the bus).
   */
  async hit(checks: [RateRule, string][]): Promise<RateVerdict> {
    const already = await this.#read(checks.map(([rule, scope]) => ({ rule, w: this.#window(rule, scope) })));
    if (!already.ok) return already;
    for (const [rule, scope] of checks) {
      const w = this.#window(rule, scope);
      const row = await this.db.rateLimitCounter.upsert({
        where: { key: w.key },
        create: { key: w.key, count: 1, expiresAt: w.expiresAt },
        update: { count: { increment: 1 } },
        select: { count: true },
      });
      if (row.count >= rule.limit) await this.view?.reached(w.key);
      if (row.count > rule.limit) return { ok: false, rule: rule.name, retryAfterS: w.retryAfterS };
    }
    return { ok: true };
  }

  /** Deletes counters whose window has passed (a job). */
  async sweep() {
    const { count } = await this.db.rateLimitCounter.deleteMany({ where: { expiresAt: { lt: this.clock.now() } } });
    return { rateLimitCounters: count };
  }
}

/** In the rules' order: the first rule over its limit is the one reported. */
function verdict<W extends { rule: RateRule; w: { retryAfterS: number } }>(windows: W[], over: (x: W, i: number) => boolean): RateVerdict {
  for (const [i, x] of windows.entries()) if (over(x, i)) return { ok: false, rule: x.rule.name, retryAfterS: x.w.retryAfterS };
  return { ok: true };
}

/** The pair of rules every limited endpoint applies: per (tenant, client network) and per tenant. */
export const tenantAndNetwork = (net: RateRule, tenant: RateRule, tenantId: string, ip: string | undefined): [RateRule, string][] => [
  [net, `${tenantId}|${clientNetwork(ip)}`],
  [tenant, tenantId],
];

/** 429 with Retry-After (RFC 6585 §4, RFC 9110 §10.2.3); the body is the caller's protocol's error format. */
export function tooManyRequests(res: Response, verdict: Extract<RateVerdict, { ok: false }>): Response {
  return res.status(429).set('Retry-After', String(verdict.retryAfterS));
}
