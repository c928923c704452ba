// How the benchmarks' load generators (population-driver.ts, cold-client.ts, background-load.ts) send a JSON-RPC POST. Default: undici's dispatcher API (`request`), the leanest
// HTTP client at hand, so the load generator — on the same 2 cores as the servers it measures — takes as little of
// them as it can (standard load-generator practice: wrk, autocannon). `BENCH_CLIENT=fetch` sends with `fetch`, as the
// MCP SDK's client transport does and as these benchmarks did before 2026-12-06: about twice the client CPU per
// request (docs/benchmarks.md compares the two).
import { request } from 'undici';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';

export type BenchClient = 'undici' | 'fetch';

export const benchClient = (): BenchClient => (process.env.BENCH_CLIENT === 'fetch' ? 'fetch' : 'undici');

/** POSTs `body`; resolves with the status and the whole answer as text. */
export async function postJson(client: BenchClient, url: string, headers: Record<string, string>, body: string): Promise<{ status: number; text: string }> {
  if (client === 'fetch') {
    const res = await fetch(url, { method: 'POST', headers, body });
    return { status: res.status, text: await res.text() };
  }
  const res = await request(url, { method: 'POST', headers, body });
  return { status: res.statusCode, text: await res.body.text() };
}

/** The headers of an MCP client's POST once its session is up (MCP 2025-11-25, Streamable HTTP). */
export const mcpHeaders = (token: string, session: string) => ({
  authorization: `Bearer ${token}`,
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': LATEST_PROTOCOL_VERSION,
  ...(session && { 'mcp-session-id': session }),
});
