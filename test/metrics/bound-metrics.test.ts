import { describe, expect, it } from 'vitest';
import { Counter, Histogram, Registry } from 'prom-client';
import { BoundCounter, BoundHistogram } from '../../src/metrics/bound-metrics.js';

// The hot path's metrics (bound-metrics.ts) must expose exactly what prom-client's own Histogram and Counter expose for
// the same observations: the same scrape text, byte for byte, in both exposition formats, and the same JSON.

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A deterministic mix of values: bucket edges exactly, between, below the first, above the last, zero, tiny sums. */
function values(n: number): number[] {
  let seed = 12345;
  const r = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296;
  const out = [...BUCKETS, 0, 1e-9, 11, 30, 1e6, 0.1 + 0.2];
  while (out.length < n) out.push(r() < 0.1 ? r() * 20 : r() * r() * 0.2);
  return out;
}

function pair(contentType?: typeof Registry.PROMETHEUS_CONTENT_TYPE | typeof Registry.OPENMETRICS_CONTENT_TYPE) {
  const theirs = new Registry(contentType);
  const ours = new Registry(contentType);
  const config = (registers: Registry[]) => ({ name: 'x_seconds', help: 'Latency "quoted" \\ help\nnext line', labelNames: ['family', 'status'] as const, buckets: BUCKETS, registers });
  const counter = (registers: Registry[]) => ({ name: 'x_calls_total', help: 'Calls', labelNames: ['upstream', 'outcome'] as const, registers });
  return {
    theirs,
    ours,
    h: { theirs: new Histogram(config([theirs])), ours: new BoundHistogram(config([ours])) },
    c: { theirs: new Counter(counter([theirs])), ours: new BoundCounter(counter([ours])) },
  };
}

describe('bound metrics: the same exposition as prom-client', () => {
  for (const [format, type] of [
    ['Prometheus text', Registry.PROMETHEUS_CONTENT_TYPE],
    ['OpenMetrics', Registry.OPENMETRICS_CONTENT_TYPE],
  ] as const) {
    it(`histogram and counter, several label sets observed in interleaved order (${format})`, async () => {
      const p = pair(type);
      // Children bound up front, as metrics.ts does; some are never used (no series may appear for them).
      const label = [
        ['mcp', '2xx'],
        ['scim', '4xx'],
        ['mcp', '5xx'],
        ['odd "label" \\ value\n', '2xx'],
        ['never', 'used'],
      ] as const;
      const theirsH = label.map(([a, b]) => p.h.theirs.labels(a, b));
      const oursH = label.map(([a, b]) => p.h.ours.labels(a, b));
      const theirsC = label.map(([a, b]) => p.c.theirs.labels(a, b));
      const oursC = label.map(([a, b]) => p.c.ours.labels(a, b));
      expect(await p.ours.metrics()).toBe(await p.theirs.metrics()); // nothing observed yet
      values(2000).forEach((v, i) => {
        const k = [2, 0, 0, 1, 3, 0, 2][i % 7]!;
        theirsH[k]!.observe(v);
        oursH[k]!.observe(v);
        if (i % 3 === 0) {
          theirsC[(k + 1) % 4]!.inc();
          oursC[(k + 1) % 4]!.inc();
        }
      });
      const text = await p.ours.metrics();
      expect(text).toBe(await p.theirs.metrics());
      expect(text).toContain('x_seconds_bucket{le="0.001",family="mcp",status="5xx"}');
      expect(await p.ours.getMetricsAsJSON()).toEqual(await p.theirs.getMetricsAsJSON());
      expect(JSON.stringify(await p.ours.getMetricsAsJSON())).toBe(JSON.stringify(await p.theirs.getMetricsAsJSON()));
    });
  }

  it('after resetMetrics, series reappear only when observed again, in their new order', async () => {
    const p = pair();
    const th = [p.h.theirs.labels('a', '2xx'), p.h.theirs.labels('b', '2xx')];
    const oh = [p.h.ours.labels('a', '2xx'), p.h.ours.labels('b', '2xx')];
    const tc = [p.c.theirs.labels('a', 'success'), p.c.theirs.labels('b', 'success')];
    const oc = [p.c.ours.labels('a', 'success'), p.c.ours.labels('b', 'success')];
    for (const [k, v] of [[0, 0.003], [1, 0.2], [0, 7]] as const) {
      th[k]!.observe(v);
      oh[k]!.observe(v);
      tc[k]!.inc();
      oc[k]!.inc();
    }
    p.theirs.resetMetrics();
    p.ours.resetMetrics();
    expect(await p.ours.metrics()).toBe(await p.theirs.metrics());
    for (const [k, v] of [[1, 0.004], [0, 0.5]] as const) {
      th[k]!.observe(v);
      oh[k]!.observe(v);
      tc[k]!.inc();
      oc[k]!.inc();
    }
    const text = await p.ours.metrics();
    expect(text).toBe(await p.theirs.metrics());
    expect(text.indexOf('family="b"')).toBeLessThan(text.indexOf('family="a"'));
  });

  it('refuses what prom-client refuses: a value that is not a finite number, the wrong number of label values', () => {
    const p = pair();
    const theirs = p.h.theirs.labels('a', '2xx');
    const ours = p.h.ours.labels('a', '2xx');
    for (const bad of [NaN, Infinity, -Infinity]) {
      expect(() => theirs.observe(bad)).toThrow(TypeError);
      expect(() => ours.observe(bad)).toThrow(`Value is not a valid number: ${bad}`);
    }
    expect(() => p.h.theirs.labels('a')).toThrow();
    expect(() => p.h.ours.labels('a')).toThrow();
    expect(() => p.c.ours.labels('a', 'b', 'c')).toThrow();
  });
});
