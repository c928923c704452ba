import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { CircuitBreakers } from '../lib/circuit-breaker.js';
import { systemClock } from '../lib/clock.js';
import type { Vault } from '../vault/vault.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { MAX_RESPONSE_BYTES, UpstreamCaller, UpstreamProtocolError, type CallRelay } from './upstream-call.js';
import { connectUpstream } from './upstream-client.js';

export interface UpstreamRef {
  id: string;
  url: string;
  headersSecretId: string | null;
  updatedAt: Date;
}

/** The SDK client holds the session (handshake, notifications, DELETE); the caller sends its tools/call requests. */
interface Session {
  client: Client;
  caller: UpstreamCaller;
}

interface Entry {
  version: string;
  session: Promise<Session>;
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
  readonly #entries = new Map<string, Entry>();

  /**
   * @param breakers one circuit per upstream: a dead upstream fails fast (a clear tool error) instead of every call
   * waiting for the connect or call timeout, and a half-open probe closes it again once it answers; other upstreams'
   * circuits are independent.
   */
  constructor(
    private readonly vault: Vault,
    readonly breakers = new CircuitBreakers(systemClock),
  ) {}

  /**
   * A tools/call through the upstream's circuit; the caller's own cancellation and JSON-RPC errors do not count.
   * `relay`: the calling client's side (progress, log messages, elicitation, sampling of this call).
   */
  callTool(t: TenantCtx, up: UpstreamRef, name: string, args: Record<string, unknown> | undefined, signal: AbortSignal, relay?: CallRelay): Promise<CallToolResult> {
    return this.#run(t, up, 'tools/call', { name, arguments: args }, signal, relay, toolResult);
  }

  /** Any request of the upstream session (prompts, resources, completion), through the same circuit and retry rules. */
  request(t: TenantCtx, up: UpstreamRef, method: string, params: Record<string, unknown>, signal: AbortSignal): Promise<Record<string, unknown>> {
    return this.#run(t, up, method, params, signal, undefined, (r) => r);
  }

  #run<T>(t: TenantCtx, up: UpstreamRef, method: string, params: Record<string, unknown>, signal: AbortSignal, relay: CallRelay | undefined, shape: (r: Record<string, unknown>) => T): Promise<T> {
    return this.breakers.run(up.id, () => this.#request(t, up, method, params, signal, relay, shape), (err) => !signal.aborted && (!isProtocolError(err) || isTimeout(err)));
  }

  async #request<T>(
    t: TenantCtx,
    up: UpstreamRef,
    method: string,
    params: Record<string, unknown>,
    signal: AbortSignal,
    relay: CallRelay | undefined,
    shape: (r: Record<string, unknown>) => T,
  ): Promise<T> {
    const attempt = async () => {
      const { caller } = await this.#session(t, up);
      return shape(await caller.call(method, params, { signal, timeoutMs: this.callTimeoutMs, ...(relay && { relay }) }));
    };
    try {
      return await attempt();
    } catch (err) {
      // Only failures that mean the upstream never ran the call are retried (its session expired: 404), so a tool
      // with side effects is never run twice. Other transport failures drop the session for the next call; the
      // caller's own cancellation and JSON-RPC errors leave it in use.
      if (err instanceof StreamableHTTPError && err.code === 404) {
        this.drop(up.id);
        return attempt();
      }
      if (!signal.aborted && !isProtocolError(err)) this.drop(up.id);
      throw err;
    }
  }

  drop(upstreamId: string): void {
    void this.#drop(upstreamId);
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

  #session(t: TenantCtx, up: UpstreamRef): Promise<Session> {
    const version = `${up.url}|${up.headersSecretId ?? ''}|${up.updatedAt.getTime()}`;
    const entry = this.#entries.get(up.id);
    if (entry && entry.version === version) return entry.session;
    if (entry) this.drop(up.id);
    const session = (async () => {
      const headers = up.headersSecretId ? (JSON.parse(await this.vault.getString(t, up.headersSecretId)) as Record<string, string>) : {};
      return openSession(up.url, headers, this.connectTimeoutMs, this.maxResponseBytes);
    })();
    this.#entries.set(up.id, { version, session });
    // A failed connection must not stay cached.
    session.catch(() => {
      if (this.#entries.get(up.id)?.session === session) this.#entries.delete(up.id);
    });
    return session;
  }
}

/** The SDK client's handshake, then a caller that reuses its session id, negotiated version and admin headers. */
async function openSession(url: string, headers: Record<string, string>, connectTimeoutMs: number, maxResponseBytes: number): Promise<Session> {
  const client = await connectUpstream(url, headers, connectTimeoutMs);
  const transport = client.transport;
  if (!(transport instanceof StreamableHTTPClientTransport)) throw new Error('The upstream client has no Streamable HTTP transport');
  const caller = new UpstreamCaller({
    url: new URL(url),
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

/** Our own deadline for the call passed: the upstream is alive enough to hold a socket but not answering. */
const isTimeout = (err: unknown) => err instanceof McpError && err.code === ErrorCode.RequestTimeout;

/** A JSON-RPC error answered by the upstream (it is alive; the session stays usable). */
function isProtocolError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && typeof (err as { code: unknown }).code === 'number' && !(err instanceof StreamableHTTPError);
}
