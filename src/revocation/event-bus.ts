import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Listening, RawConnection } from '../db/open-database.js';

/** Cache-invalidation events shared by every node serving the same database. */
export type BusEvent =
  | { type: 'user.revoked'; tenantId: string; userId: string }
  | { type: 'user.changed'; tenantId: string; userId: string }
  /** One group change set (src/scim): the users whose memberships changed, or null = too many to list, any user. */
  | { type: 'members.changed'; tenantId: string; userIds: string[] | null }
  | { type: 'tenant.changed'; tenantId: string }
  | { type: 'scim-token.revoked'; tenantId: string; tokenId: string }
  | { type: 'tools.changed'; tenantId: string }
  | { type: 'grant.revoked'; tenantId: string; grantId: string }
  /** One access token (its `jti`) revoked through RFC 7009 (src/oauth/revoke-access-token.ts); its grant lives on. */
  | { type: 'token.revoked'; tenantId: string; tokenId: string }
  /** An MCP client cancelled an in-flight tools/call that may be running on another node (src/mcp). */
  | { type: 'mcp.cancelled'; tenantId: string; callKey: string }
  /** A user's connection to a per-user upstream changed (tokens refreshed, reconnected, disconnected): src/upstream-auth. */
  | { type: 'upstream-connection.changed'; tenantId: string; userId: string; upstreamId: string }
  /** An MCP client's answer to a relayed elicitation or sampling request whose call may run on another node (src/mcp). */
  | { type: 'mcp.response'; tenantId: string; key: string; message: string }
  /** An upstream resource a client subscribed to (through any node) changed: to that client's GET stream (src/mcp). */
  | { type: 'mcp.resource.updated'; tenantId: string; userId: string; sessionId: string; uri: string }
  /** A client unsubscribed (on any node): the node holding the subscription drops it (src/tools/resource-subscriptions.ts). */
  | { type: 'mcp.resource.unsubscribed'; tenantId: string; userId: string; sessionId: string; uri: string }
  /** A client's `logging/setLevel` (on any node): relayed log messages of its calls are filtered by it (src/mcp). */
  | { type: 'mcp.log-level'; tenantId: string; sessionId: string; level: string }
  /** The gateway asked a client session to open a connect page (URL elicitation, -32042): src/mcp/pending-elicitations.ts. */
  | { type: 'mcp.elicitation.pending'; tenantId: string; userId: string; upstreamId: string; sessionId: string; elicitationId: string }
  /**
   * An upstream announced that its prompts or resources changed (src/tools/upstream-list-changes.ts): the GET streams
   * of the users who may see that upstream's content relay it. `userId` set: only that user's list (a per-user session).
   */
  | { type: 'mcp.content.list-changed'; tenantId: string; upstreamId: string; userId: string | null; kind: 'prompts' | 'resources' }
  /** A rate-limit counter (its window's key, which names the tenant) reached its limit: every node refuses (src/http/rate-view.ts). */
  | { type: 'rate.exhausted'; tenantId?: undefined; key: string };

/**
 * What subscribers hear: the events above, plus `bus.resumed` — this node's LISTEN connection is back after a gap in
 * which notifications may have been lost, so "anything may have changed": every cache drops everything. Local only.
 */
export type BusSignal = BusEvent | { type: 'bus.resumed'; tenantId?: undefined };

type Listener = (event: BusSignal) => void;

export type BusState = 'stopped' | 'connecting' | 'listening' | 'down';

export interface BusOptions {
  /** Monotonic milliseconds (tests inject a manual one). */
  now?: () => number;
  /** A cache entry is never trusted longer than this after the bus last proved it was listening. */
  trustMs?: number;
  heartbeatMs?: number;
  /** First and largest reconnect delay; the delay doubles between them, with jitter. */
  backoffMs?: [first: number, max: number];
}

const CHANNEL = 'sso_bridge_events';
/** How long a node may serve from a cache without proof that no invalidation was missed (docs/operations.md). */
export const CACHE_TRUST_MS = 5_000;

