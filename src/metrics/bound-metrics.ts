import { format } from 'node:util';
import type { Metric, Registry } from 'prom-client';

/**
 * A histogram and a counter for the hot path whose label sets are bound once (`labels(...)`), recording into plain
 * numbers. prom-client's bound children still build a labels object, validate it and hash it into a string key on
 * every observe / inc (with the value's bucket looked up by a number-keyed property): three of them per tools/call
 * were ~1–1.5 % of the gateway's CPU (issue 17 §1). Scraped through a prom-client Registry like any of its metrics:
 * `get()` and `getForPromString()` return what prom-client's Histogram and Counter return for the same observations
 * in the same order — series in the order of their first observation, buckets cumulative at scrape time — so the
 * exposition is byte for byte the same (test/metrics/bound-metrics.test.ts compares both).
 */
interface Config<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  registers: Registry[];
}

type Labels = Record<string, string>;

/** A metric's bound children, listed in the order of their first recording (prom-client's hashMap order). */
abstract class BoundMetric<L extends string, S> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly aggregator = 'sum';
  /** Series recorded since the last reset, in the order of their first recording. */
  protected recorded: { labels: Labels; s: S }[] = [];
  /** Bumped by reset(): a child whose generation is older starts a new series on its next recording. */
  protected generation = 0;

  constructor(c: Config<L>) {
    this.name = c.name;
    this.help = c.help;
    this.labelNames = c.labelNames;
    for (const r of c.registers) r.registerMetric(this as unknown as Metric);
  }

  /** The label values, positionally, as prom-client's `labels(...values)` takes them. */
  protected labelsOf(values: string[]): Labels {
    if (values.length !== this.labelNames.length) throw new Error(`${this.name}: ${values.length} label values for ${this.labelNames.length} label names`);
    const labels: Labels = {};
    this.labelNames.forEach((n, i) => (labels[n] = values[i]!));
    return labels;
  }

  reset(): void {
    this.recorded = [];
    this.generation++;
  }
}

interface HistogramSeries {
  /** Observations per bucket (not cumulative): index i counts values v with bounds[i-1] < v <= bounds[i]. */
  counts: number[];
  sum: number;
  count: number;
}

export class BoundHistogram<L extends string> extends BoundMetric<L, HistogramSeries> {
  readonly type = 'histogram';
  readonly #bounds: readonly number[];

  constructor(c: Config<L> & { buckets: readonly number[] }) {
    super(c);
    this.#bounds = c.buckets;
  }

  labels(...values: string[]): { observe(seconds: number): void } {
    const labels = this.labelsOf(values);
    const bounds = this.#bounds;
    let series: HistogramSeries | undefined;
    let generation = -1;
    return {
      observe: (v: number) => {
        if (!Number.isFinite(v)) throw new TypeError(`Value is not a valid number: ${format(v)}`);
        if (generation !== this.generation || !series) {
          series = { counts: new Array<number>(bounds.length).fill(0), sum: 0, count: 0 };
          generation = this.generation;
          this.recorded.push({ labels, s: series });
        }
        // prom-client's order: sum, count, then the first bucket whose bound is >= v (none above the last: +Inf only).
        series.sum += v;
        series.count += 1;
        let i = 0;
        while (i < bounds.length && v > bounds[i]!) i++;
        if (i < bounds.length) series.counts[i]! += 1;
      },
    };
  }

  /** What prom-client's Histogram#getForPromString returns (the shape the Registry formats). */
  getForPromString() {
    const bucket = `${this.name}_bucket`;
    const values: { labels: Record<string, string | number>; sharedLabels: Labels; value: number; metricName: string; exemplar: null | undefined }[] = [];
    for (const { labels, s } of this.recorded) {
      let acc = 0;
      this.#bounds.forEach((le, i) => {
        acc += s.counts[i]!;
        values.push({ labels: { le }, sharedLabels: labels, value: acc, metricName: bucket, exemplar: null });
      });
      values.push({ labels: { le: '+Inf' }, sharedLabels: labels, value: s.count, metricName: bucket, exemplar: null });
      values.push({ labels: {}, sharedLabels: labels, value: s.sum, metricName: `${this.name}_sum`, exemplar: undefined });
      values.push({ labels: {}, sharedLabels: labels, value: s.count, metricName: `${this.name}_count`, exemplar: undefined });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator });
  }

  /** What prom-client's Histogram#get returns: each value's labels with the series' labels merged in. */
  async get() {
    const data = await this.getForPromString();
    return {
      ...data,
      values: data.values.map(({ sharedLabels, labels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } })),
    };
  }
}

export class BoundCounter<L extends string> extends BoundMetric<L, { value: number }> {
  readonly type = 'counter';

  labels(...values: string[]): { inc(): void } {
    const labels = this.labelsOf(values);
    let series: { value: number } | undefined;
    let generation = -1;
    return {
      inc: () => {
        if (generation !== this.generation || !series) {
          series = { value: 0 };
          generation = this.generation;
          this.recorded.push({ labels, s: series });
        }
        series.value += 1;
      },
    };
  }

  /** What prom-client's Counter#get returns: `{ value, labels }` per series. */
  get() {
    return Promise.resolve({
      help: this.help,
      name: this.name,
      type: this.type,
      values: this.recorded.map(({ labels, s }) => ({ value: s.value, labels })),
      aggregator: this.aggregator,
    });
  }
}
