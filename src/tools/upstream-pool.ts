import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  ErrorCode,
  McpError,
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
  type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js';
import { CircuitBreakers, CircuitOpenError } from '../lib/circuit-breaker.js';
import { healthReason, type UpstreamHealth } from './upstream-health.js';
import { systemClock } from '../lib/clock.js';
import type { Vault } from '../vault/vault.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { AppError } from '../lib/errors.js';
import { MAX_RESPONSE_BYTES, UpstreamCaller, UpstreamHttpError, UpstreamProtocolError, type CallRelay } from './upstream-call.js';
import { connectUpstream } from './upstream-client.js';
import { Egress } from '../http/egress.js';

export interface UpstreamRef {
  id: string;
  url: string;
  headersSecretId: string | null;
  updatedAt: Date;
  /** 'static' (absent: the admin's headers, one shared session) or a per-user mode (src/upstream-auth). */
  authMode?: string;
}

/**
 * What a per-user upstream call adds (src/upstream-auth): the user's own credentials and the key of their own
 * session, so no session, header or token is ever shared between users (issue 14 §3).
 */
export interface CallCredentials {
  /** The pooled session's key: (upstream, user); never the upstream alone. */
  key: string;
  /** Changes when the credentials change (refresh, reconnect): the session is rebuilt with the new ones. */
  version: string;
  headers: Record<string, string>;
}

export interface CredentialsProvider {
  /** This user's credentials for a per-user upstream; throws a tool-facing error when they have none usable. */
  forCall(t: TenantCtx, up: UpstreamRef, userId: string): Promise<CallCredentials>;
  /** The upstream refused `version` (HTTP 401): the next forCall must not return it again. */
  rejected(t: TenantCtx, up: UpstreamRef, userId: string, version: string): Promise<void>;
}

/** What a pooled session tells about itself (src/tools/resource-subscriptions.ts sets them). */
export interface SessionHooks {
  /** The upstream sent `notifications/resources/updated` on this session (its GET stream). */
  resourceUpdated(sessionKey: string, uri: string): void;
  /** A per-user session that must not be closed for idleness (it holds subscriptions). */
  keepOpen(sessionKey: string): boolean;
  /** A session was opened for this key (again): what lived on the old one (subscriptions) is set up anew. */
  reopened(sessionKey: string): void;
}

/** Which of its lists an upstream said changed (`notifications/{kind}/list_changed`). */
export type ListKind = 'tools' | 'prompts' | 'resources';

/**
 * Set by the composition root (src/tools/upstream-list-changes.ts): an upstream announced a list change on a pooled
 * session — the shared one of a static upstream (`userId` undefined) or one user's own.
 */
export type ListChangedHook = (t: TenantCtx, up: UpstreamRef, userId: string | undefined, kind: ListKind) => void;

/** The SDK client holds the session (handshake, notifications, DELETE); the caller sends its tools/call requests. */
interface Session {
  client: Client;
  caller: UpstreamCaller;
}

interface Entry {
  version: string;
  session: Promise<Session>;
  /** Per-user sessions only: last use (ms), for the idle bound. */
  usedAt?: number;
}

/** Time a session's DELETE may take when it is dropped before the client closes anyway. */
const TERMINATE_TIMEOUT_MS = 2_000;

/**
 * One open MCP session per upstream and node, reused by every call (an initialize handshake per call would double
 * the latency). The entry is rebuilt when the upstream row changed (URL or headers, seen through `updatedAt`, so a
 * change made by the CLI on another node is picked up on the next call) or after a transport failure.
 */
export class UpstreamPool {
  /** Upper bound for one upstream tools/call; the client's own cancellation ends it sooner. */
  callTimeoutMs = 60_000;
  connectTimeoutMs = 10_000;
  /** Largest upstream answer to one call (sessions opened after a change use the new value). */
  maxResponseBytes = MAX_RESPONSE_BYTES;
  /** Per-user sessions kept at most (least recently used closed first) and closed after this long unused. */
  maxUserSessions = 2_000;
  userSessionIdleMs = 10 * 60_000;
  /** Set by the composition root: per-user credentials (src/upstream-auth); static upstreams never ask it. */
  credentials: CredentialsProvider | undefined;
  /** Set by the composition root: records breaker transitions so every node's console shows an upstream down. */
  health: UpstreamHealth | undefined;
  /** Read when a session has news (set once per node by the resource subscription registry). */
  sessionHooks: SessionHooks | undefined;
  /** Told of the upstreams' list_changed notifications (whatever session they arrive on). */
  listChanged: ListChangedHook | undefined;
  /** Keyed by upstream id (static, shared) or by the credentials' key (per user). */
  readonly #entries = new Map<string, Entry>();

