import { StringDecoder } from 'node:string_decoder';
import { Pool, type Dispatcher } from 'undici';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, JSONRPCRequestSchema, McpError, type JSONRPCMessage, type JSONRPCNotification, type JSONRPCRequest } from '@modelcontextprotocol/sdk/types.js';
import { mediaType } from '../lib/media-type.js';
import { SseParser } from './sse-parser.js';
import type { Egress } from '../http/egress.js';

/** Largest answer one call reads: the JSON body, or everything on its SSE stream(s). */
export const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
/** Pooled sockets are closed after this long idle, before the usual 5 s server keep-alive timeout can race a write
 * (also when the server's `Keep-Alive: timeout=` hint says more). */
const IDLE_SOCKET_MS = 4_000;
/** How long a stream may keep going after our response arrived before its socket is given up. */
const DRAIN_MS = 1_000;
/** Reconnection delay when the stream did not set `retry` (the SDK client's initial delay). */
const DEFAULT_RETRY_MS = 1_000;
/** Resumed streams in a row that bring no new event before the call fails. */
const MAX_IDLE_RESUMES = 2;
/** Server→client requests per call handed on; more are dropped (a hostile stream must not make us flood it). */
const MAX_SERVER_REQUESTS = 16;
/** Headers this hop sets itself; an admin-configured one of the same name is not sent (upstream-headers.ts refuses them). */
const OWN_HEADERS = new Set(['content-type', 'accept', 'content-length', 'transfer-encoding', 'connection', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id', 'host']);

/** An HTTP answer that is not an MCP answer (status, redirect, content type): the upstream counts as unreachable. */
export class UpstreamHttpError extends Error {
  override name = 'UpstreamHttpError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** An answer that breaks JSON-RPC or MCP: not JSON, no response to the request, too large, a result that is no object. */
export class UpstreamProtocolError extends Error {
  override name = 'UpstreamProtocolError';
}

export interface UpstreamCallerOptions {
  url: URL;
  /** Which addresses its connections may reach (egress.ts); the SDK client's handshake went through the same policy. */
  egress: Egress;
  /** The admin-configured headers of the upstream: never anything of the end user's (no token passthrough). */
  headers: Record<string, string>;
  /** From the SDK client's initialize handshake: the session (if the upstream gave one) and the negotiated version. */
  sessionId?: string;
  protocolVersion?: string;
  /** Sends `notifications/cancelled` for one of our request ids (through the SDK client). */
  cancel(requestId: string, reason: string): void;
  /** A server→client request seen on a response stream, handed to the SDK client, which answers it. */
  onServerRequest?(request: JSONRPCRequest): void;
  /** Sends a JSON-RPC response to the upstream (the answer to a relayed server→client request). */
  respond?(message: JSONRPCMessage): void;
  maxSockets?: number;
  maxResponseBytes?: number;
}

export interface CallOptions {
  signal: AbortSignal;
  timeoutMs: number;
  /** Where the call's own notifications and server→client requests go (the calling user's client); none = dropped / answered here. */
  relay?: CallRelay;
}

/** The answer to a relayed server→client request: a result, or a JSON-RPC error. */
export type RelayAnswer = { result: Record<string, unknown> } | { error: { code: number; message: string; data?: unknown } };

/**
 * The calling client's side of one call (src/mcp/call-relay.ts). Only messages that arrive on THIS call's response
 * stream reach it (Streamable HTTP sends messages related to a request on that request's stream), and progress only
 * with this call's own token: on a session shared by many users, nothing another call caused, and nothing sent on the
 * session's general stream, can reach this caller's client.
 */
export interface CallRelay {
  /** The client asked for progress: the upstream gets our own token (the call's id), mapped back by the relay. */
  readonly wantsProgress: boolean;
  notification(message: JSONRPCNotification): void;
  request(request: JSONRPCRequest): Promise<RelayAnswer>;
}

interface Target {
  pool: Pool;
  path: string;
  post: Record<string, string>;
  get: Record<string, string>;
  hasSession: boolean;
  maxBytes: number;
  cancel: UpstreamCallerOptions['cancel'];
  onServerRequest: UpstreamCallerOptions['onServerRequest'];
  respond: UpstreamCallerOptions['respond'];
}

/**
 * Sends JSON-RPC requests of one pooled upstream session over Streamable HTTP (MCP 2025-11-25 and 2025-06-18,
 * "Transports") through an undici `Pool` of its own (keep-alive, dispatcher API with handlers: no streams, no fetch
 * objects), and returns each request's `result`. The SDK client keeps the handshake, notifications and session close;
 * this is the per-call hop only (decision 0009).
 */
export class UpstreamCaller {
  readonly #target: Target;
  #seq = 0;

  constructor(o: UpstreamCallerOptions) {
    // No headers/body timeouts of undici's own: the call's timer bounds the whole exchange, and an SSE stream may be
    // silent for longer than any fixed socket timeout while a tool runs. undici never follows redirects unless told.
    const pool = new Pool(o.url.origin, {
      connections: o.maxSockets ?? 64,
      keepAliveTimeout: IDLE_SOCKET_MS,
      keepAliveMaxTimeout: IDLE_SOCKET_MS,
      headersTimeout: 0,
      bodyTimeout: 0,
      connect: o.egress.connector,
    });
    const common: Record<string, string> = {};
    for (const [name, value] of Object.entries(o.headers)) if (!OWN_HEADERS.has(name.toLowerCase())) common[name] = value;
    if (o.sessionId) common['mcp-session-id'] = o.sessionId;
    if (o.protocolVersion) common['mcp-protocol-version'] = o.protocolVersion;
    this.#target = {
      pool,
      path: o.url.pathname + o.url.search,
      post: { ...common, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      get: { ...common, accept: 'text/event-stream' },
      hasSession: Boolean(o.sessionId),
      maxBytes: o.maxResponseBytes ?? MAX_RESPONSE_BYTES,
      cancel: o.cancel,
      onServerRequest: o.onServerRequest,
      respond: o.respond,
    };
  }

  /** One request; rejects with McpError (JSON-RPC error, timeout), StreamableHTTPError 404 (session gone), or another error. */
  call(method: string, params: Record<string, unknown>, options: CallOptions): Promise<Record<string, unknown>> {
    // Strings, so they never collide with the SDK client's numeric ids on the same session (JSON-RPC ids are unique
    // per session: MCP "Base protocol", requests).
    const id = `gw-${++this.#seq}`;
    // Progress is asked with our own token (never the client's, which another user's client could also use on this
    // shared session): "progressToken … MUST be unique across all active requests" (MCP "Progress").
    const sent = options.relay?.wantsProgress ? { ...params, _meta: { ...(params._meta as object | undefined), progressToken: id } } : params;
    return new Promise((resolve, reject) => new Exchange(this.#target, id, options, resolve, reject).start(JSON.stringify({ jsonrpc: '2.0', id, method, params: sent })));
  }

  /** Closes the pooled connections; calls still running fail. */
  close(): void {
    this.#target.pool.destroy().catch(() => undefined);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const callEnded = () => new Error('The call ended');

/** An SSE answer being read: its decoder and its parser, whose events go to the exchange. */
class SseRead {
  readonly decoder = new StringDecoder('utf8');
  readonly parser: SseParser;

  constructor(onEvent: (type: string, data: string) => void, lastEventId: string) {
    this.parser = new SseParser(onEvent, lastEventId);
  }
}

const abandonLeg = (leg: Leg) => leg.abandon();

/** One HTTP request of a call (its POST, or a GET resuming its stream): an undici dispatch handler. */
class Leg implements Dispatcher.DispatchHandler {
  #controller: Dispatcher.DispatchController | undefined;
  #abandoned = false;
  started = false;
  complete = false;
  /*
   * How the answer is read: state on the leg, handed to the exchange's own methods. With closures made per call (the
   * earlier design) about a fifth of what each tools/call allocated outlived young collections and was promoted (V8's
   * reason not identified), so the old generation filled and was marked about once a second under load; read this way,
   * as little survives as with a bare undici handler (docs/benchmarks.md, "the gateway's garbage collection").
   */
  /** A JSON answer's chunks. */
  json: Buffer[] | undefined;
  /** An SSE answer's decoder and parser. */
  sse: SseRead | undefined;
  /** Set once our response arrived on a stream that goes on: the timer that gives the stream up (Exchange#release). */
  drain: NodeJS.Timeout | undefined;

  constructor(
    private readonly x: Exchange,
    readonly isPost: boolean,
  ) {}

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    // Given up while it waited for a connection: it is never written.
    if (this.#abandoned) controller.abort(callEnded());
  }

  onResponseStart(_c: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[] | undefined>): void {
    if (status < 200) return; // 1xx informational: the real answer follows
    this.started = true;
    this.x.onResponse(this, status, headers);
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.json) this.x.onJsonChunk(this.json, chunk);
    else if (this.sse) this.x.onSseChunk(this.sse, chunk);
  }

  onResponseEnd(): void {
    this.complete = true;
    this.#ended(false);
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    if (this.started) this.#ended(true);
    else this.x.onLegError(this, err);
  }

  /** The body ended (`cut`: the connection broke first). */
  #ended(cut: boolean): void {
    if (this.drain) clearTimeout(this.drain);
    else if (this.json) this.x.onJsonEnd(this.json, cut);
    else if (this.sse) this.x.onSseEnd(this, this.sse);
  }

  /** Aborts the request; its connection is closed (the server sees the call go), unless the response had ended. */
  abandon(): void {
    this.#abandoned = true;
    this.#controller?.abort(callEnded());
  }
}

/** One call: its POST, the SSE stream(s) answering it, its timer and its abort listener. */
class Exchange {
  #leg: Leg | undefined;
  #settled = false;
  #bytes = 0;
  #serverRequests = 0;
  #timer: NodeJS.Timeout | undefined;
  #resumeTimer: NodeJS.Timeout | undefined;
  #lastEventId = '';
  #retryMs = DEFAULT_RETRY_MS;
  #idleResumes = 0;

  constructor(
    private readonly t: Target,
    private readonly id: string,
    private readonly o: CallOptions,
    private readonly resolve: (result: Record<string, unknown>) => void,
    private readonly reject: (err: unknown) => void,
  ) {}

  start(body: string): void {
    if (this.o.signal.aborted) return this.reject(this.o.signal.reason);
    this.o.signal.addEventListener('abort', this.#onAbort, { once: true });
    this.#timer = setTimeout(this.#onTimeout, this.o.timeoutMs);
    this.#send('POST', this.t.post, body); // undici sets Content-Length for a string body
  }

  #send(method: 'POST' | 'GET', headers: Record<string, string>, body?: string): void {
    const leg = new Leg(this, method === 'POST');
    this.#leg = leg; // before dispatch: a closed pool reports its error synchronously
    this.t.pool.dispatch({ path: this.t.path, method, headers, body }, leg);
  }

  /** A request failed before any response (connection refused or reset, pool closed). */
  onLegError(leg: Leg, err: Error): void {
    if (leg === this.#leg) this.#fail(err);
  }

  onResponse(leg: Leg, status: number, headers: Record<string, string | string[] | undefined>): void {
    if (leg !== this.#leg || this.#settled) return leg.abandon();
    const type = mediaType(headers['content-type']);
    if (status < 200 || status > 299) {
      // 404 to a request carrying a session id: the session is gone and the call never ran; the pool starts a new
      // session (Transports, "Session Management" 4). Redirects are refused: an upstream that moves is re-registered.
      if (status === 404 && leg.isPost && this.t.hasSession) return this.#fail(new StreamableHTTPError(404, 'Session not found'));
      return this.#fail(new UpstreamHttpError(status, status >= 300 && status < 400 ? `Redirect refused (HTTP ${status})` : `HTTP ${status}`));
    }
    if (Number(headers['content-length']) > this.t.maxBytes) return this.#fail(this.#tooLarge());
    if (type === 'text/event-stream') return this.#readSse(leg);
    if (type === 'application/json' && leg.isPost) return this.#readJson(leg);
    this.#fail(new UpstreamHttpError(status, `Unexpected content type: ${type ?? 'none'}`));
  }

  #readJson(leg: Leg): void {
    leg.json = [];
  }

  /** A chunk of the JSON answer (Leg.json): kept while the call is open and the answer within its size bound. */
  onJsonChunk(chunks: Buffer[], chunk: Buffer): void {
    if (!this.#settled && this.#count(chunk)) chunks.push(chunk);
  }

  /** The JSON answer ended (`cut`: the connection broke first): its response settles the call. */
  onJsonEnd(chunks: Buffer[], cut: boolean): void {
    if (this.#settled) return;
    if (cut) return this.#fail(new UpstreamProtocolError('The connection closed before the answer ended'));
    let body: unknown;
    try {
      // A small answer arrives in one chunk: decoded as is, without Buffer.concat's copy.
      body = JSON.parse((chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8'));
    } catch {
      return this.#fail(new UpstreamProtocolError('The answer is not JSON'));
    }
    // One message, or a JSON-RPC batch from a 2025-03-26 server.
    if (Array.isArray(body)) for (const message of body) this.#onMessage(message);
    else this.#onMessage(body);
    if (!this.#settled) this.#fail(new UpstreamProtocolError('The answer has no response to the request'));
  }

  #readSse(leg: Leg): void {
    leg.sse = new SseRead(this.#onSseEvent, this.#lastEventId);
  }

  /** A chunk of an SSE answer (Leg.sse): parsed while the call is open and the answer within its size bound. */
  onSseChunk(sse: SseRead, chunk: Buffer): void {
    if (!this.#settled && this.#count(chunk)) sse.parser.push(sse.decoder.write(chunk));
  }

  /** An SSE answer ended before our response (a cut connection counts the same: the stream may be resumed). */
  onSseEnd(leg: Leg, sse: SseRead): void {
    if (!this.#settled && leg === this.#leg) this.#streamEnded(sse.parser);
  }

  #onSseEvent = (type: string, data: string): void => {
    if (type !== 'message' || this.#settled) return;
    let message: unknown;
    try {
      message = JSON.parse(data);
    } catch {
      return; // like the SDK client: a bad event is skipped, the stream goes on (priming events have empty data)
    }
    this.#onMessage(message);
  };

  /**
   * The stream ended without our response. If it had event ids, the server may close a stream and expect the client
   * to poll it: reconnect with GET and Last-Event-ID after the `retry` delay (Transports, "Resumability and
   * Redelivery"; clients MUST respect `retry`). Otherwise the response cannot come any more.
   */
  #streamEnded(parser: SseParser): void {
    if (parser.lastEventId === '') return this.#fail(new UpstreamProtocolError('The stream ended without a response'));
    this.#idleResumes = parser.lastEventId === this.#lastEventId ? this.#idleResumes + 1 : 0;
    if (this.#idleResumes > MAX_IDLE_RESUMES) return this.#fail(new UpstreamProtocolError('The resumed stream brought no new event'));
    this.#lastEventId = parser.lastEventId;
    this.#retryMs = parser.retryMs ?? this.#retryMs;
    this.#leg = undefined;
    this.#resumeTimer = setTimeout(() => this.#send('GET', { ...this.t.get, 'last-event-id': this.#lastEventId }), this.#retryMs);
  }

  #onMessage(message: unknown): void {
    if (!isObject(message) || this.#settled) return;
    if (typeof message.method === 'string') {
      if (!('id' in message)) return this.#onNotification(message);
      // Requests: ping is answered here by the SDK client ({}), as on its own streams; elicitation and sampling go to
      // the calling client through the relay (which refuses what the client did not declare); without a relay the
      // SDK client answers -32601.
      if (this.#serverRequests++ < MAX_SERVER_REQUESTS) {
        const request = JSONRPCRequestSchema.safeParse(message);
        if (!request.success) return;
        const relay = this.o.relay;
        if (relay && request.data.method !== 'ping') this.#relayRequest(relay, request.data);
        else this.t.onServerRequest?.(request.data);
      }
      return;
    }
    if (message.id !== this.id) return;
    const { error, result } = message;
    if (isObject(error)) {
      const ok = Number.isSafeInteger(error.code) && typeof error.message === 'string';
      return this.#fail(ok ? McpError.fromError(error.code as number, error.message as string, error.data) : new UpstreamProtocolError('Malformed JSON-RPC error'));
    }
    if (!isObject(result)) return this.#fail(new UpstreamProtocolError('The result is not an object'));
    this.#finish();
    this.#release();
    this.resolve(result);
  }

  /** Progress for this call (our token) and log messages go to the calling client; anything else is dropped. */
  #onNotification(message: Record<string, unknown>): void {
    const relay = this.o.relay;
    if (!relay || !isObject(message.params)) return;
    if (message.method === 'notifications/progress' && relay.wantsProgress && message.params.progressToken === this.id) {
      relay.notification(message as JSONRPCNotification);
    } else if (message.method === 'notifications/message') {
      relay.notification(message as JSONRPCNotification);
    }
  }

  #relayRequest(relay: CallRelay, request: JSONRPCRequest): void {
    const answer = (a: RelayAnswer) => this.t.respond?.({ jsonrpc: '2.0', id: request.id, ...a } as JSONRPCMessage);
    relay.request(request).then(answer, () => answer({ error: { code: ErrorCode.InternalError, message: 'The request could not be relayed' } }));
  }

  #count(chunk: Buffer): boolean {
    this.#bytes += chunk.length;
    if (this.#bytes <= this.t.maxBytes) return true;
    this.#fail(this.#tooLarge());
    return false;
  }

  #tooLarge = () => new UpstreamProtocolError(`The answer is larger than ${this.t.maxBytes} bytes`);

  /** After a response on SSE the server normally ends the stream at once; the socket returns to the pool then. */
  #release(): void {
    const leg = this.#leg;
    if (!leg || leg.complete) return;
    leg.drain = setTimeout(abandonLeg, DRAIN_MS, leg);
    leg.drain.unref();
  }

  #onAbort = () => {
    const reason: unknown = this.o.signal.reason;
    this.#fail(reason, true);
  };

  #onTimeout = () => this.#fail(McpError.fromError(ErrorCode.RequestTimeout, 'Request timed out', { timeout: this.o.timeoutMs }), true);

  /**
   * Ends the call with `err`. On cancellation and timeout the upstream is told with `notifications/cancelled`
   * (MCP "Cancellation"; the SDK client did the same): closing the HTTP request alone is not a cancellation (Transports).
   */
  #fail(err: unknown, cancelUpstream = false): void {
    if (this.#settled) return;
    this.#finish();
    this.#leg?.abandon();
    if (cancelUpstream) this.t.cancel(this.id, String(err));
    this.reject(err);
  }

  #finish(): void {
    this.#settled = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#resumeTimer);
    this.o.signal.removeEventListener('abort', this.#onAbort);
  }
}
