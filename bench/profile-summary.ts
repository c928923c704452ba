// Sums a V8 CPU profile (`node --cpu-prof`) by function and by package / file, self and inclusive, over a time window:
//   npx tsx bench/profile-summary.ts PROFILE.cpuprofile [--from S] [--to S] [--top N] [--timeline] [--owners]
// --from/--to are seconds since the profile's start (--timeline prints busy ms per bucket (--bucket S, default 5) to choose them); shares are of
// the window's busy samples (everything but "(idle)"). Inclusive counts a function (or package) once per sample
// however often it appears on that sample's stack. Packages: node_modules/<name> (scoped names kept), node's own
// modules as node:<first path segment>, the application's files as app:<path under dist/>, V8's pseudo-frames as is.
import { packageOf, profileFromArgs, type ProfileNode as Node } from './cpu-profile.js';

const { args, opt, p, from, to, byId, parent } = profileFromArgs('profile-summary.ts PROFILE [--from S] [--to S] [--top N] [--timeline] [--owners]');
const top = opt('--top') ?? 40;
// --owners: each busy sample charged to the nearest frame on its stack that is not Node's internals or native code
// (e.g. a `writev` under pg's query submission is pg's; RSA signing under jose is jose's), by package/file — where
// CPU is spent on behalf of whom. Samples with no such frame stay under their leaf's own package.
const ownersOn = args.includes('--owners');
// --callers NAME: the stacks (8 frames up) of samples whose leaf is the function NAME.
const callersIdx = args.indexOf('--callers');
const callersOf = callersIdx >= 0 ? args[callersIdx + 1] : undefined;
const callers = new Map<string, number>();
const bucketS = opt("--bucket") ?? 5;

const fnKey = (n: Node) => `${n.callFrame.functionName || '(anonymous)'} ${packageOf(n.callFrame.url, n.callFrame.functionName)}:${n.callFrame.lineNumber + 1}`;
const pkgKey = (n: Node) => packageOf(n.callFrame.url, n.callFrame.functionName);

const selfFn = new Map<string, number>();
const inclFn = new Map<string, number>();
const selfPkg = new Map<string, number>();
const inclPkg = new Map<string, number>();
const add = <K,>(m: Map<K, number>, k: K, v: number) => m.set(k, (m.get(k) ?? 0) + v);
const owner = new Map<string, number>();
// node:_http_* stays an owner: the HTTP server's own parsing and writing, which the bare endpoint does too.
const ownerless = (k: string) => (k.startsWith('node:') && !k.startsWith('node:_http')) || k.startsWith('(') || k.startsWith('wasm:');
const ownerOf = (leaf: Node) => {
  for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
    const n = byId.get(id)!;
    if (n.callFrame.functionName === '(root)') break;
    const k = pkgKey(n);
    if (!ownerless(k)) return k;
  }
  return pkgKey(leaf);
};
let t = 0;
let busy = 0;
let idle = 0;
const timeline = new Map<number, number>();
for (let i = 0; i < p.samples.length; i++) {
  t += p.timeDeltas[i] ?? 0;
  const dt = p.timeDeltas[i + 1] ?? 0; // the time a sample stands for is until the next one
  const leaf = byId.get(p.samples[i]!)!;
  if (leaf.callFrame.functionName === '(idle)') {
    if (t >= from && t < to) idle += dt;
    continue;
  }
  add(timeline, Math.floor(t / (bucketS * 1e6)), dt);
  if (t < from || t >= to) continue;
  busy += dt;
  add(selfFn, fnKey(leaf), dt);
  if (callersOf && leaf.callFrame.functionName === callersOf) {
    const frames: string[] = [];
    for (let id = parent.get(leaf.id); id !== undefined && frames.length < 8; id = parent.get(id)) frames.push(fnKey(byId.get(id)!));
    add(callers, frames.join(' < '), dt);
  }
  add(selfPkg, pkgKey(leaf), dt);
  if (ownersOn) add(owner, ownerOf(leaf), dt);
  const seenFn = new Set<string>();
  const seenPkg = new Set<string>();
  for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
    const n = byId.get(id)!;
    if (n.callFrame.functionName === '(root)') break;
    const f = fnKey(n);
    const k = pkgKey(n);
    if (!seenFn.has(f)) {
      seenFn.add(f);
      add(inclFn, f, dt);
    }
    if (!seenPkg.has(k)) {
      seenPkg.add(k);
      add(inclPkg, k, dt);
    }
  }
}

if (args.includes('--timeline')) {
  console.log('second  busy ms per bucket (--bucket S, default 5)');
  for (const [bucket, us] of [...timeline].sort((a, b) => a[0] - b[0])) console.log(`${String(bucket * bucketS).padStart(6)}  ${(us / 1000).toFixed(0)}`);
}
const pct = (v: number) => `${((100 * v) / busy).toFixed(1)}%`;
const table = (title: string, m: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(v).padStart(6)}  ${(v / 1000).toFixed(0).padStart(7)} ms  ${k}`);
};
console.log(`window ${(from / 1e6).toFixed(0)}–${to === Infinity ? 'end' : (to / 1e6).toFixed(0)} s: busy ${(busy / 1e6).toFixed(1)} s, idle ${(idle / 1e6).toFixed(1)} s`);
table('self by package/file', selfPkg);
if (ownersOn) table('by owner (nearest package/file on the stack that is not Node internals or native)', owner);
table('inclusive by package/file', inclPkg);
table('self by function', selfFn);
table('inclusive by function', inclFn);
if (callersOf) table(`callers of ${callersOf}`, callers);
