import type { EventBus } from '../revocation/event-bus.js';

/** How long a connect elicitation waits for the user (the connect flow's own state lives 10 minutes). */
const TTL_MS = 15 * 60_000;
/** Elicitations a node remembers at most (oldest forgotten first: their completion is then not announced). */
const MAX_PENDING = 10_000;

interface Pending {
  key: string;
  elicitationId: string;
  at: number;
}

/**
 * URL-mode elicitations the gateway asked for (the `-32042` connect step of a per-user upstream) that may still
 * complete. MCP 2025-11-25 "Elicitation": a server MAY send `notifications/elicitation/complete` when the out-of-band
 * interaction ends. The transport is stateless: the elicitation is announced on the bus (`mcp.elicitation.pending`)
 * to every node, each remembers it in memory for the client's session, and the node holding that session's GET
 * stream announces completion when the user's connection to that upstream becomes usable (watch-stream.ts).
 */
export class PendingElicitations {
  /** By (tenant, user, upstream, session). */
  readonly #pending = new Map<string, Pending[]>();
  #count = 0;

  constructor(
    bus: Pick<EventBus, 'subscribe'>,
    private readonly now: () => number = Date.now,
  ) {
    bus.subscribe((e) => {
      if (e.type === 'mcp.elicitation.pending') this.#add(keyOf(e.tenantId, e.userId, e.upstreamId, e.sessionId), e.elicitationId);
      else if (e.type === 'user.revoked') this.#dropWhere((k) => k.startsWith(JSON.stringify([e.tenantId, e.userId]).slice(0, -1)));
    });
  }

  /** Whether this session waits for a connection of the user to this upstream. */
  has(tenantId: string, userId: string, upstreamId: string, sessionId: string): boolean {
    return this.#live(keyOf(tenantId, userId, upstreamId, sessionId)).length > 0;
  }

  /** The elicitation ids this session waits on for this upstream, forgotten here (each is completed once). */
  take(tenantId: string, userId: string, upstreamId: string, sessionId: string): string[] {
    const key = keyOf(tenantId, userId, upstreamId, sessionId);
    const ids = this.#live(key).map((p) => p.elicitationId);
    this.#delete(key);
    return ids;
  }

  #live(key: string): Pending[] {
    const list = this.#pending.get(key) ?? [];
    return list.filter((p) => this.now() - p.at < TTL_MS);
  }

  #add(key: string, elicitationId: string): void {
    if (this.#count >= MAX_PENDING) this.#delete(this.#pending.keys().next().value!);
    const list = this.#live(key);
    this.#count -= (this.#pending.get(key)?.length ?? 0) - list.length;
    list.push({ key, elicitationId, at: this.now() });
    this.#count++;
    this.#pending.set(key, list);
  }

  #delete(key: string): void {
    this.#count -= this.#pending.get(key)?.length ?? 0;
    this.#pending.delete(key);
  }

  #dropWhere(match: (key: string) => boolean): void {
    for (const key of [...this.#pending.keys()]) if (match(key)) this.#delete(key);
  }
}

const keyOf = (tenantId: string, userId: string, upstreamId: string, sessionId: string) => JSON.stringify([tenantId, userId, upstreamId, sessionId]);
