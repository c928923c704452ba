import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import type { ConnectorRow } from '../connector-store.js';
import { requestGoogleToken, type GoogleAccessToken } from './google-token.js';
import { connectorKey } from './publisher-key.js';

/** A token is used until this long before it expires, so no call starts with one that dies in flight. */
const EXPIRY_MARGIN_MS = 120_000;
const MAX_ENTRIES = 10_000;

interface Entry {
  tenantId: string;
  /** Our user the token acts for (directory sync: 'directory-sync'). */
  userId: string;
  token: Promise<GoogleAccessToken>;
}

/**
 * Google access tokens per (tenant, connector version, impersonated user, scope set), kept until shortly before they
 * expire: a token request signs a JWT and costs Google a round trip, and Google rate-limits them. Concurrent misses
 * share one request. Dropped for a user when they are revoked, and for a tenant when its tools change (connector
 * removed or replaced), so a cached token never outlives the access it stood for.
 */
export class GoogleTokenCache {
  readonly #entries = new Map<string, Entry>();

  constructor(private readonly s: Pick<Services, 'bus' | 'clock' | 'vault' | 'egress'>) {
    s.bus.subscribe((e) => {
      if (e.type === 'tools.changed' || e.type === 'tenant.changed') this.#drop((x) => x.tenantId === e.tenantId);
      else if (e.type === 'user.revoked') this.#drop((x) => x.tenantId === e.tenantId && x.userId === e.userId);
      // Notifications may have been lost while this node was not listening: anything may have changed.
      else if (e.type === 'bus.resumed') this.#drop(() => true);
    });
  }

  async get(t: TenantCtx, connector: ConnectorRow, userId: string, subject: string, scopes: readonly string[], signal?: AbortSignal): Promise<GoogleAccessToken> {
    const key = this.#key(t, connector, subject, scopes);
    const hit = this.#entries.get(key);
    if (hit) {
      const token = await hit.token.catch(() => null);
      if (token && token.expiresAt.getTime() - EXPIRY_MARGIN_MS > this.s.clock.now().getTime()) return token;
      if (this.#entries.get(key) === hit) this.#entries.delete(key);
    }
    if (this.#entries.size >= MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value!);
    const entry: Entry = { tenantId: t.id, userId, token: this.#request(t, connector, subject, scopes, signal) };
    this.#entries.set(key, entry);
    entry.token.catch(() => {
      if (this.#entries.get(key) === entry) this.#entries.delete(key);
    });
    return entry.token;
  }

  /** Drops one cached token (Google answered 401 to it: revoked or expired early), so the next call asks for a new one. */
  forget(t: TenantCtx, connector: ConnectorRow, subject: string, scopes: readonly string[]): void {
    this.#entries.delete(this.#key(t, connector, subject, scopes));
  }

  #key(t: TenantCtx, connector: ConnectorRow, subject: string, scopes: readonly string[]): string {
    return [t.id, connector.id, connector.updatedAt.getTime(), subject, [...scopes].sort().join(' ')].join('\u0000');
  }

  get size(): number {
    return this.#entries.size;
  }

  #drop(match: (e: Entry) => boolean): void {
    for (const [key, entry] of this.#entries) if (match(entry)) this.#entries.delete(key);
  }

  async #request(t: TenantCtx, connector: ConnectorRow, subject: string, scopes: readonly string[], signal?: AbortSignal) {
    const key = await connectorKey(this.s.vault, t, connector);
    return requestGoogleToken(key, subject, scopes, this.s.clock, this.s.egress.fetch, signal);
  }
}

/** Retry policy of Google API calls (tests shorten the delays; production keeps the defaults). */
export interface GoogleRetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface GoogleRuntime {
  tokens: GoogleTokenCache;
  retry: GoogleRetryPolicy;
}

const runtimes = new WeakMap<object, GoogleRuntime>();

/** The node's Google token cache and retry policy for these services (one per bus, like the callable-tools cache). */
export function googleRuntime(s: Pick<Services, 'bus' | 'clock' | 'vault' | 'egress'>): GoogleRuntime {
  let r = runtimes.get(s.bus);
  if (!r) {
    r = { tokens: new GoogleTokenCache(s), retry: { attempts: 3, baseDelayMs: 500, maxDelayMs: 8_000 } };
    runtimes.set(s.bus, r);
  }
  return r;
}