  /**
   * @param breakers one circuit per upstream: a dead upstream fails fast (a clear tool error) instead of every call
   * waiting for the connect or call timeout, and a half-open probe closes it again once it answers; other upstreams'
   * circuits are independent.
   */
  constructor(
    private readonly vault: Vault,
    readonly breakers = new CircuitBreakers(systemClock),
    /** Which addresses upstream connections may reach; the default admits no special-use address (egress.ts). */
    private readonly egress = new Egress(),
  ) {}

  /**
   * A tools/call through the upstream's circuit; the caller's own cancellation and JSON-RPC errors do not count.
   * `relay`: the calling client's side (progress, log messages, elicitation, sampling of this call); `userId`: the
   * caller, whose own credentials and session a per-user upstream is reached with.
   */
  callTool(t: TenantCtx, up: UpstreamRef, name: string, args: Record<string, unknown> | undefined, signal: AbortSignal, relay?: CallRelay, userId?: string): Promise<CallToolResult> {
    return this.#run(t, up, 'tools/call', { name, arguments: args }, signal, relay, toolResult, userId);
  }

  /** Any request of the upstream session (prompts, resources, completion), through the same circuit and retry rules. */
  request(t: TenantCtx, up: UpstreamRef, method: string, params: Record<string, unknown>, signal: AbortSignal, userId?: string): Promise<Record<string, unknown>> {
    return this.#run(t, up, method, params, signal, undefined, (r) => r, userId);
  }

