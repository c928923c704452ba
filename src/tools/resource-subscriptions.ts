import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { contentUpstreams } from './content-upstreams.js';
import type { UpstreamRef } from './upstream-pool.js';

/** Subscriptions a node keeps at most; the oldest is dropped (and unsubscribed upstream) beyond it. */
const MAX_SUBSCRIPTIONS = 10_000;

interface Subscription {
  t: TenantCtx;
  up: UpstreamRef;
  userId: string;
  /** The gateway's MCP session of the subscribing client ('' = the client has none). */
  sessionId: string;
  /** The URI as the client knows it (namespaced) and as the upstream knows it. */
  gatewayUri: string;
  ownUri: string;
  /** The pooled upstream session it was made on (src/tools/upstream-pool.ts keys: per upstream, or per user). */
  sessionKey: string;
}

const subscriptionKey = (tenantId: string, userId: string, sessionId: string, gatewayUri: string) => JSON.stringify([tenantId, userId, sessionId, gatewayUri]);

/**
 * `resources/subscribe` through the gateway (MCP 2025-11-25 "Resources", subscriptions). The transport is stateless,
 * but an upstream subscription lives on one pooled upstream session of one node, so the node that forwarded a
 * subscription remembers who asked, and turns the upstream's `notifications/resources/updated` (which arrive on that
 * session's own GET stream) into a bus event addressed to exactly those clients' sessions; their GET stream, on any
 * node, delivers it (src/mcp/watch-stream.ts). On a `static` upstream the session is shared by every user, so the
 * upstream subscription is counted: it is unsubscribed upstream only when its last subscriber here leaves (one user's
 * unsubscribe must not end another's). A session rebuilt (expired, new credentials) is subscribed again. An update
 * reaches a subscriber only while they may still use that upstream's content (approval and group membership change
 * after a subscribe): one who may not is dropped instead, as if they had unsubscribed.
 */
export class ResourceSubscriptions {
  /** By subscription key; Map order = age, for the bound. */
  readonly #subs = new Map<string, Subscription>();
  /** Upstream session key → subscription keys on it. */
  readonly #bySession = new Map<string, Set<string>>();

  constructor(private readonly s: Pick<Services, 'bus' | 'upstreams' | 'logger'>) {
    s.bus.subscribe((e) => {
      if (e.type === 'mcp.resource.unsubscribed') this.#remove(subscriptionKey(e.tenantId, e.userId, e.sessionId, e.uri));
      // A deprovisioned user's per-user sessions are closed (upstream-tokens.ts), their subscriptions with them;
      // on a shared session, what nobody else wants is unsubscribed upstream.
      else if (e.type === 'user.revoked') this.#removeWhere((x) => x.t.id === e.tenantId && x.userId === e.userId, (x) => x.sessionKey === x.up.id);
    });
    s.upstreams.sessionHooks = {
      resourceUpdated: (sessionKey, uri) => this.#updated(sessionKey, uri),
      keepOpen: (sessionKey) => this.#bySession.has(sessionKey),
      reopened: (sessionKey) => this.#resubscribe(sessionKey),
    };
  }

