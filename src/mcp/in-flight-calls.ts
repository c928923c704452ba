import type { TenantCtx } from '../tenants/tenant-context.js';

export interface CallOwner {
  userId: string;
  clientId: string;
}

/**
 * Key of one in-flight tools/call. JSON-RPC ids are chosen by the client, so the key also names the tenant, user,
 * client and session: nobody can cancel another principal's call by guessing its id.
 */
export const callKey = (t: Pick<TenantCtx, 'id'>, who: CallOwner, sessionId: string | undefined, requestId: string | number) =>
  JSON.stringify([t.id, who.userId, who.clientId, sessionId ?? '', String(requestId)]);

/**
 * tools/call requests running on this node. In stateless mode a `notifications/cancelled` arrives in a later HTTP
 * request, handled by a fresh server that never saw the call (MCP 2025-11-25 cancellation), so cancellation is routed
 * here by key — and to the other nodes through the bus when the call is not running on this one.
 */
export class InFlightCalls {
  readonly #calls = new Map<string, AbortController>();

  /** Registers a call; its signal aborts when the transport aborts or when the client cancels by notification. */
  track(key: string, transportSignal: AbortSignal): { signal: AbortSignal; done(): void } {
    const call = new TrackedCall(this.#calls, key, transportSignal);
    this.#calls.set(key, call.controller);
    return call;
  }

  /** Aborts the call if it runs here; false if it does not (it may run on another node, or be finished). */
  cancel(key: string): boolean {
    const controller = this.#calls.get(key);
    controller?.abort();
    return controller !== undefined;
  }
}

/** The request ids a POST body cancels (`notifications/cancelled`, single message or batch). */
export function cancelledRequestIds(body: unknown): (string | number)[] {
  const messages = Array.isArray(body) ? body : [body];
  const ids: (string | number)[] = [];
  for (const m of messages) {
    if (!m || typeof m !== 'object' || (m as { method?: unknown }).method !== 'notifications/cancelled') continue;
    const id = (m as { params?: { requestId?: unknown } }).params?.requestId;
    if (typeof id === 'string' || typeof id === 'number') ids.push(id);
  }
  return ids;
}

/**
 * One tracked call. It is its own abort listener (EventTarget calls `handleEvent`) and `done` is a method: one object
 * per tools/call instead of three (two closures and the handle).
 */
class TrackedCall {
  readonly controller = new AbortController();

  constructor(
    private readonly calls: Map<string, AbortController>,
    private readonly key: string,
    private readonly transportSignal: AbortSignal,
  ) {
    transportSignal.addEventListener('abort', this, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  handleEvent(): void {
    this.controller.abort();
  }

  done(): void {
    this.transportSignal.removeEventListener('abort', this);
    if (this.calls.get(this.key) === this.controller) this.calls.delete(this.key);
  }
}