  #run<T>(
    t: TenantCtx,
    up: UpstreamRef,
    method: string,
    params: Record<string, unknown>,
    signal: AbortSignal,
    relay: CallRelay | undefined,
    shape: (r: Record<string, unknown>) => T,
    userId: string | undefined,
  ): Promise<T> {
    if (isPerUser(up)) return this.#runPerUser(t, up, method, params, signal, relay, shape, userId);
    return this.#breaker(t, up.id, () => this.#request(t, up, method, params, signal, relay, shape), (err) => !signal.aborted && (!isProtocolError(err) || isTimeout(err)));
  }

  /** The upstream's circuit, with its transitions (opened, closed again after tripping) recorded as its health. */
  async #breaker<T>(t: TenantCtx, upstreamId: string, fn: () => Promise<T>, isFailure: (err: unknown) => boolean): Promise<T> {
    const wasTripped = this.breakers.tripped(upstreamId);
    try {
      const result = await this.breakers.run(upstreamId, fn, isFailure);
      if (wasTripped) await this.health?.up(t, upstreamId);
      return result;
    } catch (err) {
      if (!(err instanceof CircuitOpenError) && this.breakers.isOpen(upstreamId)) await this.health?.down(t, upstreamId, healthReason(err));
      throw err;
    }
  }

  /**
   * A per-user upstream: the user's credentials are looked up first, outside the circuit (a user who has not
   * connected is no upstream failure), then the request runs on that user's own session. A 401 means the upstream
   * refused the token before running anything: the provider renews it once and the request is retried.
   */
  async #runPerUser<T>(
    t: TenantCtx,
    up: UpstreamRef,
    method: string,
    params: Record<string, unknown>,
    signal: AbortSignal,
    relay: CallRelay | undefined,
    shape: (r: Record<string, unknown>) => T,
    userId: string | undefined,
  ): Promise<T> {
    const provider = this.credentials;
    if (!provider || !userId) throw new Error('Per-user upstream called without a user or credentials provider');
    const run = (creds: CallCredentials) =>
      this.#breaker(t, up.id, () => this.#request(t, up, method, params, signal, relay, shape, creds), (err) => !signal.aborted && !isUnauthorized(err) && (!isProtocolError(err) || isTimeout(err)));
    const creds = await provider.forCall(t, up, userId);
    try {
      return await run(creds);
    } catch (err) {
      if (!isUnauthorized(err) || signal.aborted) throw err;
      await provider.rejected(t, up, userId, creds.version);
      return run(await provider.forCall(t, up, userId));
    }
  }

  async #request<T>(
    t: TenantCtx,
    up: UpstreamRef,
    method: string,
    params: Record<string, unknown>,
    signal: AbortSignal,
    relay: CallRelay | undefined,
    shape: (r: Record<string, unknown>) => T,
    creds?: CallCredentials,
  ): Promise<T> {
    const key = creds?.key ?? up.id;
    const attempt = async () => {
      const { caller } = await this.#session(t, up, creds);
      return shape(await caller.call(method, params, { signal, timeoutMs: this.callTimeoutMs, ...(relay && { relay }) }));
    };
    try {
      return await attempt();
    } catch (err) {
      // Only failures that mean the upstream never ran the call are retried (its session expired: 404), so a tool
      // with side effects is never run twice. Other transport failures drop the session for the next call; the
      // caller's own cancellation and JSON-RPC errors leave it in use.
      if (err instanceof StreamableHTTPError && err.code === 404) {
        this.drop(key);
        return attempt();
      }
      if (!signal.aborted && !isProtocolError(err)) this.drop(key);
      throw err;
    }
  }

  /** Closes every per-user session of this user (disconnect, deprovisioning), or of every user of an upstream. */
  dropUserSessions(match: { userId?: string; upstreamId?: string }): void {
    for (const key of this.#entries.keys()) {
      const [upstreamId, userId] = key.split('\u0000');
      if (userId === undefined) continue;
      if ((match.userId === undefined || match.userId === userId) && (match.upstreamId === undefined || match.upstreamId === upstreamId)) this.drop(key);
    }
  }

  /** The key of the pooled session a call of this user to `up` uses: the upstream (static) or (upstream, user). */
  sessionKeyOf(up: UpstreamRef, userId: string): string {
    // The same key the credentials provider gives per-user calls (src/upstream-auth/upstream-tokens.ts).
    return isPerUser(up) ? `${up.id}\u0000${userId}` : up.id;
  }

  /** Open per-user sessions on this node (the LRU's current size). */
  get userSessionCount(): number {
    let n = 0;
    for (const e of this.#entries.values()) if (e.usedAt !== undefined) n++;
    return n;
  }

  /** Drops a session by its key: an upstream id (static), or a per-user credentials key. */
  drop(key: string): void {
    void this.#drop(key);
  }

  /** Closes every session (DELETE included) and its sockets. */
  async close(): Promise<void> {
    await Promise.all([...this.#entries.keys()].map((id) => this.#drop(id)));
  }

  async #drop(upstreamId: string): Promise<void> {
    const entry = this.#entries.get(upstreamId);
    this.#entries.delete(upstreamId);
    await entry?.session.then(closeSession).catch(() => undefined);
  }

  #session(t: TenantCtx, up: UpstreamRef, creds?: CallCredentials): Promise<Session> {
    const key = creds?.key ?? up.id;
    const version = `${up.url}|${up.headersSecretId ?? ''}|${up.updatedAt.getTime()}|${creds?.version ?? ''}`;
    const entry = this.#entries.get(key);
    if (entry && entry.version === version) {
      if (creds) this.#touch(key, entry);
      return entry.session;
    }
    if (entry) this.drop(key);
    const session = (async () => {
      const stored = up.headersSecretId ? (JSON.parse(await this.vault.getString(t, up.headersSecretId)) as Record<string, string>) : {};
      const opened = await openSession(up.url, { ...stored, ...creds?.headers }, this.egress, this.connectTimeoutMs, this.maxResponseBytes);
      // Notifications on the session's own GET stream: resource updates have an owner (whoever subscribed on this
      // session), list changes concern whoever may see that list (decision 0028); anything else belongs to nobody
      // and is dropped (decision 0024).
      opened.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => this.sessionHooks?.resourceUpdated(key, n.params.uri));
      // List changes concern the upstream (static) or this user's view of it (per user): the hook decides who hears.
      const userId = creds ? key.split('\u0000')[1] : undefined;
      const lists = [
        [ToolListChangedNotificationSchema, 'tools'],
        [PromptListChangedNotificationSchema, 'prompts'],
        [ResourceListChangedNotificationSchema, 'resources'],
      ] as const;
      for (const [schema, kind] of lists) opened.client.setNotificationHandler(schema, () => this.listChanged?.(t, up, userId, kind));
      return opened;
    })();
    void session.then(() => this.sessionHooks?.reopened(key)).catch(() => undefined);
    const created: Entry = { version, session };
    if (creds) this.#admitUserSession(key, created);
    else this.#entries.set(key, created);
    // A failed connection must not stay cached.
    session.catch(() => {
      if (this.#entries.get(key)?.session === session) this.#entries.delete(key);
    });
    return session;
  }

  /** Most recently used last (Map order), so the LRU bound closes the oldest first. */
  #touch(key: string, entry: Entry): void {
    entry.usedAt = Date.now();
    this.#entries.delete(key);
    this.#entries.set(key, entry);
  }

  /** A new per-user session: idle ones are closed, and the least recently used beyond the bound. */
  #admitUserSession(key: string, entry: Entry): void {
    const now = Date.now();
    let userSessions = 0;
    for (const [k, e] of this.#entries) {
      if (e.usedAt === undefined) continue;
      if (now - e.usedAt > this.userSessionIdleMs && !this.sessionHooks?.keepOpen(k)) this.drop(k);
      else userSessions++;
    }
    for (const [k, e] of this.#entries) {
      if (userSessions < this.maxUserSessions) break;
      if (e.usedAt === undefined) continue;
      this.drop(k);
      userSessions--;
    }
    entry.usedAt = now;
    this.#entries.set(key, entry);
  }
}

