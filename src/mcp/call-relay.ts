import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { ErrorCode, type JSONRPCNotification, type JSONRPCRequest, type ProgressToken } from '@modelcontextprotocol/sdk/types.js';
import type { CallRelay, RelayAnswer } from '../tools/upstream-call.js';
import type { RelayCapabilities } from './client-capabilities.js';
import { RELAYED_ID_PREFIX, type PendingClientRequests } from './pending-client-requests.js';

/** Why a server→client request is not relayed to this client, or null when it is. */
export function refusal(request: JSONRPCRequest, caps: RelayCapabilities): string | null {
  if (request.method === 'sampling/createMessage') return caps.sampling ? null : 'The client did not declare the sampling capability';
  if (request.method === 'elicitation/create') {
    const mode = (request.params as { mode?: unknown } | undefined)?.mode ?? 'form';
    if (mode === 'form') return caps.elicitationForm ? null : 'The client did not declare form elicitation';
    if (mode === 'url') return caps.elicitationUrl ? null : 'The client did not declare URL elicitation';
    return 'Unknown elicitation mode';
  }
  // roots/list and anything else: the user's client and its files are not the upstream's business.
  return `${request.method.slice(0, 64)} is not relayed to the client`;
}

/**
 * The calling client's side of one upstream tools/call (upstream-call.ts `CallRelay`), on the fast path's response.
 * The answer stays one JSON body unless the upstream sends something for the client: then the response turns into an
 * SSE stream (Streamable HTTP lets the server pick either for a POST; the client accepts both), carrying progress
 * (with the client's own token), log messages and relayed requests, then the result. Relayed requests get fresh
 * unguessable ids and are refused with a JSON-RPC error when the client did not declare the capability at
 * initialize (MCP 2025-11-25 "Elicitation", "Sampling": servers MUST NOT send requests for undeclared capabilities).
 */
export class ClientRelay implements CallRelay {
  #streaming = false;
  #closed = false;
  /**
   * Aborted when the call ends or the client goes away: relayed requests still waiting are answered with an error.
   * Created with the first relayed request only — most calls relay nothing, and this object is made for every call.
   */
  #done: AbortController | undefined;

  constructor(
    private readonly res: ServerResponse,
    private readonly progressToken: ProgressToken | undefined,
    /** Read when the upstream first asks something (decoded from the session id). */
    private readonly capabilities: () => RelayCapabilities,
    private readonly pending: PendingClientRequests,
    /** The pending key of a relayed request id (tenant, user, client, session, id). */
    private readonly keyOf: (id: string) => string,
    private readonly signal: AbortSignal,
    /** Whether a log message of this level is for the client (its `logging/setLevel`, log-levels.ts). */
    private readonly logLevelPasses: (level: unknown) => boolean = () => true,
  ) {}

  /** The call is over: requests still waiting for the client are given up. */
  close(): void {
    this.#closed = true;
    this.#done?.abort();
  }

  #doneSignal(): AbortSignal {
    if (!this.#done) {
      const done = (this.#done = new AbortController());
      if (this.#closed || this.signal.aborted) done.abort();
      else this.signal.addEventListener('abort', () => done.abort(), { once: true, signal: done.signal });
    }
    return this.#done.signal;
  }

  get wantsProgress(): boolean {
    return this.progressToken !== undefined;
  }

  get streaming(): boolean {
    return this.#streaming;
  }

  notification(message: JSONRPCNotification): void {
    if (message.method === 'notifications/progress') {
      this.#write({ jsonrpc: '2.0', method: message.method, params: { ...message.params, progressToken: this.progressToken } });
    } else if (message.method !== 'notifications/message' || this.logLevelPasses(message.params?.level)) {
      this.#write({ jsonrpc: '2.0', method: message.method, params: message.params });
    }
  }

  async request(request: JSONRPCRequest): Promise<RelayAnswer> {
    const refused = refusal(request, this.capabilities());
    if (refused) return { error: { code: ErrorCode.MethodNotFound, message: refused } };
    const done = this.#doneSignal();
    if (done.aborted || this.res.writableEnded) return { error: { code: ErrorCode.InternalError, message: 'The client is gone' } };
    const id = `${RELAYED_ID_PREFIX}${randomUUID()}`;
    const answer = this.pending.wait(this.keyOf(id), done);
    this.#write({ jsonrpc: '2.0', id, method: request.method, params: request.params });
    return answer;
  }

  /** Ends a streamed response with the final JSON-RPC message; false if nothing was streamed (send JSON instead). */
  end(response: unknown): boolean {
    this.close();
    if (!this.#streaming) return false;
    if (!this.res.writableEnded) this.res.end(sseEvent(response));
    return true;
  }

  #write(message: unknown): void {
    if (this.res.writableEnded || this.#closed || this.signal.aborted) return;
    if (!this.#streaming) {
      this.#streaming = true;
      this.res.statusCode = 200;
      this.res.setHeader('Content-Type', 'text/event-stream');
      this.res.setHeader('Cache-Control', 'no-cache');
    }
    this.res.write(sseEvent(message));
  }
}

const sseEvent = (message: unknown) => `event: message\ndata: ${JSON.stringify(message)}\n\n`;