  /** Records a subscription the upstream accepted on `up`'s session for this user (made by the caller). */
  add(t: TenantCtx, up: UpstreamRef, userId: string, sessionId: string, gatewayUri: string, ownUri: string): void {
    const key = subscriptionKey(t.id, userId, sessionId, gatewayUri);
    if (this.#subs.has(key)) return; // subscribing twice is one subscription (the upstream was asked again, harmlessly)
    if (this.#subs.size >= MAX_SUBSCRIPTIONS) this.#remove(this.#subs.keys().next().value!);
    const sessionKey = this.s.upstreams.sessionKeyOf(up, userId);
    this.#subs.set(key, { t, up, userId, sessionId, gatewayUri, ownUri, sessionKey });
    let keys = this.#bySession.get(sessionKey);
    if (!keys) this.#bySession.set(sessionKey, (keys = new Set()));
    keys.add(key);
  }

  /** The client unsubscribed: whichever node holds the subscription drops it (this one included, through the bus). */
  async unsubscribe(t: TenantCtx, userId: string, sessionId: string, gatewayUri: string): Promise<void> {
    await this.s.bus.publish({ type: 'mcp.resource.unsubscribed', tenantId: t.id, userId, sessionId, uri: gatewayUri });
  }

  /** Subscriptions held on this node (for tests and metrics). */
  get size(): number {
    return this.#subs.size;
  }

  #onSession(sessionKey: string): Subscription[] {
    return [...(this.#bySession.get(sessionKey) ?? [])].map((k) => this.#subs.get(k)!);
  }

  #updated(sessionKey: string, ownUri: string): void {
    void this.#deliver([...(this.#bySession.get(sessionKey) ?? [])], ownUri).catch((err: unknown) => {
      this.s.logger.info({ err: String(err).slice(0, 200) }, 'resource update not delivered');
    });
  }

  async #deliver(keys: string[], ownUri: string): Promise<void> {
    const allowed = new Map<string, boolean>();
    for (const key of keys) {
      const x = this.#subs.get(key);
      if (!x || x.ownUri !== ownUri) continue;
      const who = `${x.t.id}\u0000${x.userId}\u0000${x.up.id}`;
      if (!allowed.has(who)) allowed.set(who, (await contentUpstreams(x.t, x.userId)).some((u) => u.id === x.up.id));
      if (!allowed.get(who)) {
        this.#remove(key);
        continue;
      }
      await this.s.bus.publish({ type: 'mcp.resource.updated', tenantId: x.t.id, userId: x.userId, sessionId: x.sessionId, uri: x.gatewayUri });
    }
  }

  #remove(key: string, tellUpstream: (x: Subscription) => boolean = () => true): void {
    const x = this.#subs.get(key);
    if (!x) return;
    this.#subs.delete(key);
    const keys = this.#bySession.get(x.sessionKey)!;
    keys.delete(key);
    if (keys.size === 0) this.#bySession.delete(x.sessionKey);
    if (!tellUpstream(x) || this.#onSession(x.sessionKey).some((o) => o.ownUri === x.ownUri)) return; // another subscriber still wants it
    this.#send(x, 'resources/unsubscribe');
  }

  #removeWhere(match: (x: Subscription) => boolean, tellUpstream: (x: Subscription) => boolean): void {
    for (const [key, x] of [...this.#subs]) if (match(x)) this.#remove(key, tellUpstream);
  }

  #resubscribe(sessionKey: string): void {
    const seen = new Set<string>();
    for (const x of this.#onSession(sessionKey)) {
      if (seen.has(x.ownUri)) continue;
      seen.add(x.ownUri);
      this.#send(x, 'resources/subscribe');
    }
  }

  /** Best effort: an upstream that fails here has lost the session anyway (its subscriptions with it). */
  #send(x: Subscription, method: 'resources/subscribe' | 'resources/unsubscribe'): void {
    this.s.upstreams.request(x.t, x.up, method, { uri: x.ownUri }, AbortSignal.timeout(10_000), x.userId).catch((err: unknown) => {
      this.s.logger.info({ tenantId: x.t.id, upstreamId: x.up.id, method, err: String(err).slice(0, 200) }, 'upstream subscription change failed');
    });
  }
}

const registries = new WeakMap<object, ResourceSubscriptions>();

/** The node's one registry for these services (it subscribes to their bus once and hooks their upstream pool). */
export function resourceSubscriptions(s: Pick<Services, 'bus' | 'upstreams' | 'logger'>): ResourceSubscriptions {
  let r = registries.get(s.bus);
  if (!r) {
    r = new ResourceSubscriptions(s);
    registries.set(s.bus, r);
  }
  return r;
}
