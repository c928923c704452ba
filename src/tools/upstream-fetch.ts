import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { Egress } from '../http/egress.js';

/**
 * fetch for the pooled upstream sessions. The SDK's client transport passes ONE long-lived AbortSignal (its own, for
 * close()) to every request, and Node's fetch removes its abort listener from that signal only when the request is
 * garbage-collected: on a session reused by every call, listeners pile up by the thousand and each new fetch pays a
 * scan of them (measured: ~5% of the gateway's CPU). Here each request gets its own signal, linked to the transport's
 * for as long as the request runs; a JSON (or empty) answer is read in full and the link is removed at once. An SSE
 * answer keeps the link until it ends, so close() still ends open streams. Connections go where the egress policy
 * admits them only (egress.ts).
 */
export const upstreamFetch = (egress: Egress): FetchLike => async (url, init) => {
  const fetch = egress.fetch;
  const outer = init?.signal;
  if (!outer) return fetch(url, init);
  const inner = new AbortController();
  const abort = () => inner.abort(outer.reason);
  const unlink = () => outer.removeEventListener('abort', abort);
  if (outer.aborted) abort();
  else outer.addEventListener('abort', abort, { once: true });
  let keepLink = false;
  try {
    const res = await fetch(url, { ...init, signal: inner.signal });
    if (!res.body) return res;
    if (res.headers.get('content-type')?.toLowerCase().includes('text/event-stream')) {
      keepLink = true;
      return withRelease(res, unlink);
    }
    const body = await res.arrayBuffer();
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  } finally {
    if (!keepLink) unlink();
  }
};

/** The same streamed response, with `release` run when its body ends, fails or is cancelled. */
function withRelease(res: Response, release: () => void): Response {
  const reader = res.body!.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          release();
          controller.close();
        } else controller.enqueue(value);
      } catch (err) {
        release();
        controller.error(err);
      }
    },
    async cancel(reason) {
      release();
      await reader.cancel(reason);
    },
  });
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}
