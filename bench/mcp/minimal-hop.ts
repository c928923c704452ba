// The floor of a hop that authorises each MCP call, in a process of its own like the gateway (issue 17 §1, "what
// would close it"): only the work no such hop can skip, and nothing else — no logging, audit, metrics, schema checks,
// tenant resolution or token verification beyond a map lookup. Per request it
//   1. reads the whole JSON-RPC body and parses it (the tool's name decides whether the call may go on);
//   2. looks the bearer token up in memory (a verified-token cache that always hits) and the tool in that caller's set;
//   3. sends the request to TARGET under an id of its own (many clients share one upstream session, so their ids
//      must not collide: MCP "Base protocol", requests), on a keep-alive undici Pool with the dispatcher API, as the
//      gateway does (src/tools/upstream-call.ts);
//   4. parses the JSON answer, puts the client's id back, serialises it and answers.
// The bare proxy (bare-proxy.ts) does none of this: it pipes bytes. The difference between the two is what reading
// the message costs by itself; the difference between this and the gateway is the gateway's own work.
// It serves the bare proxy's requests (the upstream's tool names and session). Prints its URL on stdout.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool, type Dispatcher } from 'undici';

const target = new URL(process.env.TARGET!);
// As the gateway's pool per upstream (and the bare proxy's agent): 64 keep-alive sockets, idle ones closed after 4 s.
const pool = new Pool(target.origin, { connections: 64, keepAliveTimeout: 4_000, keepAliveMaxTimeout: 4_000, headersTimeout: 0, bodyTimeout: 0 });
/** Bearer token → the tools its user may call; the first request of a token fills it (the gateway verifies then). */
const callers = new Map<string, Set<string>>();
let seq = 0;

interface Message {
  jsonrpc: '2.0';
  id?: string | number;
  method?: string;
  params?: { name?: unknown };
}

const send = (res: http.ServerResponse, status: number, text: string) => {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
};

/** POSTs `body` to the upstream; resolves with the status and the answer's text. */
function forward(headers: Record<string, string>, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let status = 0;
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart: () => {}, // its presence tells undici this is a handler of its current API
      onResponseStart: (_c, code) => void (status = code),
      onResponseData: (_c, chunk) => void chunks.push(chunk),
      onResponseEnd: () => resolve({ status, text: (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8') }),
      onResponseError: (_c, err) => reject(err),
    };
    pool.dispatch({ path: target.pathname, method: 'POST', headers, body }, handler);
  });
}

async function hop(req: http.IncomingMessage, res: http.ServerResponse, raw: string) {
  const auth = req.headers.authorization ?? '';
  let allowed = callers.get(auth);
  if (!allowed) callers.set(auth, (allowed = new Set()));
  const message = JSON.parse(raw) as Message;
  const clientId = message.id;
  if (message.method === 'tools/call') {
    const name = message.params?.name;
    if (typeof name !== 'string') return send(res, 400, '{"error":"no tool name"}');
    // The lookup a permission check makes; every tool is allowed here (the gateway's caches hit, as in the bench).
    if (!allowed.has(name)) allowed.add(name);
  }
  message.id = `hop-${++seq}`;
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  for (const name of ['mcp-session-id', 'mcp-protocol-version']) {
    const value = req.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  const answer = await forward(headers, JSON.stringify(message));
  if (answer.status !== 200) return send(res, 502, JSON.stringify({ error: `upstream ${answer.status}` }));
  const reply = JSON.parse(answer.text) as Message;
  reply.id = clientId;
  send(res, 200, JSON.stringify(reply));
}

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    hop(req, res, Buffer.concat(chunks).toString('utf8')).catch((err: unknown) => {
      process.stderr.write(`minimal hop: ${String(err)}\n`);
      if (!res.headersSent) send(res, 502, '{"error":"hop failed"}');
    });
  });
});
// BENCH_FLOOR_PORT: the port to listen on (bench/mcp-population.ts picks it when the hop runs inside another process).
server.listen(Number(process.env.BENCH_FLOOR_PORT ?? 0), '127.0.0.1', () => console.log(`http://127.0.0.1:${(server.address() as AddressInfo).port}${target.pathname}`));
// A normal exit on SIGTERM (bench/support.ts stop), so `--cpu-prof` (BENCH_FLOOR_NODE_ARGS) writes its profile — only in
// a process of its own (BENCH_FLOOR_IN_PROCESS: loaded into the gateway's node, whose own shutdown must run).
if (process.env.BENCH_FLOOR_IN_PROCESS !== '1') process.on('SIGTERM', () => process.exit(0));
