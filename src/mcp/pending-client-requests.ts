import type { RelayAnswer } from '../tools/upstream-call.js';

/** Ids of the requests the gateway relays to clients: unguessable, and never one of the client's own. */
export const RELAYED_ID_PREFIX = 'gw-r-';
/** NOTIFY payloads are limited to 8000 bytes (PostgreSQL); larger answers cannot cross nodes. */
export const MAX_BUS_MESSAGE = 7_000;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A client's JSON-RPC response as the answer to give the upstream: its result, its error, or an error if malformed. */
export function answerOf(message: unknown): RelayAnswer {
  if (isObject(message) && isObject(message.result)) return { result: message.result };
  const error = isObject(message) ? message.error : undefined;
  if (isObject(error) && Number.isSafeInteger(error.code) && typeof error.message === 'string') {
    return { error: { code: error.code as number, message: error.message.slice(0, 500), ...(error.data !== undefined && { data: error.data }) } };
  }
  return { error: { code: -32603, message: 'The client answered with a malformed response' } };
}

/** The JSON-RPC responses in a POST body (one message or a batch) that answer requests the gateway relayed. */
export function relayedResponses(body: unknown): { id: string; message: Record<string, unknown> }[] {
  const out: { id: string; message: Record<string, unknown> }[] = [];
  for (const m of Array.isArray(body) ? body : [body]) {
    if (!isObject(m) || 'method' in m || typeof m.id !== 'string' || !m.id.startsWith(RELAYED_ID_PREFIX)) continue;
    if ('result' in m || 'error' in m) out.push({ id: m.id, message: m });
  }
  return out;
}

/**
 * Server→client requests relayed to a client, waiting for its answer. In stateless mode the answer comes in a later
 * POST, possibly to another node (the bus carries it there). Keys name tenant, user, client and session as well as
 * the id (in-flight-calls.ts callKey): an answer is taken only from the principal the request was sent to.
 */
export class PendingClientRequests {
  readonly #waiting = new Map<string, (answer: RelayAnswer) => void>();

  /** Resolves with the client's answer, or an error answer when `signal` aborts (call over, client gone). */
  wait(key: string, signal: AbortSignal): Promise<RelayAnswer> {
    return new Promise((resolve) => {
      const settle = (answer: RelayAnswer) => {
        signal.removeEventListener('abort', onAbort);
        this.#waiting.delete(key);
        resolve(answer);
      };
      const onAbort = () => settle({ error: { code: -32603, message: 'The request was cancelled: the call ended' } });
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiting.set(key, settle);
    });
  }

  /** Delivers an answer if its request waits on this node. */
  deliver(key: string, message: unknown): boolean {
    const settle = this.#waiting.get(key);
    settle?.(answerOf(message));
    return settle !== undefined;
  }
}