/** The SDK client's handshake, then a caller that reuses its session id, negotiated version and admin headers. */
async function openSession(url: string, headers: Record<string, string>, egress: Egress, connectTimeoutMs: number, maxResponseBytes: number): Promise<Session> {
  const client = await connectUpstream(url, headers, egress, connectTimeoutMs);
  const transport = client.transport;
  if (!(transport instanceof StreamableHTTPClientTransport)) throw new Error('The upstream client has no Streamable HTTP transport');
  const caller = new UpstreamCaller({
    url: new URL(url),
    egress,
    headers,
    sessionId: transport.sessionId,
    protocolVersion: transport.protocolVersion,
    maxResponseBytes,
    cancel: (requestId, reason) => void client.notification({ method: 'notifications/cancelled', params: { requestId, reason } }).catch(() => undefined),
    // Delivered like a message of the client's own streams: its Protocol answers ping with {} and the rest with -32601.
    onServerRequest: (request) => transport.onmessage?.(request),
    // The calling client's answer to a relayed elicitation or sampling request, POSTed like any client message.
    respond: (message) => void transport.send(message).catch(() => undefined),
  });
  return { client, caller };
}

/** Clients that no longer need a session SHOULD end it with DELETE (Transports, "Session Management" 5). */
async function closeSession({ client, caller }: Session): Promise<void> {
  caller.close();
  const transport = client.transport as StreamableHTTPClientTransport | undefined;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, TERMINATE_TIMEOUT_MS)));
  await Promise.race([transport?.terminateSession().catch(() => undefined), deadline]);
  clearTimeout(timer);
  await client.close();
}

/**
 * The hop returns any JSON object; fast-path.ts and the SDK Server's tools/call wrapper validate the final result
 * with CallToolResultSchema. Checked here is only what call-tool.ts reads before that: `content` is a list (absent
 * means empty, the schema's default).
 */
function toolResult(result: Record<string, unknown>): CallToolResult {
  if (result.content === undefined) return { ...result, content: [] } as CallToolResult;
  if (!Array.isArray(result.content)) throw new UpstreamProtocolError('The tools/call result has no content list');
  return result as CallToolResult;
}

const isPerUser = (up: UpstreamRef) => up.authMode !== undefined && up.authMode !== 'static';

/** The upstream refused our credentials (HTTP 401), on the call or on the session's initialize. */
function isUnauthorized(err: unknown): boolean {
  return (err instanceof UpstreamHttpError && err.status === 401) || (err instanceof AppError && err.code === 'upstream_unauthorized');
}

/** Our own deadline for the call passed: the upstream is alive enough to hold a socket but not answering. */
const isTimeout = (err: unknown) => err instanceof McpError && err.code === ErrorCode.RequestTimeout;

/** A JSON-RPC error answered by the upstream (it is alive; the session stays usable). */
function isProtocolError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && typeof (err as { code: unknown }).code === 'number' && !(err instanceof StreamableHTTPError);
}
