import v8 from 'node:v8';

/** What `boundHeapGrowth` sets: V8 then lets the old generation grow to 1.2× its live size before the next full GC. */
export const HEAP_GROWING_PERCENT = 20;

/**
 * A serving node's old generation grows by at most 20 % of what survived the last full collection before V8
 * collects again (issue 17 §3, decision 0036). V8's own factor goes up to 4× when allocation is fast; a node touched
 * by 1,000 tenants (each first touch builds an authorization server and keys, kept in bounded caches) sat at 343 MB
 * RSS with ~75 MB live, almost all of it garbage waiting for a collection. With 20 % it stays near 260 MB, flat.
 *
 * Set from code rather than on the command line: V8 reads this flag at every collection, so it holds however the
 * node is started (`npm start`, `sso-bridge serve`, a container's `node dist/server.js`), and NODE_OPTIONS does not
 * accept it. `SSO_BRIDGE_V8_HEAP_GROWING_PERCENT` overrides it (0 = V8's own heuristic).
 */
export function boundHeapGrowth(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SSO_BRIDGE_V8_HEAP_GROWING_PERCENT;
  const percent = raw !== undefined && /^\d{1,3}$/.test(raw) ? Number(raw) : HEAP_GROWING_PERCENT;
  v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
  return percent;
}
