// The timed client of the cold-path benchmark (bench/cold.ts) in a process of its own: one raw JSON-RPC `tools/list`
// POST per command, its latency measured here, from the send to the answer's last byte. The parent holds the services
// it seeds with and publishes the bus events; in the same process its major collections landed in the samples (the
// largest outliers of the warm and control rows: docs/benchmarks.md, "where the tail of a single request after idle
// goes"). Requests go out as post-json.ts says (BENCH_CLIENT).
import { PerformanceObserver } from 'node:perf_hooks';
import { serveIpc } from '../ipc.js';
import { benchClient, postJson } from './post-json.js';

export type ColdCommand = { op: 'list'; url: string; token: string; expect: string } | { op: 'gc' };

const client = benchClient();
const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
/** This process's GC pauses (ms), reported on `gc` and reset. */
let pauses: number[] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) pauses.push(e.duration);
}).observe({ entryTypes: ['gc'] });

serveIpc(async (c: ColdCommand) => {
  if (c.op === 'gc') {
    const report = pauses;
    pauses = [];
    return report;
  }
  const t0 = performance.now();
  const { status, text } = await postJson(client, c.url, { authorization: `Bearer ${c.token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body);
  const ms = performance.now() - t0;
  if (status !== 200 || !text.includes(c.expect)) throw new Error(`tools/list: ${status} ${text.slice(0, 200)}`);
  return ms;
});
