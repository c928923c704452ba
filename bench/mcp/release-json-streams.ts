// A workaround, for the benchmark's upstream MCP server (bench/mcp/upstream.ts), of a leak in the MCP SDK's Streamable
// HTTP server transport (v1.x; 1.32.2 here): in JSON-response mode (`enableJsonResponse: true`) with sessions, `send()`
// resolves each POST's Response but never runs that POST's `cleanup()`, so its `_streamMapping` entry (a fresh UUID per
// POST) stays until the session closes (modelcontextprotocol/typescript-sdk#2559, open for v1.x; fixed on `main`).
// The entry holds the promise's resolver, and through it the answered Response with its body: a 201-tool tools/list
// answer keeps ~100 kB alive. The benchmark's sessions never close (the bare proxy sends all of a tenant's requests on
// one), so the upstream's heap grew by ~45 kB per request of a list-heavy mix (545 MB after 12,000 requests) and its
// collections grew with it: scavenges of 100–200 ms and mark-compacts of 200–300 ms by the end of a run, the event
// loop blocked for as long (docs/benchmarks.md, "the bench upstream's stalls"). The gateway is not affected: it
// builds a stateless transport per request (src/mcp/mcp-endpoint.ts), dropped with the request.
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

/** The SDK's private per-session maps this workaround reads (field names of 1.32.2). */
interface JsonStreams {
  _streamMapping?: Map<string, { resolveJson?: unknown }>;
  _requestToStreamMapping?: Map<unknown, string>;
}

const streamsOf = (transport: StreamableHTTPServerTransport) => (transport as unknown as { _webStandardTransport?: JsonStreams })._webStandardTransport;

/**
 * Deletes the stream entries of POSTs already answered in JSON-response mode: an entry with a JSON resolver to which no
 * pending request id maps any more (the SDK maps every request id of a POST in the same synchronous step that adds the
 * entry, and unmaps them once the Response is resolved). Entries of POSTs still in flight, and SSE streams, are kept.
 * Returns how many were deleted; 0 when the SDK has no such fields (a version that changed them: nothing to do, and
 * the leak test in test/bench says when the workaround can go).
 */
export function releaseAnsweredJsonStreams(transport: StreamableHTTPServerTransport): number {
  const inner = streamsOf(transport);
  if (!inner?._streamMapping || !inner._requestToStreamMapping) return 0;
  const pending = new Set(inner._requestToStreamMapping.values());
  let released = 0;
  for (const [id, stream] of inner._streamMapping) {
    if (stream.resolveJson && !pending.has(id)) {
      inner._streamMapping.delete(id);
      released++;
    }
  }
  return released;
}

/** How many stream entries a session's transport holds (in-flight POSTs, plus any leaked ones). */
export const streamEntries = (transport: StreamableHTTPServerTransport): number => streamsOf(transport)?._streamMapping?.size ?? 0;
