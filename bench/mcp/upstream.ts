// The benchmark's upstream MCP server, in a process of its own: the SDK's McpServer (stateful sessions, JSON
// responses) with one `echo` tool, plus BENCH_UPSTREAM_TOOLS more (`t001`, `t002`, …: each echoes its `text`, with a
// description and an input schema of a realistic size, for the population benchmark). Prints its URL on stdout.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

const EXTRA = Number(process.env.BENCH_UPSTREAM_TOOLS ?? 0);
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
});
server.listen(0, '127.0.0.1', () => console.log(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`));