/**
 * Local listeners hear an event at once; other nodes hear it through PostgreSQL LISTEN/NOTIFY (no extra
 * infrastructure; delivery is typically a few milliseconds). Events from this node are not delivered twice.
 *
 * The LISTEN connection can die (PostgreSQL restart, `pg_terminate_backend`, a network cut). The bus then reconnects
 * with backoff, LISTENs again and tells its subscribers `bus.resumed`, because notifications sent in the gap are lost
 * for good. Caches ask {@link trusts} before serving an entry: while the bus is listening and a heartbeat on the
 * LISTEN connection succeeded within {@link CACHE_TRUST_MS}, every entry loaded since the last resume is good; otherwise
 * only entries loaded within the last {@link CACHE_TRUST_MS} are (so a missed revocation is obeyed within that bound).
 * PGlite is one process, so its bus is always listening.
 */
export class EventBus {
  readonly nodeId = randomUUID();
  readonly #listeners = new Set<Listener>();
  readonly #now: () => number;
  readonly #trustMs: number;
  readonly #heartbeatMs: number;
  readonly #backoff: [number, number];
  #state: BusState = 'stopped';
  #listening: Listening | undefined;
  /** Bumped per connection attempt and loss, so a late callback of an old connection changes nothing. */
  #generation = 0;
  /** Entries loaded before this instant predate the last gap. */
  #resumedAt = -Infinity;
  /** Start of the last heartbeat that succeeded: every notification committed before it has been received. */
  #provenAt = -Infinity;
  #downSince = 0;
  #timer: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(
    private readonly raw: RawConnection,
    private readonly logger: Logger,
    opts: BusOptions = {},
  ) {
    this.#now = opts.now ?? (() => performance.now());
    this.#trustMs = opts.trustMs ?? CACHE_TRUST_MS;
    this.#heartbeatMs = opts.heartbeatMs ?? 1_000;
    this.#backoff = opts.backoffMs ?? [100, 5_000];
  }

  get state(): BusState {
    return this.#state;
  }

  /** Monotonic time for cache entries' `loadedAt`. */
  now(): number {
    return this.#now();
  }

  /** Whether a cache entry loaded at `loadedAt` (from {@link now}) may still be served. */
  trusts(loadedAt: number): boolean {
    const now = this.#now();
    if (this.raw.inProcess) return true;
    if (this.#state === 'listening' && loadedAt >= this.#resumedAt && now - this.#provenAt < this.#trustMs) return true;
    return now - loadedAt < this.#trustMs;
  }

  /** First connection attempt; if it fails the bus keeps retrying in the background (and /readyz says so). */
  async start(): Promise<void> {
    if (this.#state !== 'stopped') return;
    this.#state = 'connecting';
    this.#downSince = this.#now();
    await this.#connect(0);
    if (!this.raw.inProcess) {
      this.#heartbeat = setInterval(() => void this.#beat(), this.#heartbeatMs);
      this.#heartbeat.unref();
    }
  }

  async stop(): Promise<void> {
    this.#state = 'stopped';
    this.#generation++;
    clearTimeout(this.#timer);
    clearInterval(this.#heartbeat);
    const listening = this.#listening;
    this.#listening = undefined;
    await listening?.close();
  }

  /** Whether this node currently listens for other nodes' events (reported by /metrics). */
  get listening(): boolean {
    return this.#state === 'listening';
  }

  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Delivers locally, then NOTIFYs other nodes, retrying briefly (a pooled connection may be one PostgreSQL just
   * killed). Never rejects: a failure is logged (other nodes then rely on their trust bound).
   */
  async publish(event: BusEvent): Promise<void> {
    await this.#publish(event);
  }

  /** As {@link publish}, but rejects when other nodes could not be told (revocation must then be retried). */
  async publishOrThrow(event: BusEvent): Promise<void> {
    if (!(await this.#publish(event))) throw new Error(`could not notify other nodes of ${event.type}`);
  }

  /**
   * For a write that sends its notification in its own SQL statement (`pg_notify(channel, payload)`), so other nodes
   * hear it exactly when the write commits and no separate NOTIFY round trip and commit is needed (decision 0034).
   * After the statement succeeds, call {@link deliverLocally}.
   */
  notification(event: BusEvent): { channel: string; payload: string } {
    return { channel: CHANNEL, payload: JSON.stringify({ origin: this.nodeId, event }) };
  }

  /** This node's listeners hear an event whose NOTIFY went out with its write ({@link notification}). */
  deliverLocally(event: BusEvent): void {
    this.#deliver(event);
  }

  async #publish(event: BusEvent): Promise<boolean> {
    this.#deliver(event);
    // NOTIFY payloads are limited to 8000 bytes; events are ids only.
    const payload = JSON.stringify({ origin: this.nodeId, event });
    for (let attempt = 0; ; attempt++) {
      try {
        await this.raw.notify(CHANNEL, payload);
        return true;
      } catch (err) {
        if (attempt >= 2) {
          this.logger.error({ err, event: event.type }, 'could not notify other nodes');
          return false;
        }
        await delay(100 * 4 ** attempt);
      }
    }
  }

  async #connect(attempt: number): Promise<void> {
    if (this.#stopped()) return;
    const generation = ++this.#generation;
    try {
      const listening = await this.raw.listen(CHANNEL, (payload) => this.#onPayload(payload), (err) => this.#lost(generation, err));
      if (this.#stopped() || generation !== this.#generation) {
        await listening.close();
        return;
      }
      this.#listening = listening;
      const wasDown = this.#state === 'down';
      this.#state = 'listening';
      // Whatever was loaded before this instant may have missed a notification of the gap.
      this.#resumedAt = this.#provenAt = this.#now();
      if (wasDown) {
        this.logger.warn({ downMs: Math.round(this.#resumedAt - this.#downSince) }, 'event bus listening again; dropped every cache on this node');
        this.#deliver({ type: 'bus.resumed' });
      }
    } catch (err) {
      if (this.#stopped() || generation !== this.#generation) return;
      if (this.#state !== 'down') {
        this.#state = 'down';
        this.logger.error({ err }, `event bus could not LISTEN; caches are trusted for at most ${this.#trustMs} ms until it is back`);
      }
      this.#retry(attempt + 1);
    }
  }

  /** The LISTEN connection of `generation` died (or stopped answering): reconnect at once, then with backoff. */
  #lost(generation: number, err: Error): void {
    if (this.#state === 'stopped' || generation !== this.#generation) return;
    this.#generation++;
    const listening = this.#listening;
    this.#listening = undefined;
    if (this.#state !== 'down') {
      this.#state = 'down';
      this.#downSince = this.#now();
      this.logger.error({ err }, `event bus lost its LISTEN connection; caches are trusted for at most ${this.#trustMs} ms until it is back`);
    }
    void listening?.close();
    this.#retry(0);
  }

  #retry(attempt: number): void {
    clearTimeout(this.#timer);
    const [first, max] = this.#backoff;
    const ms = Math.min(max, first * 2 ** attempt) * (0.75 + Math.random() * 0.5);
    this.#timer = setTimeout(() => void this.#connect(attempt), ms);
    this.#timer.unref();
  }

  async #beat(): Promise<void> {
    const listening = this.#listening;
    if (this.#state !== 'listening' || !listening) return;
    const generation = this.#generation;
    const started = this.#now();
    try {
      await withTimeout(listening.ping(), Math.max(1_000, this.#trustMs / 2));
      if (generation === this.#generation) this.#provenAt = started;
    } catch (err) {
      this.#lost(generation, err as Error);
    }
  }

  #stopped(): boolean {
    return this.#state === 'stopped';
  }

  #onPayload(payload: string): void {
    try {
      const { origin, event } = JSON.parse(payload) as { origin: string; event: BusEvent };
      if (origin !== this.nodeId) this.#deliver(event);
    } catch (err) {
      this.logger.warn({ err }, 'ignored a malformed bus event');
    }
  }

  #deliver(event: BusSignal): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (err) {
        this.logger.error({ err, event: event.type }, 'bus listener failed');
      }
    }
  }
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
