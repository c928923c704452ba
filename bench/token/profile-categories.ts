// Where a token request's CPU goes, by what it is done for (issue 17 §5): sums a `--cpu-prof` profile of the token
// bench's server (`BENCH_TOKEN_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR"`) over a time window into categories —
//   npx tsx bench/token/profile-categories.ts PROFILE.cpuprofile --from S --to S
// (bench/profile-summary.ts --timeline picks the window of the refresh_token round out). Each busy sample is charged
// to the nearest frame on its stack that is not Node's internals or native code, its owner (a `writev` under pg's
// query submission is pg's, RSA signing under jose is jose's), and the owner's package to a category. Socket-write
// syscalls are a category of their own, split by whom they write for: under load their share of busy samples is
// inflated (a write that wakes PostgreSQL or the client is where the process gets preempted, and the profiler counts
// that wall time), so read them as an upper bound. Shares are of the window's busy samples, not of CPU time.
import { packageOf as packageOfUrl, profileFromArgs, type ProfileNode as Node } from '../cpu-profile.js';

const { p, from, to, byId, parent } = profileFromArgs('profile-categories.ts PROFILE [--from S] [--to S]');
const packageOf = (n: Node) => packageOfUrl(n.callFrame.url, n.callFrame.functionName);

// node:_http_* owns its work: the HTTP server's parsing and writing, which the bare endpoint does too.
const ownerless = (k: string) => (k.startsWith('node:') && !k.startsWith('node:_http')) || k.startsWith('(') || k.startsWith('wasm:');

const CATEGORIES: [string, RegExp][] = [
  ['RS256 signature (jose)', /^jose$/],
  [
    'PostgreSQL: driver and adapter (pg, the statements, their rows)',
    /^(pg|pg-pool|pg-protocol|pg-types|postgres-.*|@prisma\/.*|app:(db\/.*|oauth\/(payload-statements|prisma-adapter|grant-prefetch|refresh-rotation|account-cache)\.js|audit\/.*))$/,
  ],
  [
    "oidc-provider and its Koa stack",
    /^(oidc-provider|koa|koa-compose|@koa\/.*|delegates|ee-first|on-finished|mime-types|mime-db|cache-content-type|ylru|only|statuses|http-errors|vary|content-disposition|depd|debug|ms|destroy|encodeurl|escape-html|fresh|accepts|negotiator|quick-lru|nanoid|cookies|keygrip|tsscmp|eta)$/,
  ],
  [
    'Express, body parser, helmet',
    /^(express|router|body-parser|raw-body|iconv-lite|qs|type-is|media-typer|content-type|parseurl|path-to-regexp|finalhandler|helmet|proxy-addr|forwarded|ipaddr\.js|bytes|unpipe|safer-buffer|side-channel.*|call-bound|get-intrinsic|gopd|has-symbols|function-bind|hasown|dunder-proto|math-intrinsics|es-errors|es-object-atoms|es-define-property|object-inspect|send|merge-descriptors|cookie|cookie-signature|setprototypeof|inherits|range-parser|etag)$/,
  ],
  ['node:http server (request parsing, headers, response)', /^node:_http/],
  ['request log line (pino)', /^(pino|sonic-boom|pino-std-serializers|thread-stream|quick-format-unescaped|atomic-sleep|on-exit-leak-free|safe-stable-stringify|app:lib\/log.*|app:http\/request-log\.js)$/],
  ['metrics, tracing', /^(prom-client|@opentelemetry\/.*|bintrees|tdigest|app:metrics\/.*)$/],
  ['our route adapter, provider hooks, tenant, failure limit', /^app:/],
  ['garbage collector', /^\(garbage collector\)$/],
];
const SYSCALLS = /^(writev|writeUtf8String|writeBuffer|writeLatin1String|writeAsciiString)$/;

function ownerOf(from: Node): string | undefined {
  for (let id: number | undefined = from.id; id !== undefined; id = parent.get(id)) {
    const n = byId.get(id)!;
    if (n.callFrame.functionName === '(root)') return undefined;
    const k = packageOf(n);
    if (!ownerless(k)) return k;
  }
  return undefined;
}

const shares = new Map<string, number>();
const others = new Map<string, number>();
const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
let t = 0;
let busy = 0;
for (let i = 0; i < p.samples.length; i++) {
  t += p.timeDeltas[i] ?? 0;
  const dt = p.timeDeltas[i + 1] ?? 0; // the time a sample stands for is until the next one
  const leaf = byId.get(p.samples[i]!)!;
  if (leaf.callFrame.functionName === '(idle)' || t < from || t >= to) continue;
  busy += dt;
  const owner = ownerOf(leaf);
  if (!leaf.callFrame.url && SYSCALLS.test(leaf.callFrame.functionName)) {
    add(shares, owner?.startsWith('pg') ? 'socket write syscalls: PostgreSQL statements' : 'socket write syscalls: HTTP response and others', dt);
    continue;
  }
  const k = owner ?? packageOf(leaf);
  const category = CATEGORIES.find(([, re]) => re.test(k))?.[0];
  if (category) add(shares, category, dt);
  else {
    add(shares, 'other (Node internals with no owner on the stack, V8)', dt);
    add(others, k, dt);
  }
}

const pct = (v: number) => `${((100 * v) / busy).toFixed(1)}%`;
console.log(`window ${(from / 1e6).toFixed(0)}–${to === Infinity ? 'end' : (to / 1e6).toFixed(0)} s: busy ${(busy / 1e6).toFixed(1)} s`);
for (const [k, v] of [...shares].sort((a, b) => b[1] - a[1])) console.log(`${pct(v).padStart(6)}  ${k}`);
console.log(`other: ${[...others].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, v]) => `${k} ${pct(v)}`).join(', ')}`);
