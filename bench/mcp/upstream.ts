// The benchmark's upstream MCP server, in a process of its own: the SDK's McpServer (stateful sessions, JSON
// responses) with one `echo` tool, plus BENCH_UPSTREAM_TOOLS more (`t001`, `t002`, …: each echoes its `text`, with a
// description and an input schema of a realistic size, for the population benchmark). Prints its URL on stdout.
// Its sessions live as long as the benchmark (the bare proxy sends all of a tenant's requests on one): each answered
// POST's state is released after its answer (release-json-streams.ts: the SDK's JSON-response mode keeps it, with the
// Response, for the session's life, which grew this process's heap past 500 MB and stalled it in its garbage
// collector for up to ~0.3 s at a time, the open-loop tail of docs/benchmarks.md). BENCH_UPSTREAM_PROBE=<ms> reports
// event-loop stalls over that many ms and GC pauses on stderr (stall-probe.ts); BENCH_UPSTREAM_SDK_LEAK=1 leaves the
// SDK's state in place, to reproduce the stalls.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';
import { releaseAnsweredJsonStreams, streamEntries } from './release-json-streams.js';
import { startStallProbe } from './stall-probe.js';

const EXTRA = Number(process.env.BENCH_UPSTREAM_TOOLS ?? 0);
const KEEP_SDK_LEAK = process.env.BENCH_UPSTREAM_SDK_LEAK === '1';
const extraToolName = (i: number) => `t${String(i + 1).padStart(3, '0')}`;

const echo = async ({ text }: { text: string }) => ({ content: [{ type: 'text' as const, text }] });
// Like a typical SaaS tool: a sentence or two of description, a required argument and a few optional ones.
const extraSchema = {
  text: z.string().describe('The text to work on'),
  limit: z.number().int().min(1).max(100).optional().describe('At most this many results'),
  cursor: z.string().optional().describe('Where the previous page ended'),
  mode: z.enum(['fast', 'thorough']).optional().describe('How hard to look'),
};

const sessions = new Map<string, StreamableHTTPServerTransport>();
const server = http.createServer(async (req, res) => {
  const sid = req.headers['mcp-session-id'];
  let transport = typeof sid === 'string' ? sessions.get(sid) : undefined;
  if (!transport) {
    const created = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomBytes(12).toString('hex'),
      enableJsonResponse: true,
      onsessioninitialized: (id) => void sessions.set(id, created),
    });
    const mcp = new McpServer({ name: 'bench-upstream', version: '1.0.0' });
    mcp.registerTool('echo', { description: 'Echoes text', inputSchema: { text: z.string() } }, echo);
    for (let i = 0; i < EXTRA; i++) {
      const name = extraToolName(i);
      mcp.registerTool(
        name,
        {
          description: `Tool ${name} of the benchmark upstream: looks the text up in a made-up system of record and returns what it found, one page at a time.`,
          inputSchema: extraSchema,
          annotations: { title: `Look up (${name})`, readOnlyHint: true },
        },
        echo,
      );
    }
    await mcp.connect(created);
    transport = created;
  }
  await transport.handleRequest(req, res);
  if (!KEEP_SDK_LEAK) releaseAnsweredJsonStreams(transport);
});
if (process.env.BENCH_UPSTREAM_PROBE) {
  startStallProbe('bench upstream', Number(process.env.BENCH_UPSTREAM_PROBE), () => {
    let streams = 0;
    for (const t of sessions.values()) streams += streamEntries(t);
    return `${sessions.size} sessions holding ${streams} stream entries`;
  });
}
server.listen(0, '127.0.0.1', () => console.log(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`));
